"""Running a model's backbone in the fastest runtime the machine offers.

A detector, segmentor or classifier keeps its heads in eager PyTorch while
its backbone runs in one of :data:`BACKBONE_RUNTIMES`:

- ``'eager'``: PyTorch as it is;
- ``'onnxruntime'``: the backbone exported to ONNX (dynamic batch, height
  and width) and run by onnxruntime's CPU execution provider;
- ``'compile'``: ``torch.compile`` (inductor, dynamic shapes);
- ``'auto'``: onnxruntime where it is at least :data:`AUTO_MARGIN` faster
  than eager on the first batch, else eager (onnxruntime is a candidate for
  a CPU model with onnxruntime installed).
  ``compile`` is never picked by ``auto``: on a CPU it compiles for tens of
  seconds before the first result (docs/benchmarks.md).

The backbone is prepared at its first call, on the batch it is given: the
export or compilation is timed, the new runtime's outputs are compared with
eager PyTorch's on that batch (:data:`PARITY_TOLERANCE`; a larger error is
an error, never a silent switch), and for ``'auto'`` each candidate is timed
on it. What was chosen, and what it cost, is logged and kept in
:attr:`BackboneRuntime.report`.
"""
import os.path as osp
import tempfile
import time
from typing import Callable, Sequence

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
    'check_backbone_runtime', 'describe_report', 'onnxruntime_available',
    'use_backbone_runtime'
]

BACKBONE_RUNTIMES = ('auto', 'eager', 'onnxruntime', 'compile')

# 'auto' leaves eager PyTorch (the reference) only for a runtime at least
# this much faster on the first batch: closer timings are within this
# machine's run-to-run noise (a few percent, docs/benchmarks.md).
AUTO_MARGIN = 0.05


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


def onnxruntime_available() -> bool:
    """Whether ``import onnxruntime`` works."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def check_backbone_runtime(runtime: str) -> None:
    """Raise, before any work, for a runtime that cannot run here.

    Raises:
        ValueError: for a name not in :data:`BACKBONE_RUNTIMES`.
        ImportError: ``'onnxruntime'`` without onnxruntime installed.
    """
    if runtime not in BACKBONE_RUNTIMES:
        raise ValueError(f'unknown backbone runtime {runtime!r}; choose '
                         f'from {BACKBONE_RUNTIMES}.')
    if runtime == 'onnxruntime' and not onnxruntime_available():
        raise ImportError(
            'the onnxruntime backbone runtime needs onnxruntime: pip '
            'install -r requirements/deploy.txt, or use '
            '--backbone-runtime eager.')


class OnnxRuntimeModule(nn.Module):
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
    """

    def __init__(self, module: nn.Module, example: torch.Tensor,
                 example_outputs=None, spinning: bool = False):
        super().__init__()
        outputs = example_outputs
        if outputs is None:
            with torch.no_grad():
                outputs = module(example)
        self.returns_tensor = isinstance(outputs, torch.Tensor)
        self.output_names = [
            f'out{i}' for i in range(len(_as_tuple(outputs)))]
        with tempfile.TemporaryDirectory() as tmp:
            path = export(module, osp.join(tmp, 'backbone.onnx'),
                          shape=tuple(example.shape[2:]),
                          batch=example.shape[0],
                          output_names=self.output_names)
            self.session = onnxruntime_session(path, spinning=spinning)

    def forward(self, x: torch.Tensor):
        if x.device.type != 'cpu':
            raise RuntimeError(
                f'the onnxruntime backbone runs on the CPU, but its input '
                f'is on {x.device}; use the eager or compile runtime there.')
        outputs = self.session.run(
            None, {'input': x.detach().float().contiguous().numpy()})
        outputs = tuple(torch.from_numpy(o) for o in outputs)
        return outputs[0] if self.returns_tensor else outputs


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

    Attributes:
        report (dict): empty until the first call, then ``runtime`` (the
            one running), ``requested``, ``reason`` (why, in words),
            ``input_shape`` of the first batch, ``setup_s`` (seconds of the
            export or of the first compiled call; 0 for eager),
            ``parity_error`` (max |runtime - eager| / max |eager| on the
            first batch; None for eager), ``prepare_s`` (seconds of the
            whole first call before the batch itself ran: the eager
            reference, every candidate's set-up and parity check, and the
            timing) and, for ``'auto'`` with more than one candidate,
            ``candidate_ms`` (median ms per call on the first batch).

    Raises:
        ValueError: for an unknown ``runtime``.
        ImportError: ``'onnxruntime'`` without onnxruntime installed.
        RuntimeError: at the first call, for ``'onnxruntime'`` on a
            non-CPU input, or a runtime whose outputs differ from eager
            PyTorch's by more than :data:`PARITY_TOLERANCE`.
    """

    def __init__(self, backbone: nn.Module, runtime: str = 'auto',
                 timing_runs: int = 3, compile_backend: str = 'inductor'):
        super().__init__()
        check_backbone_runtime(runtime)
        self.module = backbone
        self.runtime = runtime
        self.timing_runs = timing_runs
        self.compile_backend = compile_backend
        self.report = {}
        # a plain callable, not a submodule: the compiled and onnxruntime
        # forms must not add a second copy of the weights to state_dict()
        self.__dict__['_call'] = None

    def forward(self, x: torch.Tensor):
        if self._call is None:
            self.__dict__['_call'] = self._prepare(x)
        return self._call(x)

    def _candidates(self, x: torch.Tensor) -> dict:
        """Runtime name -> why it is a candidate, for the input ``x``."""
        on_cpu = x.device.type == 'cpu'
        if self.runtime == 'eager':
            return dict(eager='requested')
        if self.runtime == 'compile':
            return dict(compile='requested')
        if self.runtime == 'onnxruntime':
            if not on_cpu:
                raise RuntimeError(
                    f'the onnxruntime backbone runtime runs on the CPU, but '
                    f'the model is on {x.device}; use eager or compile.')
            return dict(onnxruntime='requested')
        if not on_cpu:
            return dict(eager=f'auto: the model is on {x.device}, where '
                        f'eager is the only candidate')
        if not onnxruntime_available():
            return dict(eager='auto: onnxruntime is not installed')
        return dict(eager='auto', onnxruntime='auto')

    def _build(self, name: str, x: torch.Tensor, expected) -> Callable:
        if name == 'eager':
            return self.module
        if name == 'onnxruntime':
            return OnnxRuntimeModule(self.module, x, expected)
        return torch.compile(self.module, dynamic=True,
                             backend=self.compile_backend)

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
            errors[name] = _relative_error(got, expected)
            if not errors[name] <= PARITY_TOLERANCE:
                raise RuntimeError(
                    f'the {name} backbone differs from eager PyTorch by '
                    f'{errors[name]:.3g} (max relative error) on a batch of '
                    f'shape {tuple(x.shape)}, above {PARITY_TOLERANCE}; run '
                    f'the backbone in eager PyTorch (--backbone-runtime '
                    f'eager) and report the model and input size.')
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
                           setup_s=setup[chosen],
                           parity_error=errors[chosen],
                           prepare_s=time.perf_counter() - began)
        print_log(f'backbone runtime: {describe_report(self.report)}',
                  logger='current')
        return calls[chosen]


def describe_report(report: dict) -> str:
    """One line for a :attr:`BackboneRuntime.report`."""
    text = f'{report["runtime"]} ({report["reason"]}'
    if report['parity_error'] is not None:
        text += (f'; set-up {report["setup_s"]:.2f} s, max relative error '
                 f'vs eager {report["parity_error"]:.2g}')
    shape = 'x'.join(map(str, report['input_shape']))
    return text + f'; first batch {shape})'


def use_backbone_runtime(model: nn.Module,
                         runtime: str = 'auto') -> BackboneRuntime:
    """Replace ``model.backbone`` (a detector, segmentor or classifier,
    or a wrapper with ``.module`` such as DDP) by a
    :class:`BackboneRuntime` running it in ``runtime``; the heads stay as
    they are. Put the model in its inference form first
    (:func:`~mmfasternet.deploy.switch_to_deploy`).

    Returns:
        BackboneRuntime: the new ``model.backbone``; its ``report`` is
        filled at the model's first forward.

    Raises:
        ValueError: for a model without a ``backbone`` module, or an
            unknown ``runtime``.
        ImportError: ``'onnxruntime'`` without onnxruntime installed.
    """
    model = getattr(model, 'module', model)
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, nn.Module):
        raise ValueError(f'{type(model).__name__} has no backbone module to '
                         f'run in {runtime!r}.')
    if isinstance(backbone, BackboneRuntime):
        backbone = backbone.module
    backbone.eval()  # not chained: mmdet's ResNet.train() returns None
    model.backbone = BackboneRuntime(backbone, runtime)
    return model.backbone
