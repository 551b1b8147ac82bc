from .checkpoint_coverage_hook import CheckpointCoverageHook
from .checkpoint_hook import SafeCheckpointHook
from .deploy_hook import DeployHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'CheckpointCoverageHook', 'DeployHook', 'RNGStateHook',
    'SafeCheckpointHook'
]
