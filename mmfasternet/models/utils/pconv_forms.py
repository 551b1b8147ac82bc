"""How a FasterNet block computes PConv + MLP + residual without building
PConv's concatenated output: the trainable ``split_mlp`` form's first 1x1
conv, and the two forms of the inference (deploy) block.

Deploy forms (``deploy_fw_type`` of :class:`FasterNet`):

- ``'gemm'``: GEMMs over channel views of the input. The first 1x1 conv is
  two matrix products, one over the untouched channels of ``x`` read in
  place and one over the 3x3 conv's output, summed into one buffer with the
  bias; the second 1x1 conv adds the residual inside its GEMM. No
  concatenated copy, the input is only read. The form for eager PyTorch.
- ``'conv'``: PConv's output concatenated, then the two 1x1 convs (the
  paper's inference graph with BN folded). What ONNX exporters and
  ``torch.compile`` handle best: batched GEMMs with broadcast weights
  export as Expand/Where/Shape chains, inductor fuses and prepacks convs
  better than these GEMMs, and onnxruntime runs one 1x1 conv over the
  concatenation faster than two over channel slices summed
  (docs/benchmarks.md).
- ``'auto'`` (default): ``'conv'`` while ``torch.onnx`` exports or
  ``torch.compile`` traces the model, ``'gemm'`` otherwise.

A channel matrix is a (N, C, H, W) map seen without a copy as matrices over
its channels: one (N*H*W, C) matrix for a channels_last map, N (C, H*W)
matrices otherwise.
"""
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

__all__ = [
    'DEPLOY_FW_TYPES', 'deploy_forward_conv', 'deploy_forward_gemm',
    'pconv_mlp_input', 'resolve_deploy_fw_type'
]

DEPLOY_FW_TYPES = ('auto', 'gemm', 'conv')

# (N, H, W) of the map and whether its matrix is the channels_last one.
_Layout = Tuple[Tuple[int, int, int], bool]


def resolve_deploy_fw_type(deploy_fw_type: str) -> str:
    """The form that runs now: ``'gemm'`` or ``'conv'`` as given, and for
    ``'auto'`` ``'conv'`` while ONNX export or ``torch.compile`` traces,
    else ``'gemm'``."""
    if deploy_fw_type != 'auto':
        return deploy_fw_type
    if torch.onnx.is_in_onnx_export() or torch.compiler.is_compiling():
        return 'conv'
    return 'gemm'


def _channel_matrix(x: torch.Tensor) -> Tuple[torch.Tensor, _Layout]:
    n, c, height, width = x.shape
    channels_last = (x.is_contiguous(memory_format=torch.channels_last)
                     and not x.is_contiguous())
    matrix = (x.permute(0, 2, 3, 1).reshape(n * height * width, c)
              if channels_last else x.reshape(n, c, height * width))
    return matrix, ((n, height, width), channels_last)


def _image(matrix: torch.Tensor, layout: _Layout) -> torch.Tensor:
    (n, height, width), channels_last = layout
    if channels_last:
        return matrix.view(n, height, width, -1).permute(0, 3, 1, 2)
    return matrix.view(n, -1, height, width)


def _linear(weight: torch.Tensor, inputs: torch.Tensor, channels_last: bool,
            add: Optional[torch.Tensor] = None) -> torch.Tensor:
    """``weight`` (out, in) applied to the channel matrix ``inputs``, plus
    ``add`` (a channel matrix, or the bias broadcast over it), as one new
    matrix."""
    if channels_last:
        if add is None:
            return torch.mm(inputs, weight.t())
        return torch.addmm(add, inputs, weight.t())
    weight = weight.expand(inputs.shape[0], -1, -1)
    if add is None:
        return torch.bmm(weight, inputs)
    return torch.baddbmm(add, weight, inputs)


def _mlp_input_matrix(x: torch.Tensor, partial_conv3: nn.Conv2d,
                      weight: torch.Tensor,
                      bias: Optional[torch.Tensor]) -> Tuple[torch.Tensor,
                                                             _Layout]:
    """``W[:, k:] @ x[k:] (+ bias) + W[:, :k] @ conv3(x[:k])`` as a channel
    matrix in ``x``'s layout, with ``k = partial_conv3.out_channels``."""
    k = partial_conv3.out_channels
    inputs, layout = _channel_matrix(x)
    channels_last = layout[1]
    # Autocast does not cover the in-place product: each weight takes the
    # dtype of the matrix it multiplies.
    if bias is not None:
        bias = bias.to(inputs.dtype)
        if not channels_last:
            bias = bias.view(1, -1, 1)
    hidden = _linear(weight[:, k:].to(inputs.dtype), inputs[:, k:],
                     channels_last, add=bias)
    convolved, conv_layout = _channel_matrix(partial_conv3(x[:, :k]))
    if conv_layout[1] != channels_last:
        convolved = _channel_matrix(
            _image(convolved, conv_layout).contiguous(
                memory_format=torch.channels_last
                if channels_last else torch.contiguous_format))[0]
    conv_weight = weight[:, :k].to(convolved.dtype)
    # In place into ``hidden``, which this function made: one buffer.
    if channels_last:
        hidden.addmm_(convolved, conv_weight.t())
    else:
        hidden.baddbmm_(conv_weight.expand(convolved.shape[0], -1, -1),
                        convolved)
    return hidden, layout


def pconv_mlp_input(x: torch.Tensor, partial_conv3: nn.Conv2d,
                    weight: torch.Tensor) -> torch.Tensor:
    """The block MLP's first 1x1 conv (``weight``, (hidden, C)) applied to
    PConv's output without building it (the ``split_mlp`` form).

    Shape:
        x: (N, C, H, W) -> (N, hidden, H, W), in ``x``'s memory format.
    """
    hidden, layout = _mlp_input_matrix(x, partial_conv3, weight, None)
    return _image(hidden, layout)


def deploy_forward_gemm(x: torch.Tensor, partial_conv3: nn.Conv2d,
                        in_weight: torch.Tensor, in_bias: torch.Tensor,
                        act: Callable,
                        out_weight: torch.Tensor) -> torch.Tensor:
    """The deploy block, form ``'gemm'``: ``x + W_out @ act(W_in @
    PConv(x) + b_in)`` as GEMMs over channel views of ``x``.

    Args:
        x: (N, C, H, W) block input, only read.
        partial_conv3: PConv's 3x3 conv on the first k channels.
        in_weight, in_bias: (hidden, C) and (hidden, ): the first 1x1 conv
            with the BN folded in.
        act: the activation.
        out_weight: (C, hidden): the second 1x1 conv, layer scale folded in.

    Returns:
        (N, C, H, W) in ``x``'s memory format.
    """
    hidden, layout = _mlp_input_matrix(x, partial_conv3, in_weight, in_bias)
    hidden = act(hidden)
    residual = _channel_matrix(x)[0]
    out = _linear(out_weight.to(hidden.dtype), hidden, layout[1],
                  add=residual)
    return _image(out, layout)


def deploy_forward_conv(x: torch.Tensor, partial_conv3: nn.Conv2d,
                        in_weight: torch.Tensor, in_bias: torch.Tensor,
                        act: Callable,
                        out_weight: torch.Tensor) -> torch.Tensor:
    """The deploy block, form ``'conv'``: the same function as
    :func:`deploy_forward_gemm` (same arguments and shapes) as PConv's
    output concatenated and two 1x1 convs, BN folded."""
    k = partial_conv3.out_channels
    pconv = torch.cat([partial_conv3(x[:, :k]), x[:, k:]], dim=1)
    hidden = F.conv2d(pconv, in_weight[:, :, None, None], in_bias)
    return x + F.conv2d(act(hidden), out_weight[:, :, None, None])
