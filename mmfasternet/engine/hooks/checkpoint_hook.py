"""A CheckpointHook whose checkpoints survive a crash at any instant and
load under ``torch.load(weights_only=True)`` without importing anything."""
import os.path as osp
import re
from contextlib import contextmanager

import numpy as np
from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

from ...utils.atomic_io import atomic_write, remove_partial_files

_URI = re.compile(r'^[a-zA-Z0-9+]+://')


class _DeferredRemovals:
    """Stands in for a file backend and records ``remove``/``rmtree``
    instead of running them; everything else goes to the real backend."""

    def __init__(self, backend):
        self._backend = backend
        self.pending = []

    def remove(self, path):
        self.pending.append(('remove', path))

    def rmtree(self, path):
        self.pending.append(('rmtree', path))

    def __getattr__(self, name):
        return getattr(self._backend, name)


def _plain(value):
    """``value`` with numpy scalars and arrays turned into Python numbers and
    lists, recursively through dicts, lists and tuples."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return type(value)((key, _plain(item)) for key, item in value.items())
    if isinstance(value, (list, tuple)) and not hasattr(value, '_fields'):
        return type(value)(_plain(item) for item in value)
    return value


@HOOKS.register_module()
class SafeCheckpointHook(CheckpointHook):
    """mmengine's ``CheckpointHook`` (same arguments), made safe against
    crashes and loadable with torch's weights-only unpickler.

    - Every checkpoint (``epoch_N.pth``, ``iter_N.pth``, ``best_*.pth``) is
      written under a temporary name, fsynced, then renamed into place, and
      so is ``last_checkpoint``. mmengine writes in place and deletes the
      oldest checkpoint *before* writing the next one, so a crash during
      the write (kill -9, out of memory, full disk) left a truncated file
      and nothing to resume from. Here older checkpoints are deleted only
      once the new one and ``last_checkpoint`` are complete; partial files
      a crash leaves are removed when training starts again.
    - The message hub is stored as plain lists and numbers (its
      ``HistoryBuffer`` objects and numpy values are rebuilt on resume), so
      the file loads with ``torch.load(weights_only=True)``, the default of
      torch >= 2.6, with nothing allow-listed: e.g. ``DetInferencer(
      model=None, weights=CKPT)`` reads the config from it without
      ``import mmfasternet`` first.

    Atomic writes apply to local directories; with ``backend_args`` or a
    remote ``out_dir`` the configured backend writes as it always does.
    ``tools/train.py`` puts this hook in place of ``CheckpointHook``.
    """

    def before_train(self, runner) -> None:
        out_dir = self.out_dir if self.out_dir is not None else runner.work_dir
        if (self.backend_args is None and self.file_client_args is None
                and not _URI.match(str(out_dir))):
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if self.backend_args == dict(backend='atomic_local') and \
                is_main_process():
            for directory in {self.out_dir, runner.work_dir}:
                for path in remove_partial_files(directory):
                    runner.logger.warning(
                        f'Removed {path}, the partial file of a checkpoint '
                        f'whose writing was interrupted.')

    @contextmanager
    def _removals_after_saving(self):
        real_backend = self.file_backend
        deferred = _DeferredRemovals(real_backend)
        self.file_backend = deferred
        try:
            yield
        finally:
            self.file_backend = real_backend
        # Reached only when every save inside succeeded.
        for action, path in deferred.pending:
            if action == 'remove' and real_backend.isfile(path):
                real_backend.remove(path)
            elif action == 'rmtree' and real_backend.isdir(path):
                real_backend.rmtree(path)

    def _save_checkpoint_with_step(self, runner, step, meta):
        with self._removals_after_saving():
            self._save_then_point_to(runner, step, meta)

    def _save_best_checkpoint(self, runner, metrics) -> None:
        with self._removals_after_saving():
            super()._save_best_checkpoint(runner, metrics)

    def _save_then_point_to(self, runner, step, meta):
        """mmengine's ``_save_checkpoint_with_step`` with its removal queued
        (see ``_removals_after_saving``) and ``last_checkpoint`` written
        atomically after the checkpoint."""
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            if len(self.keep_ckpt_ids) == self.max_keep_ckpts:
                oldest = self.keep_ckpt_ids.popleft()
                if is_main_process():
                    path = self.file_backend.join_path(
                        self.out_dir, self.filename_tmpl.format(oldest))
                    self.file_backend.remove(path)
            self.keep_ckpt_ids.append(step)
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))
        filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir, filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)
        runner.save_checkpoint(
            self.out_dir,
            filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)
        if is_main_process():
            atomic_write(
                osp.join(runner.work_dir, 'last_checkpoint'), self.last_ckpt)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict):
            hub['log_scalars'] = {
                name: dict(
                    type='HistoryBuffer',
                    log_history=buffer._log_history.tolist(),
                    count_history=buffer._count_history.tolist(),
                    max_length=buffer.max_length)
                if isinstance(buffer, HistoryBuffer) else buffer
                for name, buffer in hub.get('log_scalars', {}).items()
            }
            hub['runtime_info'] = _plain(hub.get('runtime_info', {}))
        if 'meta' in checkpoint:
            checkpoint['meta'] = _plain(checkpoint['meta'])

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
        for name, value in scalars.items():
            if isinstance(value, dict) and value.get('type') == \
                    'HistoryBuffer':
                scalars[name] = HistoryBuffer(
                    np.array(value['log_history']),
                    np.array(value['count_history']), value['max_length'])

