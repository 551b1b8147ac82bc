"""Heads for FasterNet.

:class:`FasterNetClsHead` subclasses mmpretrain's ``ClsHead``, so it is
imported (and registered) only by importing
``mmfasternet.models.heads.fasternet_head``, which the classification
configs do through ``custom_imports``: ``import mmfasternet`` (detection
and segmentation users) does not import mmpretrain. Its key map,
:mod:`.fasternet_head_keys`, imports neither.
"""
from .fasternet_head_keys import (
    CLASSIFIER_HEAD_PREFIX,
    HEAD_KEY_MAP,
    classifier_head_to_original,
    original_to_classifier_key,
)

__all__ = [
    'CLASSIFIER_HEAD_PREFIX', 'FasterNetClsHead', 'HEAD_KEY_MAP',
    'classifier_head_to_original', 'original_to_classifier_key'
]


def __getattr__(name: str):
    # ``from mmfasternet.models.heads import FasterNetClsHead`` imports the
    # class (and mmpretrain) when it is asked for, not with the package.
    if name == 'FasterNetClsHead':
        from .fasternet_head import FasterNetClsHead
        return FasterNetClsHead
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
