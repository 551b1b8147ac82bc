"""Inference form of whole models (classifier, detector or segmentor)."""
import torch.nn as nn


def switch_to_deploy(model: nn.Module) -> nn.Module:
    """Switch every FasterNet backbone inside ``model`` (and any other
    module offering ``switch_to_deploy``, mmpretrain's convention for
    re-parameterisable backbones) to its inference form, in place.

    The model is put in eval mode first; eval outputs are unchanged.
    Returns the model.
    """
    model.eval()
    switched = []
    for name, module in model.named_modules():
        inside_switched = any(
            name.startswith(prefix + '.') or prefix == ''
            for prefix in switched)
        if not inside_switched and hasattr(module, 'switch_to_deploy'):
            module.switch_to_deploy()
            switched.append(name)
    if not switched:
        raise ValueError(f'{type(model).__name__} holds no module with '
                         f'switch_to_deploy(); nothing to convert.')
    return model


def fold_batchnorms(model: nn.Module, *example_inputs) -> nn.Module:
    """Fold every BatchNorm whose input is the output of a Conv2d into that
    conv, in place, for any model (the paper's speed protocol: "BN fused
    into the preceding conv"). Which BN follows which conv is found by
    running ``model(*example_inputs)`` once with hooks, so it also works for
    models torch.fx cannot trace. Returns the model in eval mode."""
    import torch
    from torch.nn.modules.batchnorm import _BatchNorm

    from ..models.utils.fusion import fuse_conv_bn

    model.eval()
    conv_outputs = {}  # id -> (tensor kept alive so ids stay unique, conv)
    pairs = []

    def after_conv(module, inputs, output):
        conv_outputs[id(output)] = (output, module)

    def after_norm(module, inputs, output):
        found = conv_outputs.get(id(inputs[0]))
        if found is not None:
            pairs.append((found[1], module))

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
    for conv, norm in pairs:
        weight, bias = fuse_conv_bn(conv, norm)
        conv.weight.data.copy_(weight)
        conv.bias = nn.Parameter(bias)
        parent, name = parents[norm]
        setattr(parent, name, nn.Identity())
    return model
