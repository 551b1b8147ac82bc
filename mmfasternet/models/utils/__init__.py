from .checkpoint import (CheckpointMismatchError, load_pretrained_backbone,
                         read_checkpoint, to_original_layout,
                         unwrap_state_dict)

__all__ = [
    'CheckpointMismatchError', 'load_pretrained_backbone', 'read_checkpoint',
    'to_original_layout', 'unwrap_state_dict'
]
