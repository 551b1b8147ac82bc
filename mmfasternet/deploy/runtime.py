"""Running a model's backbone in the fastest runtime the machine offers.

A detector, segmentor or classifier keeps its heads in eager PyTorch while
its backbone runs in one of :data:`BACKBONE_RUNTIMES`:

- ``'eager'``: PyTorch as it is;
- ``'onnxruntime'``: the backbone exported to ONNX (dynamic batch, height
  and width) and run by onnxruntime's CPU execution provider;
- ``'compile'``: ``torch.compile`` (inductor, dynamic shapes);
- ``'openvino'``: the same ONNX export compiled by OpenVINO for the CPU,
  in float32 (OpenVINO's own default is bf16 where the CPU has it);
- ``'openvino-bf16'``: OpenVINO with the bf16 inference precision (CPUs
  with AVX512-BF16 or AMX-BF16);
- ``'onnxruntime-int8'`` and ``'openvino-int8'``: one INT8 model for both,
  onnxruntime's static quantization of the ONNX export into a QDQ graph
  (per-channel int8 weights, uint8 activations calibrated on given
  batches; :mod:`.quantize`), run by onnxruntime or by OpenVINO;
- ``'auto'``: onnxruntime where it is at least :data:`AUTO_MARGIN` faster
  than eager on the first batch, else eager (onnxruntime is a candidate for
  a CPU model with onnxruntime installed).
  ``compile`` is never picked by ``auto``: on a CPU it compiles for tens of
  seconds before the first result (docs/benchmarks.md).

The backbone is prepared at its first call, on the batch it is given: the
export or compilation is timed, the new runtime's outputs are compared with
eager PyTorch's on that batch (fp32 runtimes: :data:`PARITY_TOLERANCE`;
bf16 and int8: :data:`PRECISION_TOLERANCE`; a larger error is an error,
never a silent switch), and for ``'auto'`` each candidate is timed on it.
What was chosen, and what it cost, is logged and kept in
:attr:`BackboneRuntime.report`.
"""
import os.path as osp
import tempfile
import time
from typing import Callable, Iterable, Optional, Sequence

import torch
import torch.nn as nn
from mmengine.logging import print_log

from .onnx import (
    PARITY_TOLERANCE,
    export,
    onnxruntime_session,
    relative_errors,
)

__all__ = [
    'AUTO_MARGIN', 'BACKBONE_RUNTIMES', 'BackboneRuntime', 'OnnxRuntimeModule',
    'OpenVINOModule', 'PRECISION_TOLERANCE', 'RUNTIME_PRECISION',
    'check_backbone_runtime', 'describe_report', 'onnxruntime_available',
    'runtime_module', 'use_backbone_runtime'
]

BACKBONE_RUNTIMES = ('auto', 'eager', 'onnxruntime', 'compile', 'openvino',
                     'openvino-bf16', 'onnxruntime-int8', 'openvino-int8')

# The number format each runtime computes the backbone in ('auto' runs
# eager or onnxruntime).
RUNTIME_PRECISION = {
    'auto': 'fp32', 'eager': 'fp32', 'onnxruntime': 'fp32', 'compile': 'fp32',
    'openvino': 'fp32', 'openvino-bf16': 'bf16', 'onnxruntime-int8': 'int8',
    'openvino-int8': 'int8'}

# Largest accepted relative RMS error of a reduced-precision runtime,
# ||runtime - eager||_2 / ||eager||_2 per output map, on the first batch.
# A max-error bound as fp32's PARITY_TOLERANCE would be decided by the one
# worst rounding of a whole map; the RMS error follows the map as a whole.
PRECISION_TOLERANCE = {'bf16': 0.05, 'int8': 0.2}

# 'auto' leaves eager PyTorch (the reference) only for a runtime at least
# this much faster on the first batch: closer timings are within this
# machine's run-to-run noise (a few percent, docs/benchmarks.md).
AUTO_MARGIN = 0.05

# Where each runtime's package comes from.
_PACKAGES = {
    'onnxruntime': ('onnxruntime', 'pip install onnxruntime'),
    'openvino': ('openvino', 'pip install openvino'),
    'onnxruntime-int8': ('onnxruntime', 'pip install onnxruntime onnx'),
    'openvino-int8': ('openvino', 'pip install openvino onnxruntime onnx'),
    'openvino-bf16': ('openvino', 'pip install openvino'),
}


def _as_tuple(outputs) -> tuple:
    return (outputs, ) if isinstance(outputs, torch.Tensor) else tuple(
        outputs)


def _relative_error(got: Sequence[torch.Tensor],
                    expected: Sequence[torch.Tensor]) -> float:
    """The largest of :func:`relative_errors`; inf where the number of
    outputs differs."""
    if len(got) != len(expected):
        return float('inf')
    return max(relative_errors(got, expected), default=0.)


def _parity_error(precision: str, got: Sequence[torch.Tensor],
                  expected: Sequence[torch.Tensor]) -> float:
    if len(got) != len(expected):
        return float('inf')
    if precision == 'fp32':
        return _relative_error(got, expected)
    return max(relative_errors(got, expected, norm='l2'), default=0.)


def _parity_measure(precision: str) -> str:
    return ('max relative error' if precision == 'fp32' else
            'relative RMS error')


def _tolerance(precision: str) -> float:
    return (PARITY_TOLERANCE if precision == 'fp32' else
            PRECISION_TOLERANCE[precision])


def onnxruntime_available() -> bool:
    """Whether ``import onnxruntime`` works."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def _import_for(runtime: str) -> None:
    """Import what ``runtime`` needs, or raise one ImportError naming the
    pip command."""
    if runtime not in _PACKAGES:
        return
    package, command = _PACKAGES[runtime]
    modules = [package]
    if runtime.endswith('-int8'):  # the quantization runs in onnxruntime
        modules += ['onnxruntime.quantization', 'onnx']
    for module in modules:
        try:
            __import__(module)
        except ImportError as error:
            raise ImportError(
                f'the {runtime} backbone runtime needs {module} ({error}): '
                f'{command} (versions pinned in requirements/deploy.txt), '
                f'or use --backbone-runtime eager.') from error


def openvino_capabilities() -> list:
    """OpenVINO's ``OPTIMIZATION_CAPABILITIES`` of the CPU (e.g. ``FP32``,
    ``INT8``, ``BF16``)."""
    import openvino as ov
    return list(ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))


def missing_instruction_set(runtime: str,
                            openvino_caps: Sequence[str] = ()
                            ) -> Optional[str]:
    """Why the CPU cannot run ``runtime`` in its precision, in words, or
    None where it can: ``openvino-bf16`` and ``openvino-int8`` need
    ``BF16`` / ``INT8`` among OpenVINO's ``openvino_caps``
    (:func:`openvino_capabilities`). onnxruntime runs INT8 on any CPU it
    supports (fastest with VNNI; without it, AVX2's uint8 x int8
    instruction can saturate, which the accuracy checks would show)."""
    if runtime == 'openvino-bf16' and 'BF16' not in openvino_caps:
        return ('this CPU has no bf16 instructions (AVX512-BF16 or '
                'AMX-BF16; OpenVINO reports its capabilities as '
                f'{list(openvino_caps)})')
    if runtime == 'openvino-int8' and 'INT8' not in openvino_caps:
        return ('OpenVINO offers no INT8 on this CPU (its capabilities: '
                f'{list(openvino_caps)})')
    return None


def check_backbone_runtime(runtime: str) -> None:
    """Raise, before any work, for a runtime that cannot run here.

    Raises:
        ValueError: for a name not in :data:`BACKBONE_RUNTIMES`.
        ImportError: a runtime whose package is not installed (the message
            names the pip command).
        RuntimeError: a bf16 or int8 runtime on a CPU without the
            instructions for it (the message names them).
    """
    if runtime not in BACKBONE_RUNTIMES:
        raise ValueError(f'unknown backbone runtime {runtime!r}; choose '
                         f'from {BACKBONE_RUNTIMES}.')
    _import_for(runtime)
    if runtime not in ('openvino-bf16', 'openvino-int8'):
        return
    missing = missing_instruction_set(runtime, openvino_capabilities())
    if missing:
        raise RuntimeError(
            f'the {runtime} backbone runtime cannot run here: {missing}; '
            f'use --backbone-runtime openvino (fp32) instead.')


class _ExportedModule(nn.Module):
    """A module run from its ONNX export by another runtime: same input,
    same outputs (a tensor or a tuple) as the module."""

    def __init__(self, module: nn.Module, example: torch.Tensor,
                 example_outputs=None):
        super().__init__()
        outputs = example_outputs
        if outputs is None:
            with torch.no_grad():
                outputs = module(example)
        self.returns_tensor = isinstance(outputs, torch.Tensor)
        self.output_names = [
            f'out{i}' for i in range(len(_as_tuple(outputs)))]

    def _export(self, module, example, folder) -> str:
        return export(module, osp.join(folder, 'backbone.onnx'),
                      shape=tuple(example.shape[2:]),
                      batch=example.shape[0],
                      output_names=self.output_names)

    def _run(self, x):
        raise NotImplementedError

    def forward(self, x: torch.Tensor):
        if x.device.type != 'cpu':
            raise RuntimeError(
                f'the {self.runtime} backbone runs on the CPU, but its input '
                f'is on {x.device}; use the eager or compile runtime there.')
        outputs = tuple(
            torch.from_numpy(o)
            for o in self._run(x.detach().float().contiguous().numpy()))
        return outputs[0] if self.returns_tensor else outputs


class OnnxRuntimeModule(_ExportedModule):
    """A module exported to ONNX and run by onnxruntime on the CPU.

    The ONNX file lives in a temporary folder only while the session is
    created; the session keeps the graph in memory.

    Args:
        module (nn.Module): the module, in eval mode, on the CPU, taking one
            (N, 3, H, W) float32 tensor and returning a tensor or a
            sequence of tensors.
        example (Tensor): an input (N, 3, H, W) to trace the export with;
            the graph has dynamic N, H and W.
        example_outputs: ``module(example)`` where the caller has it
            already (else it is run once here, for the number of
            outputs).
        spinning (bool): let idle onnxruntime threads spin (see
            :func:`~mmfasternet.deploy.onnx.onnxruntime_session`): only for
            a session timed alone; off where PyTorch runs in between.
        threads (int): onnxruntime's intra-op threads (default: PyTorch's
            number).
        onnx_file (str): run this ONNX file, an export of ``module`` with
            outputs ``out0``, ``out1``, ... (e.g. its INT8 quantization,
            :func:`~mmfasternet.deploy.quantize.quantize_module`), instead
            of exporting ``module``.
    """

    runtime = 'onnxruntime'

    def __init__(self, module: nn.Module, example: torch.Tensor,
                 example_outputs=None, spinning: bool = False,
                 threads: Optional[int] = None,
                 onnx_file: Optional[str] = None):
        super().__init__(module, example, example_outputs)
        if onnx_file is not None:
            self.session = onnxruntime_session(onnx_file, threads, spinning)
            return
        with tempfile.TemporaryDirectory() as tmp:
            path = self._export(module, example, tmp)
            self.session = onnxruntime_session(path, threads, spinning)

    def _run(self, x):
        return self.session.run(self.output_names, {'input': x})


class OpenVINOModule(_ExportedModule):
    """A module exported to ONNX and compiled by OpenVINO for the CPU.

    The graph keeps the export's dynamic N, H and W; OpenVINO reads the ONNX
    file itself (QDQ nodes of an INT8 export become INT8 kernels).

    Args:
        module, example, example_outputs: as for
            :class:`OnnxRuntimeModule`.
        precision (str): ``'fp32'`` or ``'bf16'``, OpenVINO's
            ``INFERENCE_PRECISION_HINT`` (``f32`` / ``bf16``) for the
            floating-point part of the graph.
        threads (int): ``INFERENCE_NUM_THREADS`` (default: PyTorch's
            number).
        onnx_file (str): as for :class:`OnnxRuntimeModule`.

    Attributes:
        compiled: OpenVINO's ``CompiledModel``
            (:func:`openvino_runtime_precisions` reads what it runs in).
    """

    runtime = 'openvino'

    def __init__(self, module: nn.Module, example: torch.Tensor,
                 example_outputs=None, precision: str = 'fp32',
                 threads: Optional[int] = None,
                 onnx_file: Optional[str] = None):
        super().__init__(module, example, example_outputs)
        import openvino as ov
        if precision not in ('fp32', 'bf16'):
            raise ValueError(f'precision must be "fp32" or "bf16", got '
                             f'{precision!r}.')
        config = {
            'INFERENCE_PRECISION_HINT': 'f32' if precision == 'fp32' else
            'bf16',
            'INFERENCE_NUM_THREADS': threads or max(1,
                                                    torch.get_num_threads()),
            'PERFORMANCE_HINT': 'LATENCY',
        }
        core = ov.Core()
        if onnx_file is not None:
            self.compiled = core.compile_model(onnx_file, 'CPU', config)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                self.compiled = core.compile_model(
                    self._export(module, example, tmp), 'CPU', config)
        self.request = self.compiled.create_infer_request()
        self._outputs = [self.compiled.output(name)
                         for name in self.output_names]

    def _run(self, x):
        results = self.request.infer({'input': x})
        return [results[output] for output in self._outputs]


def openvino_runtime_precisions(compiled) -> dict:
    """Per layer type of an OpenVINO ``CompiledModel``'s execution graph
    (e.g. ``Convolution``), a dict runtime precision -> number of layers
    (e.g. ``{'i8': 20, 'f32': 1}``): what the CPU plugin really runs."""
    counts = {}
    for op in compiled.get_runtime_model().get_ordered_ops():
        info = op.get_rt_info()
        layer = info['layerType'].astype(str)
        precision = info['runtimePrecision'].astype(str)
        per_layer = counts.setdefault(layer, {})
        per_layer[precision] = per_layer.get(precision, 0) + 1
    return counts


def runtime_module(module: nn.Module, runtime: str, example: torch.Tensor,
                   *, threads: Optional[int] = None,
                   calibration: Optional[Iterable[torch.Tensor]] = None,
                   int8_model: Optional[str] = None,
                   example_outputs=None,
                   compile_backend: str = 'inductor') -> nn.Module:
    """``module`` (in eval mode, on the CPU for all but eager and compile)
    in ``runtime``: a module giving the same outputs (a tensor or a tuple)
    for the same (N, 3, H, W) input, within the runtime's precision. Not
    checked against ``module`` here (:class:`BackboneRuntime` does that).

    Args:
        module (nn.Module): e.g. a FasterNet backbone in its deploy form.
        runtime (str): any of :data:`BACKBONE_RUNTIMES` but ``'auto'``.
        example (Tensor): an input to trace the ONNX export with.
        threads (int): the runtime's intra-op threads (default: PyTorch's
            number; ignored by eager and compile).
        calibration: for the int8 runtimes without ``int8_model``, the
            batches (N, 3, H, W) to calibrate the activations' ranges on
            (see :mod:`.quantize`); ignored otherwise.
        int8_model (str): for the int8 runtimes, an INT8 ONNX file of
            ``module`` to run (:func:`~.quantize.quantize_module`'s output,
            e.g. from the cache of :mod:`.calibration`) instead of
            calibrating one.
        example_outputs: ``module(example)`` where the caller has it.
        compile_backend (str): the ``torch.compile`` backend of
            ``'compile'``.

    Raises:
        ValueError: for an unknown runtime or ``'auto'``, or an int8
            runtime with neither ``calibration`` nor ``int8_model``.
        ImportError, RuntimeError: see :func:`check_backbone_runtime`.
    """
    if runtime == 'auto':
        raise ValueError('runtime_module needs one runtime; auto is chosen '
                         'by BackboneRuntime.')
    check_backbone_runtime(runtime)
    if runtime == 'eager':
        return module
    if runtime == 'compile':
        return torch.compile(module, dynamic=True, backend=compile_backend)
    if runtime == 'onnxruntime':
        return OnnxRuntimeModule(module, example, example_outputs,
                                 threads=threads)
    if runtime in ('openvino', 'openvino-bf16'):
        return OpenVINOModule(module, example, example_outputs,
                              precision=RUNTIME_PRECISION[runtime],
                              threads=threads)
    if int8_model is not None:
        return _int8_module(module, runtime, example, example_outputs,
                            threads, int8_model)
    if calibration is None:
        raise ValueError(
            f'the {runtime} backbone runtime needs calibration batches '
            f'(calibration=...) or a calibrated INT8 model (int8_model=...).')
    from .quantize import quantize_module
    with tempfile.TemporaryDirectory() as tmp:
        path = quantize_module(module, osp.join(tmp, 'int8.onnx'), example,
                               calibration)
        return _int8_module(module, runtime, example, example_outputs,
                            threads, path)


def _int8_module(module, runtime, example, example_outputs, threads, path):
    if runtime == 'onnxruntime-int8':
        return OnnxRuntimeModule(module, example, example_outputs,
                                 threads=threads, onnx_file=path)
    # f32 for what is not quantized: the QDQ graph decides what runs in int8
    return OpenVINOModule(module, example, example_outputs, precision='fp32',
                          threads=threads, onnx_file=path)


class BackboneRuntime(nn.Module):
    """A backbone run in one of :data:`BACKBONE_RUNTIMES`, chosen and
    prepared at its first call (see the module's docstring).

    It stands in for the backbone it wraps: same input (N, 3, H, W), same
    outputs (a tensor or a tuple of (N, C_i, H_i, W_i) maps). The wrapped
    backbone stays in :attr:`module` (eager, the parity reference).

    Args:
        backbone (nn.Module): the backbone, in eval mode (e.g. FasterNet in
            its deploy form).
        runtime (str): one of :data:`BACKBONE_RUNTIMES`.
        timing_runs (int): for ``'auto'``, timed calls of each candidate on
            the first batch, in interleaved rounds.
        compile_backend (str): the ``torch.compile`` backend of
            ``'compile'`` (``'inductor'``, or e.g. ``'aot_eager'`` where no
            C++ compiler is available).
        threads (int): the runtime's intra-op threads (default: PyTorch's
            number).
        calibration, int8_model: for the int8 runtimes, see
            :func:`runtime_module` (one of them is needed).

    Attributes:
        report (dict): empty until the first call, then ``runtime`` (the
            one running), ``requested``, ``precision`` (of
            :data:`RUNTIME_PRECISION`), ``reason`` (why, in words),
            ``input_shape`` of the first batch, ``setup_s`` (seconds of the
            export, quantization or of the first compiled call; 0 for
            eager), ``parity_error`` (on the first batch, fp32: max
            |runtime - eager| / max |eager|; bf16 and int8: the relative
            RMS error (:func:`~.onnx.relative_errors`, ``norm='l2'``); the
            largest over the outputs; None for eager), ``prepare_s``
            (seconds of the whole first call before the batch itself ran:
            the eager reference, every candidate's set-up and parity
            check, and the timing) and, for ``'auto'`` with more than one
            candidate, ``candidate_ms`` (median ms per call on the first
            batch).

    Raises:
        ValueError: for an unknown ``runtime``, or an int8 runtime with
            neither ``calibration`` nor ``int8_model``.
        ImportError, RuntimeError: a runtime whose package is missing or
            which the CPU cannot run (:func:`check_backbone_runtime`).
        RuntimeError: at the first call, for a runtime other than eager and
            compile on a non-CPU input, or a runtime whose outputs differ
            from eager PyTorch's by more than :data:`PARITY_TOLERANCE`
            (fp32) or :data:`PRECISION_TOLERANCE` (bf16, int8).
    """

    def __init__(self, backbone: nn.Module, runtime: str = 'auto',
                 timing_runs: int = 3, compile_backend: str = 'inductor',
                 threads: Optional[int] = None,
                 calibration: Optional[Iterable[torch.Tensor]] = None,
                 int8_model: Optional[str] = None):
        super().__init__()
        check_backbone_runtime(runtime)
        if (runtime.endswith('-int8') and calibration is None
                and int8_model is None):
            raise ValueError(
                f'the {runtime} backbone runtime needs an INT8 model '
                f'(int8_model=...) or calibration batches (calibration=...); '
                f'tools/deployment/compare_runtimes.py calibrates one on the '
                f'config\'s training set.')
        self.module = backbone
        self.runtime = runtime
        self.timing_runs = timing_runs
        self.compile_backend = compile_backend
        self.threads = threads
        self.int8_model = int8_model
        self.report = {}
        # plain attributes, not submodules: the compiled and exported forms
        # must not add a second copy of the weights to state_dict()
        self.__dict__['_call'] = None
        self.__dict__['calibration'] = calibration

    def forward(self, x: torch.Tensor):
        if self._call is None:
            self.__dict__['_call'] = self._prepare(x)
        return self._call(x)

    def _candidates(self, x: torch.Tensor) -> dict:
        """Runtime name -> why it is a candidate, for the input ``x``."""
        on_cpu = x.device.type == 'cpu'
        if self.runtime in ('eager', 'compile'):
            return {self.runtime: 'requested'}
        if self.runtime != 'auto':
            if not on_cpu:
                raise RuntimeError(
                    f'the {self.runtime} backbone runtime runs on the CPU, '
                    f'but the model is on {x.device}; use eager or compile.')
            return {self.runtime: 'requested'}
        if not on_cpu:
            return dict(eager=f'auto: the model is on {x.device}, where '
                        f'eager is the only candidate')
        if not onnxruntime_available():
            return dict(eager='auto: onnxruntime is not installed')
        return dict(eager='auto', onnxruntime='auto')

    def _build(self, name: str, x: torch.Tensor, expected) -> Callable:
        return runtime_module(
            self.module, name, x, threads=self.threads,
            calibration=self.calibration, int8_model=self.int8_model,
            example_outputs=expected, compile_backend=self.compile_backend)

    def _prepare(self, x: torch.Tensor) -> Callable:
        began = time.perf_counter()
        candidates = self._candidates(x)
        outputs = expected = None
        if list(candidates) != ['eager']:  # the parity reference
            with torch.no_grad():
                outputs = self.module(x)
            expected = _as_tuple(outputs)
        calls, setup, errors = {}, {}, {}
        for name in candidates:
            start = time.perf_counter()
            calls[name] = self._build(name, x, outputs)
            if name == 'eager':
                setup[name], errors[name] = 0., None
                continue
            with torch.no_grad():
                got = _as_tuple(calls[name](x))  # compiles, for compile
            setup[name] = time.perf_counter() - start
            precision = RUNTIME_PRECISION[name]
            errors[name] = _parity_error(precision, got, expected)
            if not errors[name] <= _tolerance(precision):
                raise RuntimeError(
                    f'the {name} backbone differs from eager PyTorch by '
                    f'{errors[name]:.3g} ({_parity_measure(precision)}) on '
                    f'a batch of shape {tuple(x.shape)}, above '
                    f'{_tolerance(precision)} for {precision}; run the '
                    f'backbone in eager PyTorch (--backbone-runtime eager) '
                    f'or an fp32 runtime, and report the model and input '
                    f'size.')
        self.report = dict(requested=self.runtime,
                           input_shape=tuple(x.shape))
        if len(calls) > 1:
            from ..utils.timing import interleaved_median_seconds
            seconds = interleaved_median_seconds(
                [lambda call=call: call(x) for call in calls.values()],
                warmup=0, repeats=self.timing_runs,
                device=x.device)
            times = {name: s * 1e3 for name, s in zip(calls, seconds)}
            self.report['candidate_ms'] = times
            fastest = min(times, key=times.get)
            clearly_faster = times[fastest] <= (1 - AUTO_MARGIN) * times[
                'eager']
            chosen = fastest if clearly_faster else 'eager'
            timings = ', '.join(f'{name} {ms:.1f} ms'
                                for name, ms in times.items())
            reason = (f'auto: {fastest} at least {AUTO_MARGIN:.0%} faster '
                      f'than eager on the first batch ({timings})'
                      if clearly_faster else
                      f'auto: nothing at least {AUTO_MARGIN:.0%} faster '
                      f'than eager on the first batch ({timings})')
        else:
            chosen, reason = next(iter(candidates.items()))
        self.report.update(runtime=chosen, reason=reason,
                           precision=RUNTIME_PRECISION[chosen],
                           setup_s=setup[chosen],
                           parity_error=errors[chosen],
                           prepare_s=time.perf_counter() - began)
        self.__dict__['calibration'] = None  # consumed, or never needed
        print_log(f'backbone runtime: {describe_report(self.report)}',
                  logger='current')
        return calls[chosen]


def describe_report(report: dict) -> str:
    """One line for a :attr:`BackboneRuntime.report`."""
    text = f'{report["runtime"]} ({report["reason"]}'
    if report['parity_error'] is not None:
        precision = report.get('precision', 'fp32')
        text += (f'; set-up {report["setup_s"]:.2f} s, '
                 f'{_parity_measure(precision)} vs eager '
                 f'{report["parity_error"]:.2g}')
        if precision != 'fp32':
            text += f' ({precision}, tolerance {_tolerance(precision)})'
    shape = 'x'.join(map(str, report['input_shape']))
    return text + f'; first batch {shape})'


def use_backbone_runtime(model: nn.Module, runtime: str = 'auto', *,
                         threads: Optional[int] = None,
                         calibration: Optional[Iterable[torch.Tensor]] = None,
                         int8_model: Optional[str] = None
                         ) -> BackboneRuntime:
    """Replace ``model.backbone`` (a detector, segmentor or classifier,
    or a wrapper with ``.module`` such as DDP) by a
    :class:`BackboneRuntime` running it in ``runtime``; the heads stay as
    they are. Put the model in its inference form first
    (:func:`~mmfasternet.deploy.switch_to_deploy`). ``threads``,
    ``calibration`` and ``int8_model``: see :class:`BackboneRuntime`.

    Returns:
        BackboneRuntime: the new ``model.backbone``; its ``report`` is
        filled at the model's first forward.

    Raises:
        ValueError: for a model without a ``backbone`` module, or an
            unknown ``runtime``.
        ImportError, RuntimeError, ValueError: see
            :class:`BackboneRuntime`.
    """
    model = getattr(model, 'module', model)
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, nn.Module):
        raise ValueError(f'{type(model).__name__} has no backbone module to '
                         f'run in {runtime!r}.')
    if isinstance(backbone, BackboneRuntime):
        backbone = backbone.module
    backbone.eval()  # not chained: mmdet's ResNet.train() returns None
    model.backbone = BackboneRuntime(backbone, runtime, threads=threads,
                                     calibration=calibration,
                                     int8_model=int8_model)
    return model.backbone
