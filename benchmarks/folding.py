"""The FasterNet paper's speed protocol for any model: every BatchNorm
folded into the convolution whose output it reads."""
import torch
import torch.nn as nn
from torch.nn.modules.batchnorm import _BatchNorm

from mmfasternet.models.utils.fusion import conv_with_folded_bn

__all__ = ['fold_batchnorms']


def fold_batchnorms(model: nn.Module, *example_inputs) -> nn.Module:
    """Fold every BatchNorm whose input is the output of a Conv2d into that
    conv, in place, for any model (the FasterNet paper's speed protocol:
    "BN fused into the preceding conv"). Which BN follows which conv is
    found by running ``model(*example_inputs)`` once with hooks, so it also
    works for models torch.fx cannot trace. Returns the model in eval mode.

    ``mmcv.cnn.fuse_conv_bn(model)`` pairs a BN with the Conv2d registered
    just before it among the same parent's children, not with the conv
    whose output it reads. That gives the same model for FasterNet, mmdet's
    ResNet-50 and timm's resnet50 (checked: identical outputs), but folds a
    BN into the wrong conv when registration order is not data flow (e.g.
    mmcv's ConvModule with ``order=('norm', 'conv', 'act')`` folds the norm
    into the conv after it) and leaves a BN unfolded when its conv belongs
    to another parent (timm's resnet50d deep stem). So the pairs are found
    here; the arithmetic of each fold is mmcv's
    (:func:`~mmfasternet.models.utils.fusion.conv_with_folded_bn`).

    A folded BN is replaced by what it does after normalising: nothing for
    torch's BatchNorm layers, the dropout and activation for timm's
    ``BatchNormAct2d`` (efficientnet, mobilenetv3, regnet, ...). A BN
    subclass with any other forward of its own is left unfolded.
    """
    model.eval()
    conv_outputs = {}  # id -> (tensor kept alive so ids stay unique, conv)
    pairs = []

    def after_conv(module, inputs, output):
        conv_outputs[id(output)] = (output, module)

    def after_norm(module, inputs, output):
        found = conv_outputs.get(id(inputs[0]))
        remainder = _remainder_of(module)
        if found is not None and remainder is not None:
            pairs.append((found[1], module, remainder))

    hooks = [
        module.register_forward_hook(
            after_conv if isinstance(module, nn.Conv2d) else after_norm)
        for module in model.modules()
        if isinstance(module, (nn.Conv2d, _BatchNorm))
    ]
    try:
        with torch.no_grad():
            model(*example_inputs)
    finally:
        for hook in hooks:
            hook.remove()
        conv_outputs.clear()

    parents = {
        child: (parent, name)
        for parent in model.modules()
        for name, child in parent.named_children()
    }
    for conv, norm, remainder in pairs:
        conv_with_folded_bn(conv, norm)
        parent, name = parents[norm]
        setattr(parent, name, remainder)
    return model


def _remainder_of(norm: _BatchNorm):
    """The module left in place of ``norm`` once it is folded into its
    conv, or None when its forward is not known to be a plain BN (plus
    timm's dropout and activation)."""
    forward = type(norm).forward
    if forward in (_BatchNorm.forward, nn.SyncBatchNorm.forward):
        return nn.Identity()
    act, drop = getattr(norm, 'act', None), getattr(norm, 'drop', None)
    if isinstance(act, nn.Module) and isinstance(drop, nn.Module):
        return nn.Sequential(drop, act)
    return None
