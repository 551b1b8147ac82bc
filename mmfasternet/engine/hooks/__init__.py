from .damaged_sample_hook import DamagedSampleHook
from .deploy_hook import DeployHook

__all__ = ['DamagedSampleHook', 'DeployHook']
