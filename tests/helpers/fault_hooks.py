"""Faults the tests inject into real training runs, and what they record
of them (a test config imports this module through ``custom_imports``)."""
import glob
import json
import os
import os.path as osp
import resource
import signal

from mmengine.dist import get_rank
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.registry import HOOKS, METRICS


@HOOKS.register_module()
class KillAtIterHook(Hook):
    """SIGKILL the process right after training iteration ``iteration``
    (1-based), as the OOM killer or a lost node would."""

    def __init__(self, iteration: int):
        self.iteration = iteration

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        if runner.iter + 1 == self.iteration:
            os.kill(os.getpid(), signal.SIGKILL)


@HOOKS.register_module()
class FailCheckpointWriteHook(Hook):
    """From the end of epoch ``epoch`` on, files this process writes may not
    grow past half the size of a checkpoint already in the work dir, so the
    next checkpoint fails half way through being written: with
    ``stage='train'`` the epoch checkpoint (limit: half an ``epoch_*.pth``),
    with ``stage='val'`` the best checkpoint written after that epoch's
    validation (limit: half a ``best_*.pth``). With ``killed=True`` the
    kernel kills the process at that instant (SIGXFSZ, like kill -9
    mid-write); otherwise the write raises OSError (EFBIG), as on a full
    disk."""

    priority = 'VERY_HIGH'  # before the checkpoint hook saves

    def __init__(self, epoch: int, killed: bool, stage: str = 'train'):
        self.epoch = epoch
        self.killed = killed
        self.stage = stage

    def _limit_file_size(self, runner, pattern):
        saved = glob.glob(osp.join(runner.work_dir, pattern))
        limit = osp.getsize(saved[0]) // 2
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (limit, resource.getrlimit(
                               resource.RLIMIT_FSIZE)[1]))
        if self.killed:
            # Python ignores SIGXFSZ; the default action kills the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)

    def after_train_epoch(self, runner):
        if self.stage == 'train' and runner.epoch + 1 == self.epoch:
            self._limit_file_size(runner, 'epoch_*.pth')

    def after_val_epoch(self, runner, metrics=None):
        if self.stage == 'val' and runner.epoch == self.epoch:
            self._limit_file_size(runner, 'best_*.pth')


@HOOKS.register_module()
class RecordTrainedSamplesHook(Hook):
    """Append the files of every sample of every training batch (its
    ``img_path``, and ``seg_map_path`` where it has one) to ``path``, one
    per line: the samples the model was actually trained on."""

    def __init__(self, path: str):
        self.path = path

    def before_train_iter(self, runner, batch_idx, data_batch=None):
        with open(self.path, 'a') as f:
            for sample in data_batch['data_samples']:
                for key in ('img_path', 'seg_map_path'):
                    if key in sample:
                        f.write(f'{sample.get(key)}\n')


@HOOKS.register_module()
class RecordLossesHook(Hook):
    """Append each training iteration's loss, as this process computed it
    (not averaged over a window or over processes), to ``path`` with
    ``.rank{N}`` added: one json line ``{"iter": 1-based, "loss": value}``
    per iteration."""

    def __init__(self, path: str):
        self.path = path

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None):
        with open(f'{self.path}.rank{get_rank()}', 'a') as f:
            f.write(json.dumps(dict(iter=runner.iter + 1,
                                    loss=float(outputs['loss']))) + '\n')


@METRICS.register_module()
class EvaluationCountMetric(BaseMetric):
    """Scores the n-th evaluation of a run ``n`` (``count/evaluations``):
    every evaluation is better than the one before, so a checkpoint hook
    with ``save_best='count/evaluations'`` replaces its best checkpoint at
    every validation."""

    default_prefix = 'count'

    def __init__(self):
        super().__init__()
        self.evaluations = 0

    def process(self, data_batch, data_samples):
        self.results.append(len(data_samples))

    def compute_metrics(self, results):
        self.evaluations += 1
        return dict(evaluations=self.evaluations)
