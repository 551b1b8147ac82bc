"""Random number generator states in checkpoints, so that a resumed run
continues the random streams of the run it resumes."""
import random
from typing import Optional

import numpy as np
import torch
from mmengine.dist import all_gather_object, get_dist_info, is_distributed
from mmengine.hooks import Hook
from mmengine.registry import HOOKS


def get_rng_states() -> dict:
    """The states of Python's, numpy's and torch's global generators (and
    CUDA's, where present) as plain Python objects and tensors, which
    ``torch.load(weights_only=True)`` accepts."""
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    states = dict(
        python=random.getstate(),
        numpy=(kind, torch.from_numpy(keys.astype(np.int64)), position,
               has_gauss, cached_gaussian),
        torch=torch.get_rng_state())
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def set_rng_states(states: dict) -> None:
    """Restore what :func:`get_rng_states` returned."""
    version, internal, gauss_next = states['python']
    random.setstate((version, tuple(internal), gauss_next))
    kind, keys, position, has_gauss, cached_gaussian = states['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position,
                         has_gauss, cached_gaussian))
    torch.set_rng_state(states['torch'])
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])


class _RestoreBeforeFirstFetch:
    """Wraps an iteration-based loop's data iterator: mmengine re-reads the
    ``skip`` batches a resumed run has already trained on (which draws
    random numbers in the pipeline), so the states are restored only right
    before the first batch that is actually trained on."""

    def __init__(self, iterator, skip: int, states: dict):
        self._iterator = iterator
        self._skip = skip
        self._states = states

    def __iter__(self):
        return self

    def __next__(self):
        if self._skip == 0 and self._states is not None:
            set_rng_states(self._states)
            self._states = None
        self._skip -= 1
        return next(self._iterator)

    def __getattr__(self, name):
        return getattr(self._iterator, name)


@HOOKS.register_module()
class RNGStateHook(Hook):
    """Save the random generators' states in every checkpoint and restore
    them when training resumes, so that with a fixed seed a resumed run
    draws the same augmentations, samples and drop-path masks as the run
    it continues, iteration for iteration.

    mmengine saves the seed but re-seeds on resume, which restarts every
    random stream at the seed's beginning. The sampler's order already
    follows ``seed + epoch``; this hook covers the rest:

    - the states are saved with each checkpoint; in distributed runs every
      rank's states are gathered at the end of each epoch and saved with
      that epoch's checkpoints (other checkpoints hold rank 0's);
    - validation during training runs between the generators' saved and
      restored states, so that it leaves the training's random streams as
      they were (a resumed run does not repeat the validation that
      followed its checkpoint);
    - epoch-based loops restore the states at the start of the next epoch.
      Iteration-based loops (``IterBasedTrainLoop``) re-read the batches
      already trained on when they resume; the states are restored after
      that, before the first new batch. This needs the loop's
      ``dataloader_iterator`` attribute (mmengine 0.10), the only thing
      this hook uses that is not a hook method: the iterator is wrapped so
      that the states are set right before its first new batch.

    What cannot be restored: random streams inside dataloader worker
    processes (``num_workers > 0``) that persist across epochs
    (``persistent_workers=True``) start again from their seeds after a
    resume; with ``persistent_workers=False`` mmengine re-seeds them at
    every epoch anyway. ``tools/train.py`` installs this hook.
    """

    priority = 'VERY_HIGH'

    def __init__(self):
        # (iteration, states of every rank) gathered at an epoch's end
        self._rank_states: Optional[tuple] = None
        self._before_val: Optional[dict] = None
        self._to_restore: Optional[dict] = None

    def after_train_epoch(self, runner) -> None:
        # Runs before the checkpoint hook (priority VERY_LOW) saves.
        if is_distributed():
            self._rank_states = (runner.iter,
                                 all_gather_object(get_rng_states()))

    def before_val_epoch(self, runner) -> None:
        if runner.train_loop is not None:
            self._before_val = get_rng_states()

    def after_val_epoch(self, runner, metrics=None) -> None:
        # Before the checkpoint hook saves a best checkpoint.
        states, self._before_val = self._before_val, None
        if states is not None:
            set_rng_states(states)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        per_rank = [get_rng_states()]
        if self._rank_states is not None and \
                self._rank_states[0] == checkpoint['meta'].get('iter'):
            per_rank = self._rank_states[1]
        checkpoint['rng_state'] = dict(
            per_rank=per_rank, world_size=get_dist_info()[1])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        self._to_restore = checkpoint.get('rng_state')

    def before_train_epoch(self, runner) -> None:
        # The first epoch after resuming: after mmengine re-seeded and
        # before the epoch's dataloader iterator draws anything.
        saved, self._to_restore = self._to_restore, None
        if saved is None or (runner.epoch == 0 and runner.iter == 0):
            return  # a fresh run, or weights loaded with load_from
        rank, world_size = get_dist_info()
        per_rank = saved['per_rank']
        if len(per_rank) == world_size:
            states = per_rank[rank]
            runner.logger.info('Random generator states restored from the '
                               'checkpoint.')
        elif rank == 0:
            states = per_rank[0]
            runner.logger.warning(
                f'The checkpoint holds random states of {len(per_rank)} '
                f'process(es), this run has {world_size}: only rank 0\'s '
                f'were restored.')
        else:
            return
        loop = runner.train_loop
        if hasattr(loop, 'dataloader_iterator'):  # IterBasedTrainLoop
            loop.dataloader_iterator = _RestoreBeforeFirstFetch(
                loop.dataloader_iterator, runner.iter, states)
        else:
            set_rng_states(states)
