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
