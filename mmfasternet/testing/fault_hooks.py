"""Faults the tests inject into real training runs (a test config imports
this module through ``custom_imports``)."""
import glob
import os
import os.path as osp
import resource
import signal

from mmengine.hooks import Hook
from mmengine.registry import HOOKS


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
    grow past half the size of the checkpoint already in the work dir, so
    the next checkpoint fails half way through being written. With
    ``killed=True`` the kernel kills the process at that instant (SIGXFSZ,
    like kill -9 mid-write); otherwise the write raises OSError (EFBIG), as
    on a full disk."""

    priority = 'VERY_HIGH'  # before the checkpoint hook saves

    def __init__(self, epoch: int, killed: bool):
        self.epoch = epoch
        self.killed = killed

    def after_train_epoch(self, runner):
        if runner.epoch + 1 != self.epoch:
            return
        saved = glob.glob(osp.join(runner.work_dir, 'epoch_*.pth'))
        limit = osp.getsize(saved[0]) // 2
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_FSIZE,
                           (limit, resource.getrlimit(
                               resource.RLIMIT_FSIZE)[1]))
        if self.killed:
            # Python ignores SIGXFSZ; the default action kills the process.
            signal.signal(signal.SIGXFSZ, signal.SIG_DFL)
