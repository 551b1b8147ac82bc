from .batchnorm_check_hook import BatchNormCheckHook
from .channel_check_hook import ChannelCheckHook
from .checkpoint_coverage_hook import CheckpointCoverageHook
from .checkpoint_hook import SafeCheckpointHook
from .damaged_sample_hook import DamagedSampleHook
from .deploy_hook import DeployHook
from .rng_state_hook import RNGStateHook

__all__ = [
    'BatchNormCheckHook', 'ChannelCheckHook', 'CheckpointCoverageHook',
    'DamagedSampleHook', 'DeployHook', 'RNGStateHook', 'SafeCheckpointHook'
]
