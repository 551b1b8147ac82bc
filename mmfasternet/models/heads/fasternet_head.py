"""The FasterNet ImageNet classification head, for mmpretrain's
``ImageClassifier``. Importing this module imports mmpretrain and registers
the head in mmengine's root ``MODELS`` (the classification configs import it
through ``custom_imports``; ``import mmfasternet`` does not)."""
from typing import Optional, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import build_activation_layer
from mmengine.registry import MODELS
from mmpretrain.models.heads import ClsHead
from mmpretrain.registry import MODELS as MMPRETRAIN_MODELS

__all__ = ['FasterNetClsHead']


@MODELS.register_module()
class FasterNetClsHead(ClsHead):
    """FasterNet's classification head: global average pooling, a 1x1 conv
    without bias to ``feature_dim`` channels with an activation, then a
    linear classifier.

    The pooling-conv-activation block keeps the original's name
    (``avgpool_pre_head``); the linear layer is ``fc`` as in mmpretrain's
    ``LinearClsHead``. Original and timm checkpoints are renamed to these
    names on loading by the backbone's ``_checkpoint_filter``, with the key
    map of :mod:`mmfasternet.models.heads.fasternet_head_keys`.

    Args:
        num_classes (int): Number of classes.
        in_channels (int): Channels of the last backbone stage (8E).
        feature_dim (int): Width of the 1x1 conv. Defaults to 1280.
        act_cfg (dict): Activation after the 1x1 conv; the backbone's
            (GELU for T0/T1, ReLU otherwise). Defaults to ReLU.
        loss (dict | nn.Module): Classification loss, built from
            mmpretrain's registry whichever library's scope is active (unless
            the dict names another ``_scope_``). Defaults to cross entropy.
        topk (int | tuple[int]): Top-k accuracy. Defaults to ``(1, )``.
        cal_acc (bool): Report training accuracy (pointless with mixup /
            cutmix). Defaults to False.
        init_cfg (dict, optional): Defaults to the original's init,
            truncated normal (std 0.02) weights and zero biases.

    Shape:
        ``feats[-1]``: (N, in_channels, H, W) -> (N, num_classes)
    """

    def __init__(self,
                 num_classes: int,
                 in_channels: int,
                 feature_dim: int = 1280,
                 act_cfg: dict = dict(type='ReLU', inplace=True),
                 loss: dict = dict(type='CrossEntropyLoss', loss_weight=1.0),
                 topk: Union[int, Tuple[int]] = (1, ),
                 cal_acc: bool = False,
                 init_cfg: Optional[dict] = dict(
                     type='TruncNormal', layer=['Conv2d', 'Linear'],
                     std=.02, bias=0.)):
        if not isinstance(loss, nn.Module):
            # A detection or segmentation scope would otherwise resolve the
            # name in its own registry (mmdet's CrossEntropyLoss takes other
            # arguments) or not at all (LabelSmoothLoss).
            loss = MMPRETRAIN_MODELS.build(dict(dict(_scope_='mmpretrain'),
                                                **loss))
        super().__init__(loss=loss, topk=topk, cal_acc=cal_acc,
                         init_cfg=init_cfg)
        if num_classes <= 0:
            raise ValueError(f'FasterNetClsHead: num_classes must be '
                             f'positive, got {num_classes}.')
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feature_dim = feature_dim
        self.avgpool_pre_head = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, feature_dim, 1, bias=False),
            build_activation_layer(act_cfg))
        self.fc = nn.Linear(feature_dim, num_classes)

    def pre_logits(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """(N, in_channels, H, W) last stage -> (N, feature_dim)."""
        return torch.flatten(self.avgpool_pre_head(feats[-1]), 1)

    def forward(self, feats: Tuple[torch.Tensor]) -> torch.Tensor:
        """Class scores (logits), (N, num_classes)."""
        return self.fc(self.pre_logits(feats))
