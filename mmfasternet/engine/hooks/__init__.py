from .checkpoint_hook import SafeCheckpointHook
from .deploy_hook import DeployHook
from .rng_state_hook import RNGStateHook

__all__ = ['DeployHook', 'RNGStateHook', 'SafeCheckpointHook']
