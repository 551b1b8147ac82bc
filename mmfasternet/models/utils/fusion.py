"""Folding BatchNorm into the convolution in front of it."""
from typing import Tuple

import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm


def fuse_conv_bn(conv: nn.Conv2d,
                 norm: _BatchNorm) -> Tuple[torch.Tensor, torch.Tensor]:
    """Weight and bias of one conv equal to ``norm(conv(x))`` in eval mode."""
    if not isinstance(norm, _BatchNorm):
        raise TypeError(f'can only fold BatchNorm, got {type(norm).__name__}'
                        f' (e.g. GroupNorm/LayerNorm depend on the input).')
    scale = norm.weight / torch.sqrt(norm.running_var + norm.eps)
    weight = conv.weight * scale.view(-1, 1, 1, 1)
    bias = norm.bias - norm.running_mean * scale
    if conv.bias is not None:
        bias = bias + conv.bias * scale
    return weight.detach(), bias.detach()


def conv_with_folded_bn(conv: nn.Conv2d, norm: _BatchNorm) -> nn.Conv2d:
    """A new conv (with bias) equal to ``norm(conv(x))`` in eval mode."""
    weight, bias = fuse_conv_bn(conv, norm)
    fused = nn.Conv2d(
        conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
        conv.padding, conv.dilation, conv.groups, bias=True,
        padding_mode=conv.padding_mode).to(weight.device, weight.dtype)
    fused.weight.data.copy_(weight)
    fused.bias.data.copy_(bias)
    return fused
