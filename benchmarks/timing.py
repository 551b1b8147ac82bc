"""Timing of forward passes, one call after another, and the placement of
a model and its input for it. Interleaved rounds over several callables:
:func:`mmfasternet.utils.timing.interleaved_seconds` and
:func:`~mmfasternet.utils.timing.interleaved_median_seconds`."""
import statistics
import time
from typing import Callable, Optional, Tuple

import torch
import torch.nn as nn

from mmfasternet.utils.timing import Device, synchronize

__all__ = ['DTYPES', 'median_seconds', 'prepare_for_timing']

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)


def median_seconds(fn: Callable[[], object], warmup: int, repeats: int,
                   device: Device = None) -> float:
    """Median wall-clock time of one call of ``fn``, in seconds.

    ``fn`` is called ``warmup`` times untimed, then ``repeats`` times timed
    one by one, all under ``torch.no_grad()``. On a CUDA ``device`` the
    device is synchronised after each call, so queued kernels count in the
    call that launched them.

    Raises:
        ValueError: if ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats must be >= 1 and warmup >= 0, got '
                         f'repeats={repeats}, warmup={warmup}.')
    with torch.no_grad():
        for _ in range(warmup):
            fn()
        synchronize(device)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            synchronize(device)
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def prepare_for_timing(model: nn.Module, example: torch.Tensor,
                       device: Device = 'cpu', dtype: str = 'fp32',
                       channels_last: bool = False, compiled: bool = False,
                       compile_mode: Optional[str] = None
                       ) -> Tuple[nn.Module, torch.Tensor]:
    """``model`` and its input ``example`` (N, 3, H, W) moved to ``device``,
    ``dtype`` (a key of :data:`DTYPES`) and memory format, the model
    wrapped in ``torch.compile(mode=compile_mode)`` if ``compiled``.

    On the CPU compiling turns on inductor's ``freezing`` for the rest of
    the process: weights become constants that oneDNN prepacks, most of
    what compiling gains there.

    Raises:
        KeyError: for a ``dtype`` that is not in :data:`DTYPES`.
    """
    device = torch.device(device)
    memory_format = (torch.channels_last
                     if channels_last else torch.contiguous_format)
    model = model.to(device, DTYPES[dtype], memory_format=memory_format)
    example = example.to(device, DTYPES[dtype], memory_format=memory_format)
    if compiled:
        if device.type == 'cpu':
            import torch._inductor.config as inductor_config
            inductor_config.freezing = True
        model = torch.compile(model, mode=compile_mode)
    return model, example
