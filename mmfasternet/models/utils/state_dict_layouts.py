"""The names FasterNet tensors have in each checkpoint layout, and the maps
between them.

Layouts:

- ``original``: the original ImageNet release, a flat state dict whose
  names mmfasternet keeps (``stages.{0..6}`` interleaving stages and
  mergings, ``avgpool_pre_head.1``, ``head``).
- ``timm``: timm >= 1.0.16 ``fasternet_*`` (``stages.{0..3}`` with the
  merging as ``downsample``, ``conv_head``, ``classifier``; ``stages_{i}``
  in ``features_only`` models).
- a whole detector, segmentor or classifier: one of the above under
  ``backbone.`` (the original mmdet 2.x COCO release, mmfasternet and
  mmpretrain runs).

The classification head's own names in mmpretrain's ``ImageClassifier``
are the head's business: :mod:`mmfasternet.models.heads.fasternet_head_keys`.
"""
import re
from collections import OrderedDict
from typing import Dict, Optional, Tuple

import torch

__all__ = [
    'HEAD_KEY_PATTERN', 'OUT_NORM_PATTERN', 'is_timm_layout',
    'select_prefix', 'timm_to_original', 'to_original_layout'
]

# Keys of the classification head in the original layout: present in
# ImageNet checkpoints, absent from the backbone.
HEAD_KEY_PATTERN = re.compile(r'^(avgpool_pre_head|head)\.')
# The output norms of dense prediction (new in mmfasternet and the original
# mmdet 2.x release, absent from ImageNet checkpoints).
OUT_NORM_PATTERN = re.compile(r'^norm[0246]\.')
_TIMM_STAGE = re.compile(r'^stages[._](\d+)\.(downsample\.)?(.*)$')
_TIMM_ONLY = re.compile(r'^(stages[._]\d+\.downsample\.|stages_\d+\.|'
                        r'conv_head\.|classifier\.)')


def select_prefix(state_dict: Dict[str, torch.Tensor],
                  prefix: Optional[str]) -> Dict[str, torch.Tensor]:
    """Keys under ``prefix`` with it removed; with ``prefix=None`` the
    ``backbone.`` part of a whole-model checkpoint, else everything."""
    if prefix is None:
        if any(key.startswith('backbone.') for key in state_dict):
            prefix = 'backbone.'
        else:
            return state_dict
    if not prefix.endswith('.'):
        prefix += '.'
    return OrderedDict((key[len(prefix):], value)
                       for key, value in state_dict.items()
                       if key.startswith(prefix))


def is_timm_layout(state_dict: Dict[str, torch.Tensor]) -> bool:
    """Whether ``state_dict`` has a name only timm's FasterNet uses."""
    return any(_TIMM_ONLY.match(key) for key in state_dict)


def timm_to_original(
        state_dict: Dict[str, torch.Tensor]) -> Dict[str, torch.Tensor]:
    """Rename timm ``fasternet_*`` keys to the original (and mmfasternet)
    names: timm stage ``i`` holds the original's merging ``2i-1`` as
    ``downsample`` and the original's stage ``2i`` as ``blocks``."""
    renamed = OrderedDict()
    for key, value in state_dict.items():
        stage = _TIMM_STAGE.match(key)
        if stage:
            index, is_merging, rest = stage.groups()
            index = int(index)
            new_index = 2 * index - 1 if is_merging else 2 * index
            key = f'stages.{new_index}.{rest}'
        elif key.startswith('conv_head.'):
            key = 'avgpool_pre_head.1.' + key[len('conv_head.'):]
        elif key.startswith('classifier.'):
            key = 'head.' + key[len('classifier.'):]
        renamed[key] = value
    return renamed


def to_original_layout(
        state_dict: Dict[str, torch.Tensor]) -> Tuple[Dict, str]:
    """Bring a FasterNet state dict of any known layout to the original
    names; returns it and the name of the layout it came in
    (``'original'`` or ``'timm'``)."""
    if is_timm_layout(state_dict):
        return timm_to_original(state_dict), 'timm'
    return state_dict, 'original'
