"""Inference forms of whole models (classifier, detector or segmentor)."""
from copy import deepcopy

import torch.nn as nn

__all__ = ['switch_to_deploy']


def switch_to_deploy(model: nn.Module, copy: bool = False) -> nn.Module:
    """Switch every FasterNet backbone inside ``model`` (and any other
    module offering ``switch_to_deploy``, mmpretrain's convention for
    re-parameterisable backbones) to its inference form.

    The model is put in eval mode first; eval outputs are unchanged.

    Args:
        model (nn.Module): a backbone, classifier, detector or segmentor.
        copy (bool): Convert a deep copy and leave ``model`` untouched (as
            timm's ``reparameterize_model(model, inplace=False)``); by
            default ``model`` itself is converted.

    Returns:
        nn.Module: the converted model (``model`` itself unless ``copy``).

    Raises:
        ValueError: no module of ``model`` has ``switch_to_deploy()``.
    """
    if copy:
        model = deepcopy(model)
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
