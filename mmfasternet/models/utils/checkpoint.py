"""The names this module held before it was split by job, for code that
imports them from here (tools/ did). New code imports from the modules
that define them:

- :mod:`.state_dict_layouts`: the layouts and the maps between them;
- :mod:`.checkpoint_loading`: reading files, loading weights;
- :mod:`.checkpoint_diagnosis`: variant, options, descriptions, errors;
- :mod:`mmfasternet.models.heads.fasternet_head_keys`: the head's names.
"""
from ..heads.fasternet_head_keys import classifier_head_to_original
from .checkpoint_diagnosis import (
                                   CheckpointMismatchError,
                                   check_backbone_state,
                                   checkpoint_settings,
                                   describe_checkpoint,
                                   describe_variant,
                                   infer_arch,
)
from .checkpoint_loading import (
                                   CheckpointInfo,
                                   adapt_classifier_state_dict,
                                   inspect_checkpoint,
                                   load_pretrained_backbone,
                                   read_checkpoint,
                                   unwrap_state_dict,
)
from .state_dict_layouts import (
                                   HEAD_KEY_PATTERN,
                                   OUT_NORM_PATTERN,
                                   is_timm_layout,
                                   select_prefix,
                                   timm_to_original,
                                   to_original_layout,
)

__all__ = [
    'CheckpointInfo', 'CheckpointMismatchError', 'HEAD_KEY_PATTERN',
    'OUT_NORM_PATTERN', 'adapt_classifier_state_dict', 'check_backbone_state',
    'checkpoint_settings', 'classifier_head_to_original',
    'describe_checkpoint', 'describe_variant', 'infer_arch',
    'inspect_checkpoint', 'is_timm_layout', 'load_pretrained_backbone',
    'read_checkpoint', 'select_prefix', 'timm_to_original',
    'to_original_layout', 'unwrap_state_dict'
]
