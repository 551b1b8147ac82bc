"""Refuse, before training, batches that a BatchNorm layer cannot train on."""
from typing import Optional, Tuple

import torch
import torch.nn as nn
from mmengine.dataset import InfiniteSampler
from mmengine.dist import get_world_size
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper
from mmengine.registry import HOOKS
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import BatchSampler

from .rng_state_hook import get_rng_states, set_rng_states

__all__ = ['BatchNormCheckHook', 'BatchTooSmallError']


class BatchTooSmallError(ValueError):
    """A BatchNorm layer would see one value per channel in training."""


class _OneValue(Exception):
    """Raised inside the probe at the first BatchNorm that sees one value
    per channel."""


def smallest_batch(loader) -> Tuple[int, str]:
    """The smallest batch a process gets from the training ``loader`` in an
    epoch, and where it comes from (the config keys that set it)."""
    batch_sampler = loader.batch_sampler
    batch_size = loader.batch_size or getattr(batch_sampler, 'batch_size', 1)
    if batch_size == 1:
        return 1, 'train_dataloader.batch_size is 1'
    drop_last = loader.drop_last or getattr(batch_sampler, 'drop_last', False)
    if drop_last or isinstance(loader.sampler, InfiniteSampler):
        return batch_size, ''  # every batch is full
    if type(batch_sampler) is not BatchSampler:
        # mmdet's AspectRatioBatchSampler fills a batch per aspect ratio
        # and yields what is left of both at the end of an epoch
        return 1, (f'{type(batch_sampler).__name__} can end an epoch with a '
                   f'batch of one sample')
    left = len(loader.sampler) % batch_size
    if left == 1:
        return 1, (f'an epoch ends with a batch of one sample '
                   f'({len(loader.sampler)} samples per process, '
                   f'train_dataloader.batch_size={batch_size})')
    return left or batch_size, ''


def one_value_layer(model: nn.Module, loader) -> Optional[Tuple[str, tuple]]:
    """Run one training forward of ``model`` on a batch of one real sample
    of ``loader`` (its first, through the training pipeline) and return
    the first BatchNorm layer that sees one value per channel, with its
    input shape; None when none does. The model's buffers, its mode and
    the random generators are left as they were."""
    states = get_rng_states()
    found = []
    buffers = {name: buffer.clone() for name, buffer in model.named_buffers()}
    training = model.training
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, _BatchNorm) and not (
                isinstance(module, nn.SyncBatchNorm)
                and get_world_size() > 1):  # normalised over all processes

            def check(module, args, name=name):
                if module.training and args[0].numel() == args[0].shape[1]:
                    found.append((name, tuple(args[0].shape)))
                    raise _OneValue

            handles.append(module.register_forward_pre_hook(check))
    try:
        batch = loader.collate_fn([loader.dataset[0]])
        model.train()
        with torch.no_grad():
            model(**model.data_preprocessor(batch, True), mode='loss')
    except _OneValue:
        pass
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)
        with torch.no_grad():
            for name, buffer in model.named_buffers():
                buffer.copy_(buffers[name])
        set_rng_states(states)
    return found[0] if found else None


@HOOKS.register_module()
class BatchNormCheckHook(Hook):
    """Before the first training iteration, refuse batches a BatchNorm
    layer cannot train on: one value per channel (a batch of one sample
    whose map is 1x1 there, as after the pyramid pooling of UperNet, or in
    the last stage of a small input). torch would stop that iteration with
    "Expected more than 1 value per channel when training", possibly at
    the last batch of an epoch.

    When the smallest batch a process gets is one sample
    (:func:`smallest_batch`), one training forward on a batch of one real
    sample (:func:`one_value_layer`) shows whether some BatchNorm layer
    would see one value per channel. ``tools/train.py`` installs it.

    Raises:
        BatchTooSmallError: naming the layer, the batch size per process,
            where a batch of one comes from and the fix.
    """

    def before_train(self, runner) -> None:
        loader = runner.train_dataloader
        size, why = smallest_batch(loader)
        if size > 1:
            return
        model = runner.model
        while is_model_wrapper(model):
            model = model.module
        found = one_value_layer(model, loader)
        if found is None:
            return
        name, shape = found
        cpu = (' On the CPU launcher SyncBN runs as BatchNorm in each '
               'process, so what one process gets is what counts.'
               if get_world_size() > 1 and not torch.cuda.is_available()
               else '')
        raise BatchTooSmallError(
            f'Training would stop at model.{name} '
            f'({type(model.get_submodule(name)).__name__}): a batch of one '
            f'sample gives it one value per channel (its input is '
            f'{"x".join(map(str, shape))}), which BatchNorm cannot train '
            f'on, and {why}. Use batches of at least 2 samples per process: '
            f'a larger train_dataloader.batch_size, or '
            f'train_dataloader.drop_last=True (with a batch sampler of '
            f'its own: train_dataloader.batch_sampler.drop_last=True) to '
            f'leave out the last, smaller batch of an epoch.{cpu}')
