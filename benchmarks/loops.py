"""Speed of a whole test loop as ``tools/test.py`` runs it, with and
without ``--deploy``: real checkpoint, real dataset, data loading and
evaluation included, the forms run in interleaved rounds in one process."""
import copy
import statistics
import time
from typing import Callable, List, Optional, Sequence

from mmengine.hooks import Hook

from mmfasternet.datasets import prepare_datasets
from mmfasternet.engine.hooks import DeployHook
from mmfasternet.engine.tasks import install_test_hooks, load_config

__all__ = ['LoopTimerHook', 'benchmark_test_loop', 'summarize_test_loop']

EVAL = 'eval'  # the checkpoint's model as trained, in eval mode, eager


class LoopTimerHook(Hook):
    """Times one test loop: ``loop_s`` from the start of the test epoch to
    the end of its last iteration (data loading, the model, the metric's
    per-batch processing), ``evaluate_s`` from there to the end of the
    epoch (the metric's ``compute_metrics``), and counts the ``images``
    (data samples) it saw."""

    priority = 'VERY_LOW'

    def __init__(self):
        self.images = 0
        self.loop_s = self.evaluate_s = None
        self._start = self._last_iter = None

    def before_test_epoch(self, runner) -> None:
        self._start = time.perf_counter()

    def after_test_iter(self, runner, batch_idx, data_batch=None,
                        outputs=None) -> None:
        self.images += len(outputs)
        self._last_iter = time.perf_counter()

    def after_test_epoch(self, runner, metrics=None) -> None:
        self.loop_s = self._last_iter - self._start
        self.evaluate_s = time.perf_counter() - self._last_iter


def _run_once(cfg, form: str) -> dict:
    from mmengine.runner import Runner
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    timer = LoopTimerHook()
    runner.register_hook(timer)
    deploy = None
    if form != EVAL:
        deploy = DeployHook(backbone_runtime=form)
        runner.register_hook(deploy)
    metrics = runner.test()
    row = dict(form=form, images=timer.images, loop_s=timer.loop_s,
               evaluate_s=timer.evaluate_s,
               images_per_s=timer.images / timer.loop_s,
               metrics={k: v for k, v in metrics.items()
                        if isinstance(v, (int, float))})
    if deploy is not None:
        row['backbone_runtime'] = report = dict(deploy.report)
        row['images_per_s_after_setup'] = timer.images / (
            timer.loop_s - report.get('prepare_s', 0.))
    return row


def benchmark_test_loop(config: str, checkpoint: str,
                        runtimes: Sequence[str] = ('auto', ),
                        repeats: int = 2,
                        cfg_options: Optional[dict] = None,
                        work_dir: Optional[str] = None,
                        on_row: Optional[Callable[[dict], None]] = None
                        ) -> List[dict]:
    """Run the test loop of ``config`` on ``checkpoint`` as ``tools/test.py``
    does (a fresh mmengine Runner each time, the config's test dataloader
    and evaluator), once per round for the trained form (:data:`EVAL`) and
    for ``--deploy`` with each backbone runtime of ``runtimes``
    (:data:`~mmfasternet.deploy.runtime.BACKBONE_RUNTIMES` but
    ``'eager'`` means the deploy form in eager PyTorch), the forms in
    interleaved rounds.

    Returns:
        list[dict]: one row per run, in the order run: ``round``, ``form``
        (``'eval'`` or the runtime), ``images``, ``loop_s`` (see
        :class:`LoopTimerHook`; for deploy forms it includes the backbone
        runtime's set-up, which runs at the first batch), ``evaluate_s``,
        ``images_per_s`` (images / loop_s), ``metrics`` (the numeric
        ones) and, for deploy forms, ``backbone_runtime`` (the report of
        :class:`~mmfasternet.deploy.runtime.BackboneRuntime`) and
        ``images_per_s_after_setup`` (images / (loop_s - the report's
        ``prepare_s``): the loop without the one-time set-up).

    Raises:
        ValueError: for ``repeats`` < 1 or a config of another library.
    """
    if repeats < 1:
        raise ValueError(f'repeats must be >= 1, got {repeats}.')
    cfg, task = load_config(config, cfg_options=cfg_options,
                            work_dir=work_dir)
    cfg.load_from = checkpoint
    cfg.log_level = 'WARNING'
    install_test_hooks(cfg)
    prepare_datasets(cfg, task, ('test', ))
    rows = []
    for round_index in range(repeats):
        for form in (EVAL, ) + tuple(runtimes):
            row = dict(round=round_index, **_run_once(cfg, form))
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def summarize_test_loop(rows: List[dict]) -> List[dict]:
    """Per form, over the rounds: ``median_images_per_s``, ``speedup`` (its
    median img/s over the :data:`EVAL` form's), the same two without the
    backbone runtime's one-time set-up (``median_images_per_s_after_setup``
    and ``speedup_after_setup``; the eval form has none, so its own img/s
    is used), ``max_metric_diff`` (the
    largest |metric - eval's metric| over all rounds and metrics) and the
    runtimes the backbone ran in (``runtimes_chosen``).

    Raises:
        ValueError: when there is no :data:`EVAL` row.
    """
    forms = list(dict.fromkeys(row['form'] for row in rows))
    if EVAL not in forms:
        raise ValueError(f'no {EVAL!r} row to compare the forms with.')
    def median(form, key):
        return statistics.median(
            row.get(key, row['images_per_s']) for row in rows
            if row['form'] == form)

    medians = {form: median(form, 'images_per_s') for form in forms}
    after_setup = {form: median(form, 'images_per_s_after_setup')
                   for form in forms}
    reference = [row for row in rows if row['form'] == EVAL][0]['metrics']
    summary = []
    for form in forms:
        own = [row for row in rows if row['form'] == form]
        summary.append(dict(
            form=form, runs=len(own),
            median_images_per_s=medians[form],
            speedup=medians[form] / medians[EVAL],
            median_images_per_s_after_setup=after_setup[form],
            speedup_after_setup=after_setup[form] / medians[EVAL],
            max_metric_diff=max(
                (abs(row['metrics'][name] - value) for row in own
                 for name, value in reference.items()), default=0.),
            runtimes_chosen=sorted({
                row['backbone_runtime'].get('runtime', '?')
                for row in own if 'backbone_runtime' in row})))
    return summary
