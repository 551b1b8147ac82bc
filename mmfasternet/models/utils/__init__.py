from .checkpoint import (CheckpointInfo, CheckpointMismatchError,
                         inspect_checkpoint, load_pretrained_backbone,
                         read_checkpoint, to_original_layout,
                         unwrap_state_dict)

__all__ = [
    'CheckpointInfo', 'CheckpointMismatchError', 'inspect_checkpoint',
    'load_pretrained_backbone', 'read_checkpoint', 'to_original_layout',
    'unwrap_state_dict'
]
