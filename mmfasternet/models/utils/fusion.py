"""Folding a BatchNorm into the convolution in front of it."""
import torch.nn as nn
from mmcv.cnn import fuse_conv_bn
from torch.nn.modules.batchnorm import _BatchNorm

__all__ = ['conv_with_folded_bn']


def conv_with_folded_bn(conv: nn.Conv2d, norm: nn.Module) -> nn.Conv2d:
    """``conv`` changed in place so that it alone computes the eval-mode
    ``norm(conv(x))``: weight scaled by ``gamma / sqrt(running_var + eps)``,
    bias (created if absent) ``beta + (bias - running_mean) * scale``.
    The arithmetic is mmcv's (``mmcv.cnn.fuse_conv_bn`` on the pair); the
    running statistics are used whatever mode ``norm`` is in.

    Raises:
        TypeError: ``norm`` is not a BatchNorm (GroupNorm and LayerNorm
            depend on the input and cannot be folded; mmcv would leave them
            in place silently).
    """
    if not isinstance(norm, _BatchNorm):
        raise TypeError(f'can only fold BatchNorm, got {type(norm).__name__}'
                        f' (e.g. GroupNorm/LayerNorm depend on the input).')
    return fuse_conv_bn(nn.Sequential(conv, norm))[0]
