"""One backbone (or whole model) in every runtime and precision the machine
offers, beside a baseline in the same runtimes, timed in interleaved rounds
in one process, with confidence intervals.

Each runtime is :func:`mmfasternet.deploy.runtime.runtime_module` (the
backbone runtimes of ``tools/test.py --deploy --backbone-runtime``), so the
rows measure what users run. Rows: one per (model, runtime, precision), with
the median ms, its confidence interval, and two speed-ups (img/s over),
each with a confidence interval of the paired rounds
(:mod:`benchmarks.intervals`): over the same model in eager PyTorch fp32,
and, for the compared model, over the baseline in the same runtime and
precision.
"""
import os
import os.path as osp
import platform
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn

from benchmarks.intervals import median_interval, ratio_interval, same_within
from mmfasternet.deploy.onnx import PARITY_TOLERANCE, relative_errors
from mmfasternet.deploy.runtime import (
    PRECISION_TOLERANCE,
    RUNTIME_PRECISION,
    check_backbone_runtime,
    runtime_module,
)
from mmfasternet.utils.timing import interleaved_seconds

__all__ = [
    'RUNTIMES', 'available_runtimes', 'benchmark_runtimes',
    'calibration_images', 'machine'
]

# Every backbone runtime but 'auto' (a choice among these) and 'compile'
# (tens of seconds of compiling on a CPU, docs/benchmarks.md).
RUNTIMES = ('eager', 'onnxruntime', 'openvino', 'openvino-bf16',
            'onnxruntime-int8', 'openvino-int8')
# CPU flags that decide which precisions run fast
CPU_FLAGS = ('avx2', 'avx512f', 'avx512_vnni', 'avx512_bf16', 'avx_vnni',
             'amx_tile', 'amx_int8', 'amx_bf16')
IMAGENET_MEAN = (123.675, 116.28, 103.53)
IMAGENET_STD = (58.395, 57.12, 57.375)


def machine() -> dict:
    """The CPU model, its flags of :data:`CPU_FLAGS`, the core count and the
    versions of the runtimes."""
    import importlib.metadata as metadata
    model, flags = platform.processor(), set()
    if osp.exists('/proc/cpuinfo'):
        with open('/proc/cpuinfo') as f:
            text = f.read()
        found = re.search(r'^model name\s*:\s*(.*)$', text, re.M)
        model = found.group(1) if found else model
        found = re.search(r'^flags\s*:\s*(.*)$', text, re.M)
        flags = set(found.group(1).split()) if found else set()
    versions = dict(python=platform.python_version())
    for package in ('torch', 'onnxruntime', 'openvino', 'onnx', 'mmfasternet'):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return dict(cpu=model, cpu_flags=[f for f in CPU_FLAGS if f in flags],
                cores=os.cpu_count(), versions=versions)


def available_runtimes(
        runtimes: Sequence[str] = RUNTIMES) -> Tuple[List[str], Dict[str,
                                                                     str]]:
    """The runtimes of ``runtimes`` that run here, and for each other one
    why not (the package or the instruction set it lacks)."""
    available, skipped = [], {}
    for runtime in runtimes:
        try:
            check_backbone_runtime(runtime)
        except (ImportError, RuntimeError) as error:
            skipped[runtime] = str(error)
        else:
            available.append(runtime)
    return available, skipped


def calibration_images(folder: Optional[str], number: int,
                       shape: Sequence[int],
                       seed: int = 0) -> Tuple[List[torch.Tensor], str]:
    """``number`` (1, 3, H, W) INT8 calibration inputs and what they are:
    the first ``number`` images of ``folder`` (sorted names) resized to
    ``shape`` and normalised with ImageNet's mean and std, or, without a
    folder, standard normal noise.

    Raises:
        FileNotFoundError: ``folder`` holds no JPEG or PNG image.
    """
    if folder is None:
        generator = torch.Generator().manual_seed(seed)
        return ([torch.randn(1, 3, *shape, generator=generator)
                 for _ in range(number)],
                f'{number} random N(0, 1) inputs (seed {seed})')
    from PIL import Image
    names = sorted(n for n in os.listdir(folder)
                   if n.lower().endswith(('.jpg', '.jpeg', '.png')))[:number]
    if not names:
        raise FileNotFoundError(f'no JPEG or PNG image in {folder!r}.')
    mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
    images = []
    for name in names:
        with Image.open(osp.join(folder, name)) as image:
            image = image.convert('RGB').resize(
                (shape[1], shape[0]), Image.BILINEAR)
            pixels = torch.from_numpy(np.asarray(image, dtype=np.float32))
        images.append((pixels.permute(2, 0, 1)[None] - mean) / std)
    return images, (f'{len(images)} images of {folder} ({", ".join(names)}) '
                    f'resized to {shape[0]}x{shape[1]}, ImageNet mean/std')


def _parity(precision: str, got, expected) -> Tuple[float, bool]:
    """The runtime's error against eager PyTorch, as the backbone runtimes
    check it: max relative error for fp32, relative RMS error for reduced
    precision, and whether it is within the tolerance."""
    got = (got, ) if isinstance(got, torch.Tensor) else tuple(got)
    expected = (expected, ) if isinstance(expected,
                                          torch.Tensor) else tuple(expected)
    if precision == 'fp32':
        error = max(relative_errors(got, expected))
        return error, error <= PARITY_TOLERANCE
    error = max(relative_errors(got, expected, norm='l2'))
    return error, error <= PRECISION_TOLERANCE[precision]


def runtime_and_precision(runtime: str) -> Tuple[str, str]:
    """A backbone runtime's name as the rows give it: ``'openvino-int8'``
    -> ``('openvino', 'int8')``."""
    return runtime.split('-')[0], RUNTIME_PRECISION[runtime]


def _ratio(reference: Sequence[float], times: Sequence[float]) -> dict:
    """``reference``'s median over ``times``'s (a speed-up of ``times``'s
    row, img/s over), its interval and whether it shows a difference."""
    interval = ratio_interval(reference, times)
    return dict(speedup=float(np.median(reference) / np.median(times)),
                ci=list(interval),
                no_measurable_difference=same_within(interval))


def benchmark_runtimes(models: Dict[str, nn.Module], baseline: str,
                       runtimes: Sequence[str], example: torch.Tensor,
                       threads: int, calibration: Sequence[torch.Tensor],
                       warmup: int = 3, rounds: int = 20,
                       call: Optional[Callable] = None,
                       on_row: Optional[Callable[[dict], None]] = None
                       ) -> List[dict]:
    """Time every model of ``models`` (name -> backbone, eval mode, CPU)
    in each of ``runtimes`` on ``example`` (N, 3, H, W), all in one list of
    interleaved rounds.

    Args:
        baseline: the name in ``models`` every other model is compared with
            in the same runtime and precision.
        threads: intra-op threads of every runtime (and of PyTorch).
        calibration: the INT8 runtimes' calibration inputs.
        call: ``call(name, runtime_module)`` -> the function to time,
            e.g. a whole model's ``predict`` with that backbone (default:
            the runtime module on ``example``).
        on_row: called with each row, after all are timed.

    Returns:
        list[dict]: per (model, runtime): ``model``, ``runtime`` (``eager``,
        ``onnxruntime``, ``openvino``), ``precision`` (``fp32``, ``bf16``,
        ``int8``), ``backbone_runtime`` (the name ``--backbone-runtime``
        takes), ``median_ms``, ``ci_ms`` (95%), ``images_per_s``,
        ``parity_error`` / ``parity_ok`` (against eager PyTorch on
        ``example``, as the backbone runtimes check it), ``times_ms`` (every
        round), but for eager itself ``vs_eager_fp32`` and, but for the
        baseline,
        ``vs_baseline`` (each ``speedup``, ``ci``,
        ``no_measurable_difference``).

    Raises:
        ValueError: ``baseline`` is not in ``models``, or ``runtimes`` lacks
            ``'eager'``.
    """
    if baseline not in models:
        raise ValueError(f'baseline {baseline!r} is not among the models '
                         f'{list(models)}.')
    if 'eager' not in runtimes:
        raise ValueError('the runtimes must include eager (the fp32 '
                         'reference of every ratio).')
    torch.set_num_threads(threads)
    functions = {}
    rows = []
    for name, module in models.items():
        module.eval()
        with torch.no_grad():
            expected = module(example)
        for runtime in runtimes:
            wrapped = runtime_module(module, runtime, example,
                                     threads=threads, calibration=calibration)
            base, precision = runtime_and_precision(runtime)
            with torch.no_grad():
                error, ok = _parity(precision, wrapped(example), expected)
            functions[name, runtime] = (
                (lambda w=wrapped: w(example)) if call is None else
                call(name, wrapped))
            rows.append(dict(model=name, runtime=base, precision=precision,
                             backbone_runtime=runtime, parity_error=error,
                             parity_ok=ok))
    times = interleaved_seconds(list(functions.values()), warmup, rounds)
    times = {key: [t * 1e3 for t in own]
             for key, own in zip(functions, times)}
    batch = example.shape[0]
    for row in rows:
        own = times[row['model'], row['backbone_runtime']]
        median = float(np.median(own))
        row.update(median_ms=median, ci_ms=list(median_interval(own)),
                   images_per_s=batch * 1e3 / median, times_ms=own)
        if row['backbone_runtime'] != 'eager':
            row['vs_eager_fp32'] = _ratio(times[row['model'], 'eager'], own)
        if row['model'] != baseline:
            row['vs_baseline'] = _ratio(
                times[baseline, row['backbone_runtime']], own)
        if on_row is not None:
            on_row(row)
    return rows
