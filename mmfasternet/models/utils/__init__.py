"""What the FasterNet backbone and head are built from: the arch table,
checkpoint layouts, reading and diagnosis, and the PConv + MLP forms."""
from .arch_settings import ARCH_SETTINGS
from .checkpoint_diagnosis import CheckpointMismatchError
from .checkpoint_loading import (
                                 CheckpointInfo,
                                 inspect_checkpoint,
                                 load_pretrained_backbone,
                                 load_whole_model,
                                 read_checkpoint,
                                 require_whole_model,
                                 unwrap_state_dict,
)
from .state_dict_layouts import to_original_layout
from .weights import WeightsNotAvailableError, local_weights

__all__ = [
    'ARCH_SETTINGS', 'CheckpointInfo', 'CheckpointMismatchError',
    'inspect_checkpoint', 'load_pretrained_backbone', 'load_whole_model',
    'read_checkpoint', 'require_whole_model', 'to_original_layout',
    'unwrap_state_dict', 'WeightsNotAvailableError', 'local_weights'
]
