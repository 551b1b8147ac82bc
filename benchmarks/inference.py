"""Speed of FasterNet backbones and of whole models, each measured beside
its baselines in the same run.

Rows are dicts. Backbone rows: ``model``, ``form``, ``ms_per_batch``,
``images_per_s``, and ``speedup_vs_<baseline>`` (img/s over the
baseline's). Whole-model rows: ``config``, ``task``, ``form``,
``ms_per_batch``, ``images_per_s``, ``backbone_ms``,
``backbone_and_neck_ms``, ``head_ms``, ``head_share``, the config's
params and FLOPs, and ``speedup_vs_last_config`` (see
:func:`benchmark_models`).
"""
import copy
import os.path as osp
import platform
import statistics
import time
from functools import partial
from typing import (
    Callable,
    Dict,
    Iterable,
    List,
    Optional,
    Sequence,
    Tuple,
    Union,
)

import torch
import torch.nn as nn
from mmengine.config import Config

from benchmarks.detection import keep_all_detections, zero_prediction_layers
from benchmarks.intervals import median_interval, ratio_interval
from benchmarks.profiling import profile_ops
from benchmarks.timing import median_seconds, prepare_for_timing
from mmfasternet import FasterNet
from mmfasternet.deploy import switch_to_deploy
from mmfasternet.engine.tasks import (
    build_model_from_config,
    model_inputs,
    read_config,
    task_of,
)
from mmfasternet.utils.timing import interleaved_seconds, synchronize

from .folding import fold_batchnorms

# Backbone forms. A row measured under torch.compile has COMPILED appended,
# one exported to ONNX and run by onnxruntime ONNXRUNTIME_CPU.
PAPER_PROTOCOL = 'paper protocol'  # eval, BN folded, split_cat, eager
DEPLOY = 'deploy'  # switch_to_deploy()
REFERENCE = 'BN folded'  # a reference backbone, BN folded the same way
COMPILED = ' + compile'
ONNXRUNTIME_CPU = ', onnxruntime CPU'

RowCallback = Optional[Callable[[dict], None]]


def reference_backbone(name: str) -> nn.Module:
    """``'resnet50'`` (mmdet's ResNet-50, four stages) or ``'timm:NAME'``
    (a timm model's feature maps), with random weights.

    Raises:
        ValueError: for any other name.
    """
    if name == 'resnet50':
        from mmdet.models.backbones import ResNet
        return ResNet(depth=50, out_indices=(0, 1, 2, 3), norm_eval=True)
    if name.startswith('timm:'):
        import timm
        return timm.create_model(name[len('timm:'):], pretrained=False,
                                 features_only=True)
    raise ValueError(f'unknown reference backbone {name!r}; use resnet50 or '
                     f'timm:MODEL')


def backbone_forms(arch: str, example: torch.Tensor,
                   out_indices: Sequence[int] = (0, 1, 2, 3)
                   ) -> Dict[str, nn.Module]:
    """The two forms of one random FasterNet (no output norms), same
    weights: ``'paper'``, the paper's speed protocol (eval, every BN folded
    into its conv by :func:`fold_batchnorms`, run once on ``example``
    (N, 3, H, W), split_cat PConv), and ``'deploy'``
    (:func:`switch_to_deploy`)."""
    model = FasterNet(arch=arch, out_indices=tuple(out_indices),
                      out_norm=False).eval()
    return dict(paper=fold_batchnorms(copy.deepcopy(model), example[:1]),
                deploy=switch_to_deploy(copy.deepcopy(model)))


def onnxruntime_seconds(model: nn.Module, example: torch.Tensor,
                        warmup: int, repeats: int) -> float:
    """Median seconds of one onnxruntime (CPU) run of ``model`` exported to
    ONNX (fp32, dynamic shapes) on ``example`` (N, 3, H, W), with
    PyTorch's number of intra-op threads (idle threads spinning, as for a
    session timed alone)."""
    from mmfasternet.deploy.runtime import OnnxRuntimeModule
    x = example.float().cpu()
    session = OnnxRuntimeModule(copy.deepcopy(model).float().cpu(), x,
                                spinning=True)
    return median_seconds(lambda: session(x), warmup, repeats)


def _row(name: str, form: str, seconds: float, batch: int) -> dict:
    return dict(model=name, form=form, ms_per_batch=seconds * 1e3,
                images_per_s=batch / seconds)


def benchmark_backbones(archs: Iterable[str],
                        baselines: Iterable[str] = ('resnet50', ),
                        batch: int = 1, shape: Sequence[int] = (224, 224),
                        device: str = 'cpu', dtype: str = 'fp32',
                        channels_last: bool = False, compile: bool = False,
                        compile_mode: Optional[str] = None, warmup: int = 3,
                        repeats: int = 10, onnxruntime: bool = False,
                        profile: int = 0,
                        on_row: RowCallback = None) -> List[dict]:
    """Time each reference backbone (:func:`reference_backbone`, BN
    folded) and each FasterNet arch in its paper protocol and deploy forms
    (:func:`backbone_forms`) on a random (``batch``, 3, H, W) input,
    eager and, with ``compile``, under ``torch.compile``.

    Args:
        onnxruntime: also time every reference backbone and each arch's
            paper protocol and deploy forms exported to ONNX in onnxruntime
            (CPU, fp32; forms ending in :data:`ONNXRUNTIME_CPU`).
        profile: for N > 0, also profile each arch's eager paper protocol
            and deploy form over ``repeats`` runs: ``row['profile']`` lists
            the N ops with the most own time (:func:`profile_ops`),
            ``row['profile_ms']`` is the time of all ops per batch.
        on_row: called with each row as soon as it is measured.

    Returns:
        list[dict]: the rows in the order measured, with speed-ups
        (:func:`add_backbone_speedups`).
    """
    torch.manual_seed(0)
    height, width = shape
    example = torch.randn(batch, 3, height, width)
    modes = [False, True] if compile else [False]
    rows = []

    def add(row):
        rows.append(row)
        if on_row is not None:
            on_row(row)

    def measure_onnxruntime(name, form, model):
        if onnxruntime:
            seconds = onnxruntime_seconds(model, example, warmup, repeats)
            add(_row(name, form + ONNXRUNTIME_CPU, seconds, batch))

    def measure(name, form, model, compiled, profiled=False):
        model, x = prepare_for_timing(model, example, device, dtype,
                                      channels_last, compiled, compile_mode)
        seconds = median_seconds(lambda: model(x), warmup, repeats, device)
        row = _row(name, form + (COMPILED if compiled else ''), seconds,
                   batch)
        if profiled:
            ops = profile_ops(lambda: model(x), repeats, warmup, device)
            row['profile'] = ops[:profile]
            row['profile_ms'] = sum(op['self_ms'] for op in ops)
        add(row)

    for reference in baselines:
        # fold_batchnorms puts it in eval mode (mmdet's ResNet.train()
        # returns None, so no chained .eval() here)
        model = fold_batchnorms(reference_backbone(reference), example[:1])
        for compiled in modes:
            measure(reference, REFERENCE, copy.deepcopy(model), compiled)
        measure_onnxruntime(reference, REFERENCE, model)
    for arch in archs:
        name = f'FasterNet-{arch.upper()}'
        forms = backbone_forms(arch, example)
        for compiled in modes:
            for form, model in ((PAPER_PROTOCOL, forms['paper']),
                                (DEPLOY, forms['deploy'])):
                measure(name, form, copy.deepcopy(model), compiled,
                        profiled=bool(profile) and not compiled)
        measure_onnxruntime(name, PAPER_PROTOCOL, forms['paper'])
        measure_onnxruntime(name, DEPLOY, forms['deploy'])
    return add_backbone_speedups(rows)


def split_form(form: str) -> Tuple[str, str]:
    """A backbone row's form as (form, runtime): runtime ``'compile'``,
    ``'onnxruntime'`` or ``'eager'``, e.g. ``'deploy + compile'`` ->
    ``('deploy', 'compile')``."""
    for suffix, runtime in ((COMPILED, 'compile'),
                            (ONNXRUNTIME_CPU, 'onnxruntime')):
        if form.endswith(suffix):
            return form[:-len(suffix)], runtime
    return form, 'eager'


def add_backbone_speedups(rows: List[dict]) -> List[dict]:
    """Add the speed-ups of backbone rows, in place, each between two rows
    that differ in one thing only:

    - ``speedup_vs_paper_protocol``: a FasterNet row of another form over
      its arch's paper protocol in the same runtime (where measured);
    - ``speedup_vs_eager``: a row under ``torch.compile`` or in
      onnxruntime over the same model and form in eager PyTorch;
    - ``speedup_vs_<reference>``: a FasterNet row over each reference
      backbone measured in the same runtime.

    Returns ``rows``.

    Raises:
        ValueError: when a FasterNet model has no eager paper protocol row.
    """
    by_key = {}
    for row in rows:
        by_key[(row['model'],) + split_form(row['form'])] = row
    references = [row for row in rows if row['form'].startswith(REFERENCE)]
    for row in rows:
        form, runtime = split_form(row['form'])
        eager = by_key.get((row['model'], form, 'eager'))
        if runtime != 'eager' and eager is not None:
            row['speedup_vs_eager'] = (row['images_per_s'] /
                                       eager['images_per_s'])
        if form == REFERENCE:
            continue
        if (row['model'], PAPER_PROTOCOL, 'eager') not in by_key:
            raise ValueError(f'{row["model"]}: no {PAPER_PROTOCOL!r} row to '
                             f'compare its {row["form"]!r} row with.')
        paper = by_key.get((row['model'], PAPER_PROTOCOL, runtime))
        if form != PAPER_PROTOCOL and paper is not None:
            row['speedup_vs_paper_protocol'] = (
                row['images_per_s'] / paper['images_per_s'])
        for reference in references:
            if split_form(reference['form'])[1] == runtime:
                row[f'speedup_vs_{reference["model"]}'] = (
                    row['images_per_s'] / reference['images_per_s'])
    return rows


def build_for_inference(config: Union[str, Config], real_heads: bool = False,
                        detections: int = 100) -> Tuple[nn.Module, str]:
    """A config's model (a path, ``pkg::path`` or a :class:`Config`, not
    modified) in eval mode with random weights, as :func:`benchmark_models`
    times it, and its task. Detectors keep exactly ``detections`` per image
    (score threshold 0, :func:`keep_all_detections`) and, unless
    ``real_heads``, get prediction layers of constant output
    (:func:`zero_prediction_layers`) so that every detector of a family
    does the same head work whatever its backbone.

    Raises:
        ValueError: for a config of another library, or a detector that
            has none of the prediction layers (pass ``real_heads``).
    """
    cfg = copy.deepcopy(read_config(config))
    task = task_of(cfg)
    if task == 'detection':
        keep_all_detections(cfg.model, detections)
    model = build_model_from_config(cfg).eval()
    if task == 'detection' and not real_heads:
        zero_prediction_layers(model)
    return model, task


class PartTimes:
    """Wall-clock seconds a model spends in its backbone and in backbone +
    neck (``extract_feat``'s parts) during each call of :meth:`wrap`'s
    function, read by forward hooks on ``model.backbone`` and
    ``model.neck`` (when it has one), summed over the call (a sliding-window
    segmentor runs them once per window). On CUDA the device is
    synchronised at each hook. :meth:`remove` takes the hooks off."""

    def __init__(self, model: nn.Module, device=None):
        self.device = device
        self.calls: List[Tuple[float, float]] = []
        self._backbone = self._features = 0.0
        self._start = 0.0
        neck = getattr(model, 'neck', None) if getattr(
            model, 'with_neck', True) else None
        self._handles = [
            model.backbone.register_forward_pre_hook(self._enter),
            model.backbone.register_forward_hook(self._leave_backbone)]
        self._neck = isinstance(neck, nn.Module)
        if self._neck:
            self._handles.append(neck.register_forward_hook(self._leave_neck))

    def _now(self) -> float:
        synchronize(self.device)
        return time.perf_counter()

    def _enter(self, module, args):
        self._start = self._now()

    def _leave_backbone(self, module, args, output):
        spent = self._now() - self._start
        self._backbone += spent
        if not self._neck:
            self._features += spent

    def _leave_neck(self, module, args, output):
        self._features += self._now() - self._start

    def wrap(self, fn: Callable[[], object]) -> Callable[[], object]:
        """``fn`` that also appends (backbone s, backbone + neck s) of the
        call to :attr:`calls`."""
        def call():
            self._backbone = self._features = 0.0
            result = fn()
            self.calls.append((self._backbone, self._features))
            return result
        return call

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()


def model_complexity(config: str, shape: Sequence[int]) -> dict:
    """Parameters and FLOPs (multiply-accumulates) of a config's model and
    of its backbone at ``shape`` (H, W), by ``tools/analysis_tools/
    get_flops.py``'s ``count_flops`` (two-stage detectors counted with 1000
    RPN proposals): ``params``, ``flops``, ``backbone_params``,
    ``backbone_flops``."""
    import importlib.util
    path = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'tools',
                    'analysis_tools', 'get_flops.py')
    spec = importlib.util.spec_from_file_location('mmfasternet_get_flops',
                                                  path)
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    from mmengine.logging import MMLogger

    # the counter warns of every op it does not count (norms, activations)
    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel('ERROR')
    try:
        counted = tool.count_flops(config, tuple(shape))
    finally:
        logger.setLevel(level)
    return {key: counted[key] for key in ('params', 'flops',
                                          'backbone_params',
                                          'backbone_flops')}


def benchmark_models(configs: Iterable[str], batch: int = 1,
                     shape: Sequence[int] = (800, 1333),
                     device: str = 'cpu', channels_last: bool = False,
                     warmup: int = 3, repeats: int = 10,
                     real_heads: bool = False,
                     backbone_runtimes: Sequence[str] = (),
                     calibration: Optional[Sequence[torch.Tensor]] = None,
                     complexity: bool = True,
                     on_row: RowCallback = None) -> List[dict]:
    """Time the inference of each config's model (``predict``, fp32) on a
    random (``batch``, 3, H, W) input with the data samples it needs (data
    loading excluded), in its training form (eval mode) and, when it holds
    a FasterNet, its deploy form, eager; then, for each of
    ``backbone_runtimes``, its last form with the backbone run in that
    runtime (:func:`~mmfasternet.deploy.runtime.use_backbone_runtime`, set
    up before timing; the heads stay eager), as ``tools/test.py --deploy
    --backbone-runtime`` runs it. Every form of every config is timed in
    the same interleaved rounds
    (:func:`~mmfasternet.utils.timing.interleaved_seconds`: ``warmup``
    untimed calls each, then ``repeats`` rounds), and each timed call also
    gives the time of its backbone and of backbone + neck
    (:class:`PartTimes`); the rest of the call is the heads' (with their
    post-processing). Models are built by :func:`build_for_inference`
    (``real_heads``: see there).

    Args:
        configs: paths or ``pkg::path`` of installed libraries' configs.
        backbone_runtimes: names of
            :data:`~mmfasternet.deploy.runtime.BACKBONE_RUNTIMES` but
            ``'eager'`` (all but ``'compile'``: CPU only).
        calibration: the calibration inputs of the INT8 runtimes (batches
            of the backbone's input, e.g.
            :func:`benchmarks.runtimes.calibration_images`).
        complexity: also count each config's parameters and FLOPs at
            ``shape`` (:func:`model_complexity`).
        on_row: called with each row, after all are timed.

    Returns:
        list[dict]: per config, the forms ``eval`` and, for FasterNet,
        ``deploy``, then ``<form> + <runtime> backbone`` per runtime; each
        row has ``ms_per_batch`` (the median), ``ci_ms`` (its 95%
        interval), ``times_ms`` (every round), ``images_per_s``,
        ``backbone_ms``, ``backbone_and_neck_ms``, ``head_ms`` (medians
        over the rounds; heads: the call's time outside backbone + neck)
        and ``head_share`` (the median of the heads' share of each call),
        ``runtime`` (``'eager'`` or the backbone runtime that ran, with its
        ``backbone_runtime`` report), with ``complexity`` the config's
        ``params``, ``flops``, ``backbone_params`` and ``backbone_flops``
        (the training form's), and speed-ups against the last config when
        more than one config was timed (:func:`add_model_speedups`).

    Raises:
        ValueError: for a config of another library, a detector that has
            none of the prediction layers (pass ``real_heads``), or an
            unknown backbone runtime.
    """
    from mmfasternet.deploy.runtime import (
        BACKBONE_RUNTIMES,
        use_backbone_runtime,
    )
    unknown = [r for r in backbone_runtimes
               if r not in BACKBONE_RUNTIMES or r == 'eager']
    if unknown:
        raise ValueError(f'unknown backbone runtimes {unknown}; choose from '
                         f'{[r for r in BACKBONE_RUNTIMES if r != "eager"]}.')
    device = torch.device(device)
    memory_format = (torch.channels_last if channels_last else
                     torch.contiguous_format)
    rows, timed = [], []
    configs = list(configs)
    for config in configs:
        model, task = build_for_inference(config, real_heads)
        inputs, samples = model_inputs(task, batch, shape)
        inputs = inputs.to(device, memory_format=memory_format)
        forms = [('eval', model)]
        if any(isinstance(m, FasterNet) for m in model.modules()):
            forms.append(('deploy', switch_to_deploy(copy.deepcopy(model))))
        last_form, last_model = forms[-1]
        for runtime in backbone_runtimes:
            variant = copy.deepcopy(last_model).to(
                device, memory_format=memory_format)
            backbone = use_backbone_runtime(variant, runtime,
                                            calibration=calibration)
            with torch.no_grad():
                backbone(inputs)  # export or compile, outside the timing
            forms.append((f'{last_form} + {runtime} backbone', variant))
        counted = (model_complexity(config, shape) if complexity else {})
        for form, variant in forms:
            variant = variant.to(device, memory_format=memory_format)
            parts = PartTimes(variant, device)
            if samples is None:
                fn = partial(variant, inputs, mode='predict')
            else:
                fn = partial(variant.predict, inputs, samples)
            timed.append((parts, parts.wrap(fn)))
            row = dict(config=config, task=task, form=form, **counted)
            report = getattr(variant.backbone, 'report', None)
            row['runtime'] = report['runtime'] if report else 'eager'
            if report:
                row['backbone_runtime'] = report
            rows.append(row)
    times = interleaved_seconds([fn for _, fn in timed], warmup, repeats,
                                device)
    for row, (parts, _), own in zip(rows, timed, times):
        parts.remove()
        # the timed call of round i is the function's (warmup + 2i + 1)-th
        calls = parts.calls[warmup + 1::2]
        backbone = [b for b, _ in calls]
        features = [f for _, f in calls]
        head = [t - f for t, f in zip(own, features)]
        whole = statistics.median(own)
        row.update(
            ms_per_batch=whole * 1e3, images_per_s=batch / whole,
            ci_ms=[t * 1e3 for t in median_interval(own)],
            times_ms=[t * 1e3 for t in own],
            backbone_ms=statistics.median(backbone) * 1e3,
            backbone_and_neck_ms=statistics.median(features) * 1e3,
            head_ms=statistics.median(head) * 1e3,
            head_share=statistics.median(
                h / t for h, t in zip(head, own)))
    if len(configs) > 1:
        add_model_speedups(rows)
    if on_row is not None:
        for row in rows:
            on_row(row)
    return rows


def add_model_speedups(rows: List[dict]) -> List[dict]:
    """Add speed-ups against the last config, in place, to every row but
    the one compared with: ``speedup_vs_last_config``, its img/s over the
    last row of the same ``runtime`` (a row without one is eager; with one
    runtime throughout, the last row); for a row of another runtime,
    ``speedup_vs_last_config_eager`` too, over the last eager row (the
    baseline as its own library runs it). Rows timed in the same rounds
    (with ``times_ms``) also get each speed-up's 95% interval over the
    paired rounds (:func:`~benchmarks.intervals.ratio_interval`), under the
    same key with ``_ci`` appended. Returns ``rows``."""
    def runtime(row):
        return row.get('runtime', 'eager')

    def add(row, key, other):
        row[key] = row['images_per_s'] / other['images_per_s']
        if 'times_ms' in row and 'times_ms' in other:
            row[key + '_ci'] = list(ratio_interval(other['times_ms'],
                                                   row['times_ms']))

    last = {}
    for row in rows:
        last[runtime(row)] = row
    for row in rows:
        same = last.get(runtime(row))
        if same is not None and row is not same:
            add(row, 'speedup_vs_last_config', same)
        eager = last.get('eager')
        if runtime(row) != 'eager' and eager is not None:
            add(row, 'speedup_vs_last_config_eager', eager)
    return rows


def environment(device: str = 'cpu') -> dict:
    """Versions, machine, device and thread count, for the JSON files."""
    info = dict(torch=torch.__version__, python=platform.python_version(),
                machine=platform.machine(), processor=platform.processor(),
                device=device, threads=torch.get_num_threads())
    if device.startswith('cuda'):
        info['gpu'] = torch.cuda.get_device_name(torch.device(device))
    return info
