"""Where the tensors of :class:`FasterNetClsHead` are in each checkpoint
layout: the head's key map.

The original ImageNet release (and timm's, once renamed by
:func:`~mmfasternet.models.utils.state_dict_layouts.timm_to_original`) keeps
the head at the model's root: ``avgpool_pre_head.1.weight`` (the 1x1 conv
8E -> 1280) and ``head.weight`` / ``head.bias`` (the linear classifier).
``FasterNetClsHead`` keeps ``avgpool_pre_head`` and names the linear layer
``fc``, as mmpretrain's ``LinearClsHead`` does; in mmpretrain's
``ImageClassifier`` the head sits under ``head.``.

This module imports neither mmpretrain nor the rest of mmfasternet, so that
the backbone's checkpoint filter and ``inspect_checkpoint`` can read it
without importing the head class.
"""
from collections import OrderedDict
from typing import Dict, Optional

import torch

__all__ = [
    'CLASSIFIER_HEAD_PREFIX', 'HEAD_KEY_MAP', 'classifier_head_to_original',
    'original_to_classifier_key'
]

# The attribute name of the head in mmpretrain's ImageClassifier.
CLASSIFIER_HEAD_PREFIX = 'head.'
# (name in the original release, name inside FasterNetClsHead), by prefix.
HEAD_KEY_MAP = (('avgpool_pre_head.', 'avgpool_pre_head.'), ('head.', 'fc.'))


def original_to_classifier_key(
        key: str, prefix: str = CLASSIFIER_HEAD_PREFIX) -> Optional[str]:
    """The name in an ImageClassifier (head under ``prefix``) of an
    original-layout head key, e.g. ``'head.weight'`` -> ``'head.fc.weight'``;
    None for a key that is not the head's."""
    for original, ours in HEAD_KEY_MAP:
        if key.startswith(original):
            return prefix + ours + key[len(original):]
    return None


def classifier_head_to_original(
        state_dict: Dict[str, torch.Tensor],
        prefix: str = CLASSIFIER_HEAD_PREFIX) -> Dict[str, torch.Tensor]:
    """The FasterNetClsHead tensors of an ImageClassifier state dict
    (``head.avgpool_pre_head.*``, ``head.fc.*``) under the original names
    (``avgpool_pre_head.*``, ``head.*``); empty if it has none."""
    head = OrderedDict()
    for key, value in state_dict.items():
        for original, ours in HEAD_KEY_MAP:
            if key.startswith(prefix + ours):
                head[original + key[len(prefix + ours):]] = value
                break
    return head
