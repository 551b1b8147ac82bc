"""Layer-wise learning-rate decay for models with a FasterNet backbone.

mmdet's and mmseg's ``LearningRateDecayOptimizerConstructor`` only know
ConvNeXt/BEiT/MAE; this one asks the backbone (``get_layer_depth``) and is
registered in mmengine's root registry, so detectors, segmentors and
classifiers of all three libraries can use it::

    optim_wrapper = dict(
        type='OptimWrapper',
        optimizer=dict(type='AdamW', lr=1e-4, weight_decay=0.05),
        constructor='FasterNetLayerDecayOptimWrapperConstructor',
        paramwise_cfg=dict(decay_rate=0.9, decay_type='layer_wise'))
"""
import json
from typing import List

import torch.nn as nn
from mmengine.dist import get_dist_info
from mmengine.logging import MMLogger
from mmengine.optim import DefaultOptimWrapperConstructor
from mmengine.registry import OPTIM_WRAPPER_CONSTRUCTORS


@OPTIM_WRAPPER_CONSTRUCTORS.register_module()
class FasterNetLayerDecayOptimWrapperConstructor(
        DefaultOptimWrapperConstructor):
    """Parameter groups whose lr is ``base_lr * decay_rate ** (num_layers -
    1 - depth)``, with depths from the FasterNet backbone: the heads keep
    the base lr, the stem gets the smallest. Biases and other 1-D
    parameters (norms) get no weight decay.

    ``paramwise_cfg``: ``decay_rate`` (required) and ``decay_type``
    (``'layer_wise'``, default, or ``'stage_wise'``).
    """

    def add_params(self, params: List[dict], module: nn.Module,
                   **kwargs) -> None:
        from ..models import FasterNet
        unknown = set(self.paramwise_cfg) - {'decay_rate', 'decay_type'}
        if 'decay_rate' not in self.paramwise_cfg or unknown:
            raise ValueError(
                f'{type(self).__name__}: paramwise_cfg takes "decay_rate" '
                f'and optionally "decay_type"; got '
                f'{sorted(self.paramwise_cfg)}.')
        decay_rate = self.paramwise_cfg['decay_rate']
        decay_type = self.paramwise_cfg.get('decay_type', 'layer_wise')
        backbone, prefix = module, ''
        if isinstance(getattr(module, 'backbone', None), nn.Module):
            backbone, prefix = module.backbone, 'backbone.'
        if not isinstance(backbone, FasterNet):
            raise TypeError(
                f'{type(self).__name__} needs a FasterNet backbone, got '
                f'{type(backbone).__name__}; use mmdet/mmseg\'s '
                f'LearningRateDecayOptimizerConstructor for ConvNeXt/BEiT.')

        groups = {}
        for name, param in module.named_parameters():
            if not param.requires_grad:
                continue
            no_decay = param.ndim == 1 or name.endswith('.bias')
            depth, num_layers = backbone.get_layer_depth(
                name, prefix, decay_type)
            key = f'layer_{depth}_{"no_decay" if no_decay else "decay"}'
            if key not in groups:
                scale = decay_rate**(num_layers - 1 - depth)
                groups[key] = dict(
                    params=[], param_names=[], lr_scale=scale,
                    lr=self.base_lr * scale,
                    weight_decay=0. if no_decay else self.base_wd)
            groups[key]['params'].append(param)
            groups[key]['param_names'].append(name)
        if get_dist_info()[0] == 0:
            summary = {
                key: dict(lr=group['lr'], weight_decay=group['weight_decay'],
                          params=len(group['params']))
                for key, group in groups.items()
            }
            MMLogger.get_current_instance().info(
                f'{decay_type} lr decay {decay_rate}: '
                f'{json.dumps(summary)}')
        for group in groups.values():
            group.pop('param_names')
        params.extend(groups.values())
