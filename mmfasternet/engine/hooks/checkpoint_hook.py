"""Checkpoints that a crash cannot cost, and that load with torch's
weights-only unpickler without importing anything."""
import os
import os.path as osp
import uuid
from collections import defaultdict
from typing import Dict, List

import numpy as np
from mmengine.dist import is_main_process
from mmengine.fileio import LocalBackend, register_backend
from mmengine.hooks import CheckpointHook
from mmengine.logging import HistoryBuffer
from mmengine.registry import HOOKS

from ...utils.uri import is_remote

__all__ = ['AtomicLocalBackend', 'SafeCheckpointHook']

# Suffix of a file being written; a crash can leave one behind.
PARTIAL_SUFFIX = '.partial'


def _fsync_directory(path: str) -> None:
    if not hasattr(os, 'O_DIRECTORY'):  # Windows cannot open directories
        return
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@register_backend('atomic_local')
class AtomicLocalBackend(LocalBackend):
    """mmengine's local file backend, made safe for checkpoints
    (``backend_args=dict(backend='atomic_local')``):

    - ``put`` and ``put_text`` write under a temporary name
      (``<name>.partial``), flush, fsync, then rename over the target: at
      any instant the target holds its old or its new content in full;
    - ``remove`` of a file is held back until a later ``put`` into the same
      folder has completed (or :meth:`flush_removals` is called):
      mmengine's ``CheckpointHook`` removes the oldest checkpoint, or the
      previous best one, before it writes the next, so the file to remove
      stays until its successor is complete.
    """

    # by folder; shared by every instance (mmengine builds several)
    _held_back: Dict[str, List[str]] = defaultdict(list)

    def put(self, obj: bytes, filepath) -> None:
        filepath = os.fspath(filepath)
        folder = osp.dirname(osp.abspath(filepath))
        os.makedirs(folder, exist_ok=True)
        partial = filepath + PARTIAL_SUFFIX
        try:
            with open(partial, 'wb') as f:
                f.write(obj)
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, filepath)
        except BaseException:
            if osp.exists(partial):
                os.remove(partial)
            raise
        _fsync_directory(folder)
        self.flush_removals(folder, keep=filepath)

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        self.put(obj.encode(encoding), filepath)

    def remove(self, filepath) -> None:
        filepath = osp.abspath(os.fspath(filepath))
        self._held_back[osp.dirname(filepath)].append(filepath)

    @classmethod
    def flush_removals(cls, folder: str, keep: str = None) -> None:
        """Remove the files held back in ``folder`` (except ``keep``)."""
        for path in cls._held_back.pop(osp.abspath(folder), []):
            if osp.abspath(path) != osp.abspath(keep or '') and \
                    osp.isfile(path):
                os.remove(path)

    @classmethod
    def forget_removals(cls, folder: str) -> None:
        """Drop the removals held back in ``folder`` without doing them."""
        cls._held_back.pop(osp.abspath(folder), None)


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
    """mmengine's ``CheckpointHook`` (same arguments) whose checkpoints
    survive a crash and load with ``torch.load(weights_only=True)``.

    - Into a local folder (no ``backend_args``, no remote ``out_dir``),
      checkpoints are written through :class:`AtomicLocalBackend`: each
      file (``epoch_N.pth``, ``iter_N.pth``, ``best_*.pth``) appears only
      once complete, and with ``max_keep_ckpts`` or ``save_best`` the file
      it replaces is removed only after that. A crash while writing (kill
      -9, out of memory, a full disk) leaves the previous checkpoints as
      they were and a ``.partial`` file, which the next run removes with a
      warning. ``last_checkpoint`` is written by mmengine after the
      checkpoint it names is complete.
    - The message hub is stored as plain lists and numbers (rebuilt when
      the checkpoint is loaded), so the file loads with torch's
      weights-only unpickler (the default of torch >= 2.6) with nothing
      allow-listed: ``DetInferencer(model=None, weights=CKPT)`` reads the
      config from it without ``import mmfasternet``.
    - Every checkpoint's ``meta`` names the run it belongs to
      (``run_id``; a resumed run keeps the one it resumes), so that
      ``tools/train.py --resume`` can tell the runs of one work dir apart.

    ``tools/train.py`` puts this hook in place of ``CheckpointHook``.
    """

    run_id = None  # set for the run in before_train, or by the resumed file

    def before_train(self, runner) -> None:
        if self.run_id is None:
            self.run_id = uuid.uuid4().hex
        out_dir = self.out_dir if self.out_dir is not None else runner.work_dir
        atomic = (self.backend_args is None and self.file_client_args is None
                  and not is_remote(out_dir))
        if atomic:
            self.backend_args = dict(backend='atomic_local')
        super().before_train(runner)
        if not atomic:
            return
        AtomicLocalBackend.forget_removals(self.out_dir)
        if is_main_process():
            for folder in {self.out_dir, runner.work_dir}:
                for name in sorted(os.listdir(folder)):
                    if name.endswith(PARTIAL_SUFFIX):
                        os.remove(osp.join(folder, name))
                        runner.logger.warning(
                            f'Removed {osp.join(folder, name)}, the partial '
                            f'file of a checkpoint whose writing was '
                            f'interrupted.')

    def after_train(self, runner) -> None:
        super().after_train(runner)
        if self.backend_args == dict(backend='atomic_local'):
            AtomicLocalBackend.flush_removals(self.out_dir)

    def before_save_checkpoint(self, runner, checkpoint: dict) -> None:
        hub = checkpoint.get('message_hub')
        if isinstance(hub, dict):
            scalars = {}
            for name, buffer in hub.get('log_scalars', {}).items():
                if isinstance(buffer, HistoryBuffer):
                    log_history, count_history = buffer.data
                    buffer = dict(type='HistoryBuffer',
                                  log_history=log_history.tolist(),
                                  count_history=count_history.tolist(),
                                  max_length=buffer.max_length)
                scalars[name] = buffer
            hub['log_scalars'] = scalars
            hub['runtime_info'] = _plain(hub.get('runtime_info', {}))
        if 'meta' in checkpoint:
            checkpoint['meta'] = _plain(checkpoint['meta'])
            checkpoint['meta']['run_id'] = self.run_id

    def after_load_checkpoint(self, runner, checkpoint: dict) -> None:
        meta = checkpoint.get('meta') or {}
        if runner.cfg.get('resume') and meta.get('run_id'):
            self.run_id = meta['run_id']
        scalars = checkpoint.get('message_hub', {}).get('log_scalars', {})
        for name, value in scalars.items():
            if isinstance(value, dict) and value.get('type') == \
                    'HistoryBuffer':
                scalars[name] = HistoryBuffer(
                    np.array(value['log_history']),
                    np.array(value['count_history']), value['max_length'])
