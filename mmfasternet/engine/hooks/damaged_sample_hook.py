"""Count the training samples skipped for damaged files."""
import logging

from mmengine.hooks import Hook
from mmengine.logging import print_log
from mmengine.registry import HOOKS


def find_checked_loadings(obj, found=None, seen=None):
    """Every :class:`mmfasternet.datasets.CheckedLoading` reachable from a
    dataset: through dataset wrappers (``dataset``, ``datasets``), their
    pipelines and the ``transforms`` of composing transforms."""
    from ...datasets import CheckedLoading
    found = [] if found is None else found
    seen = set() if seen is None else seen
    if id(obj) in seen:
        return found
    seen.add(id(obj))
    if isinstance(obj, CheckedLoading):
        found.append(obj)
        return found
    if isinstance(obj, (list, tuple)):
        for item in obj:
            find_checked_loadings(item, found, seen)
        return found
    for name in ('dataset', 'datasets', 'pipeline', 'transforms'):
        child = getattr(obj, name, None)
        if child is not None and not isinstance(child, (str, dict)):
            find_checked_loadings(child, found, seen)
    return found


@HOOKS.register_module()
class DamagedSampleHook(Hook):
    """Log how many training samples were skipped because a file was
    damaged: at the end of each epoch, every ``interval`` iterations of an
    iteration-based loop when the number grew, and at the end of training.

    The samples are skipped by :class:`mmfasternet.datasets.CheckedLoading`
    (which logs a warning naming each file) in the dataloader's worker
    processes; their counts live in shared memory. In distributed training
    the counts of all ranks are summed.

    Args:
        interval (int): iterations between checks in an iteration-based
            loop. Defaults to 50.
    """

    priority = 'BELOW_NORMAL'

    def __init__(self, interval: int = 50):
        self.interval = interval
        self._loadings = {}
        self._reported = 0
        self._epoch_start = 0
        self._run_start = 0  # skips before training (checks of a sample)

    def _total(self, runner) -> int:
        # The pipeline can be replaced during training (SwitchRecipeHook,
        # PipelineSwitchHook): counters seen before keep counting.
        for loading in find_checked_loadings(runner.train_dataloader.dataset):
            self._loadings[id(loading)] = loading
        total = sum(loading.skipped.value
                    for loading in self._loadings.values())
        from mmengine.dist import all_reduce, get_world_size
        if get_world_size() > 1:
            import torch
            count = torch.tensor([total], dtype=torch.int64)
            all_reduce(count)
            total = int(count.item())
        return total - self._run_start

    def before_train(self, runner) -> None:
        self._run_start = 0
        self._run_start = self._total(runner)
        self._epoch_start = self._reported = 0

    def after_train_iter(self, runner, batch_idx, data_batch=None,
                         outputs=None) -> None:
        from mmengine.runner import IterBasedTrainLoop
        if not isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        if not self.every_n_train_iters(runner, self.interval):
            return
        total = self._total(runner)
        if total > self._reported:
            print_log(
                f'{total - self._reported} damaged training sample(s) '
                f'skipped since the last report, {total} in all by iteration '
                f'{runner.iter + 1}; the warnings above name the files.',
                logger='current', level=logging.WARNING)
            self._reported = total

    def after_train_epoch(self, runner) -> None:
        from mmengine.runner import IterBasedTrainLoop
        if isinstance(runner.train_loop, IterBasedTrainLoop):
            return
        total = self._total(runner)
        in_epoch = total - self._epoch_start
        self._epoch_start = self._reported = total
        if in_epoch:
            print_log(
                f'Epoch {runner.epoch + 1}: {in_epoch} damaged training '
                f'sample(s) skipped ({total} in all); the warnings above '
                'name the files. `python tools/misc/check_dataset.py CONFIG '
                '--split train` lists every damaged file.',
                logger='current', level=logging.WARNING)

    def after_train(self, runner) -> None:
        total = self._total(runner)
        print_log(
            f'Damaged training samples skipped during this run: {total}.',
            logger='current',
            level=logging.WARNING if total else logging.INFO)
