"""Refuse a model whose neck or heads expect other maps than its backbone
returns."""
from contextlib import contextmanager
from typing import List, Sequence

import torch
import torch.nn as nn
from mmengine.hooks import Hook
from mmengine.model import BaseTTAModel, is_model_wrapper
from mmengine.registry import HOOKS

__all__ = [
    'ChannelCheckHook', 'ChannelMismatchError', 'channel_problems',
    'unread_backbone_maps'
]


class ChannelMismatchError(ValueError):
    """A neck or head of the model expects other channels than it gets."""


def _channels(outputs) -> List[int]:
    if isinstance(outputs, torch.Tensor):
        outputs = [outputs]
    return [int(output.shape[1]) for output in outputs]


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _describe_backbone(backbone: nn.Module) -> str:
    settings = []
    arch = getattr(backbone, 'arch', None)
    if isinstance(arch, dict) and arch.get('name'):
        settings.append(f'arch {arch["name"]!r}')
    if getattr(backbone, 'out_indices', None) is not None:
        settings.append(f'out_indices {tuple(backbone.out_indices)}')
    return 'model.backbone' + (f' ({", ".join(settings)})'
                               if settings else '')


def _head_problems(head: nn.Module, key: str, channels: Sequence[int],
                   source: str) -> List[str]:
    """An mmseg decode head (``in_channels`` at ``in_index``) or a
    classification head (``in_channels`` of the last map) against the
    channels of the maps it reads."""
    in_channels = getattr(head, 'in_channels', None)
    if in_channels is None:
        return []
    if not hasattr(head, 'in_index'):  # mmpretrain: the last map
        if in_channels == channels[-1]:
            return []
        return [f'{key}.in_channels is {in_channels}, but its input, the '
                f'last map of {source}, has {channels[-1]} channels: set '
                f'{key}.in_channels={channels[-1]}']
    indices = _as_list(head.in_index)
    outside = [i for i in indices if not -len(channels) <= i < len(channels)]
    if outside:
        return [f'{key}.in_index {head.in_index} reads map(s) {outside}, '
                f'but {source} returns {len(channels)} maps']
    got = [channels[i] for i in indices]
    if getattr(head, 'input_transform', None) == 'resize_concat':
        fits = sum(got)  # the maps are concatenated
    elif isinstance(in_channels, (list, tuple)):
        fits = got
    else:
        fits = got[0]
    if _as_list(in_channels) == _as_list(fits):
        return []
    return [f'{key}.in_channels is {in_channels} at in_index '
            f'{head.in_index}, but {source} returns {fits} there: set '
            f'{key}.in_channels={fits}']


def _unwrapped(model: nn.Module) -> nn.Module:
    """The model inside DDP-style wrappers and a TTA model."""
    while is_model_wrapper(model) or isinstance(model, BaseTTAModel):
        model = model.module
    return model


@contextmanager
def _evaluating(model: nn.Module):
    """``model`` in eval mode inside the block, in its own mode after."""
    training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(training)


def _backbone_maps(backbone: nn.Module):
    """What the backbone returns for a 128x128 zero image (no gradients),
    or None for a backbone that takes no such input."""
    parameter = next(backbone.parameters(), None)
    example = torch.zeros(
        1, getattr(backbone, 'in_channels', 3), 128, 128,
        device=parameter.device if parameter is not None else 'cpu')
    with torch.no_grad():
        try:
            return backbone(example)
        except Exception:
            return None


def channel_problems(model: nn.Module) -> List[str]:
    """What does not fit between the maps a model's backbone returns (on a
    128x128 input, in eval mode, without gradients) and what its neck and
    heads expect: a neck's ``in_channels`` (mmdet's and mmseg's FPNs and
    the like), mmseg decode and auxiliary heads' ``in_channels`` at their
    ``in_index`` (reading the neck's maps when there is a neck), and a
    classification head's ``in_channels``. Each problem names the config
    keys and the value that fits; models without a backbone, or whose
    backbone does not run on that input, give none."""
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, nn.Module):
        return []
    with _evaluating(model), torch.no_grad():
        features = _backbone_maps(backbone)
        if features is None:
            return []
        channels = _channels(features)
        source = _describe_backbone(backbone)
        problems = []
        neck = getattr(model, 'neck', None)
        neck_in = getattr(neck, 'in_channels', None)
        if isinstance(neck_in, (list, tuple)) and \
                list(neck_in) != channels:
            problems.append(
                f'model.neck.in_channels is {list(neck_in)}, but '
                f'{source} returns maps of {channels} channels: set '
                f'model.neck.in_channels={channels}, or the backbone '
                f'back to what the neck expects')
        if isinstance(neck, nn.Module):
            if problems:
                return problems
            channels = _channels(neck(features))
            source = 'model.neck'
        for name in ('decode_head', 'auxiliary_head', 'head'):
            heads = getattr(model, name, None)
            if isinstance(heads, nn.ModuleList):
                for index, head in enumerate(heads):
                    problems += _head_problems(
                        head, f'model.{name}.{index}', channels, source)
            elif isinstance(heads, nn.Module):
                problems += _head_problems(heads, f'model.{name}',
                                           channels, source)
        return problems


def unread_backbone_maps(model: nn.Module) -> List[int]:
    """Positions of the maps the backbone returns that the neck never
    reads (e.g. mmdet's FPN with ``start_level=1`` skips the first), found
    by backpropagating through the neck from a 128x128 input. Their
    computation is wasted and their output norms get no gradient, which
    stops a distributed (DDP) run. Models without a backbone and a neck,
    or that do not run on that input, give none."""
    backbone = getattr(model, 'backbone', None)
    neck = getattr(model, 'neck', None)
    if not (isinstance(backbone, nn.Module) and isinstance(neck, nn.Module)):
        return []
    with _evaluating(model), torch.enable_grad():
        features = _backbone_maps(backbone)
        if features is None:
            return []
        single = isinstance(features, torch.Tensor)
        maps = [m.detach().requires_grad_() for m in
                ([features] if single else features)]
        try:
            outputs = neck(maps[0] if single else tuple(maps))
        except Exception:
            return []
        outputs = [outputs] if isinstance(outputs, torch.Tensor) else outputs
        total = sum(output.float().sum() for output in outputs)
        grads = torch.autograd.grad(total, maps, allow_unused=True)
    return [index for index, grad in enumerate(grads) if grad is None]


@HOOKS.register_module()
class ChannelCheckHook(Hook):
    """Before a run (and before any weight is loaded), check that the maps
    the backbone returns are what the neck and heads read
    (:func:`channel_problems`). A backbone changed without its neck (e.g.
    ``--cfg-options model.backbone.arch=t1`` on a T0 config) otherwise
    stops the first iteration in a shape error of torch's that names
    neither. ``tools/train.py`` and ``tools/test.py`` install it.

    Raises:
        ChannelMismatchError: naming the keys and the values that fit.
    """

    priority = 'VERY_HIGH'

    def before_run(self, runner) -> None:
        problems = channel_problems(_unwrapped(runner.model))
        if problems:
            raise ChannelMismatchError(
                'The model does not fit together: ' + '; '.join(problems) +
                '.')

    def before_train(self, runner) -> None:
        """Maps the backbone returns and the neck never reads: a warning,
        or an error before the first iteration where the model trains in
        DistributedDataParallel without ``find_unused_parameters``, which
        would stop at the second iteration on their parameters."""
        model = _unwrapped(runner.model)
        unread = unread_backbone_maps(model)
        if not unread:
            return
        message = (
            f'{_describe_backbone(model.backbone)} returns map(s) {unread} '
            f'that model.neck never reads: set model.backbone.out_indices '
            f'to the stages the neck reads (with model.neck.in_channels '
            f'and, for an FPN, start_level to match)')
        if is_model_wrapper(runner.model) and not getattr(
                runner.model, 'find_unused_parameters', True):
            raise ChannelMismatchError(
                message + '; their parameters get no gradient, which stops '
                'distributed training.')
        runner.logger.warning(message + '; computing them is wasted.')
