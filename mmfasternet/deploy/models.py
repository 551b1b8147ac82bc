"""FasterNet backbones and ImageNet classifiers built from an arch or a
checkpoint, ready to export (deploy form, eval mode)."""
from typing import Dict, Optional, Sequence, Union

import torch
import torch.nn as nn

from ..models import FasterNet
from ..models.utils import (
    CheckpointInfo,
    inspect_checkpoint,
    read_checkpoint,
    unwrap_state_dict,
)
from . import switch_to_deploy

# The ImageNet head of the original release, under its names.
HEAD_KEYS = ('avgpool_pre_head.1.weight', 'head.weight', 'head.bias')


def _classification_head(info: CheckpointInfo,
                         source: str) -> Dict[str, torch.Tensor]:
    missing = [key for key in HEAD_KEYS if key not in info.state_dict]
    if missing:
        raise ValueError(
            f'{source!r} holds no FasterNet classification head '
            f'(missing {missing}); export --what backbone instead.')
    return {key: info.state_dict[key] for key in HEAD_KEYS}


def build_classifier(backbone: FasterNet,
                     state_dict: Optional[Dict[str, torch.Tensor]] = None,
                     head: Optional[Dict[str, torch.Tensor]] = None
                     ) -> nn.Module:
    """mmpretrain's ``ImageClassifier`` with FasterNet's head (global pool,
    1x1 conv to the head's feature size + the backbone's activation,
    linear) around ``backbone`` (built with ``out_indices=(3,)``,
    ``out_norm=False``); its forward takes (N, 3, H, W) images and gives
    (N, num_classes) logits.

    Args:
        backbone: the FasterNet to wrap.
        state_dict: a checkpoint's tensors in any classifier layout
            (original, timm or mmpretrain; the backbone's checkpoint filter
            renames them), loaded strictly. None: the original's random
            init of the head.
        head: the head tensors under the original names
            (:data:`HEAD_KEYS`), which give the number of classes and the
            feature size (default 1000 and 1280).

    Raises:
        RuntimeError, CheckpointMismatchError: when ``state_dict`` does
            not fit.
    """
    from mmengine.registry import MODELS, DefaultScope
    from mmpretrain.models import ImageClassifier

    # registers FasterNetClsHead in mmpretrain's registry (``import
    # mmfasternet`` does not import mmpretrain)
    from ..models.heads import fasternet_head  # noqa: F401
    num_classes, feature_dim = (head['head.weight'].shape
                                if head is not None else (1000, 1280))
    act_cfg = dict(backbone.arch.get('act_cfg', dict(type='ReLU')))
    # The classifier builds its data preprocessor and loss from mmpretrain's
    # registry, whichever library's scope the caller left active.
    with DefaultScope.overwrite_default_scope('mmpretrain'):
        model = ImageClassifier(
            backbone=backbone,
            head=MODELS.build(
                dict(type='FasterNetClsHead', num_classes=num_classes,
                     in_channels=backbone.channels[-1],
                     feature_dim=feature_dim, act_cfg=act_cfg)))
    if state_dict is not None:
        model.load_state_dict(state_dict, strict=True)
    else:
        nn.init.trunc_normal_(model.head.avgpool_pre_head[1].weight,
                              std=.02)
        nn.init.trunc_normal_(model.head.fc.weight, std=.02)
        nn.init.zeros_(model.head.fc.bias)
    return model


def build_model(arch: Union[str, dict, None] = None,
                what: str = 'backbone', checkpoint: Optional[str] = None,
                out_indices: Sequence[int] = (0, 1, 2, 3),
                out_norm: bool = True, deploy: bool = True,
                seed: int = 0) -> nn.Module:
    """A FasterNet backbone or ImageNet classifier in eval mode, in its
    deploy form unless ``deploy=False``.

    Args:
        arch: ``t0`` ... ``l`` or a dict (see :class:`FasterNet`); None:
            the variant of ``checkpoint`` (:func:`inspect_checkpoint`).
        what: ``'backbone'`` (returns the stages ``out_indices``, with
            output norms if ``out_norm``) or ``'classifier'`` (see
            :func:`build_classifier`; last stage, no output norm).
        checkpoint: weights in any layout the loader reads; a classifier
            needs one with the ImageNet head. None: random weights with the
            original's init, drawn after ``torch.manual_seed(seed)``.

    Raises:
        ValueError: for another ``what``, no arch and no checkpoint, a
            checkpoint without FasterNet weights, or a classifier from a
            checkpoint without a head.
        FileNotFoundError, CheckpointMismatchError: for a checkpoint that
            is missing, unreadable or of another variant than ``arch``.
    """
    if what not in ('backbone', 'classifier'):
        raise ValueError(f'what must be "backbone" or "classifier", '
                         f'got {what!r}.')
    raw = info = None
    if checkpoint and (arch is None or what == 'classifier'):
        raw = read_checkpoint(checkpoint)
        info = inspect_checkpoint(raw)
    if arch is None:
        if checkpoint is None:
            raise ValueError('give an arch, or a checkpoint to infer it from.')
        if info.arch is None:
            raise ValueError(f'{checkpoint!r} holds no FasterNet weights.')
        arch = info.arch['name'] if info.arch['name'] != 'custom' else dict(
            embed_dims=info.arch['embed_dims'], depths=info.arch['depths'])
    if what == 'classifier':
        out_indices, out_norm = (3, ), False
    torch.manual_seed(seed)
    init_cfg = (dict(type='Pretrained', checkpoint=checkpoint)
                if checkpoint and what == 'backbone' else None)
    model = FasterNet(
        arch=arch, out_indices=out_indices, out_norm=out_norm,
        init_cfg=init_cfg)
    if init_cfg:
        model.init_weights()
    else:  # the original's init, without mmengine's per-tensor log
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.trunc_normal_(module.weight, std=.02)
    if what == 'classifier':
        head = _classification_head(info, checkpoint) if checkpoint else None
        model = build_classifier(
            model, unwrap_state_dict(raw) if raw is not None else None, head)
    model.eval()
    return switch_to_deploy(model) if deploy else model
