"""Timing of forward passes: one loop for every benchmark."""
import statistics
import time
from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
import torch.nn as nn

DTYPES = dict(fp32=torch.float32, fp16=torch.float16, bf16=torch.bfloat16)

Device = Union[str, torch.device, None]


def synchronize(device: Device = None) -> None:
    """Wait for the work queued on ``device`` (a no-op off CUDA)."""
    device = torch.device(device or 'cpu')
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


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


def interleaved_median_seconds(fns: Sequence[Callable[[], object]],
                               warmup: int, repeats: int,
                               device: Device = None,
                               training: bool = False) -> List[float]:
    """Median wall-clock seconds of one call of each of ``fns``, timed in
    rounds (A, B, C, A, B, C, ...) so that a slow phase of a noisy machine
    hits every function alike.

    Each function is called ``warmup`` times untimed first. In each of the
    ``repeats`` rounds every function gets one untimed call and then one
    timed call, so that the timed call finds its own weights in the caches
    as in back-to-back timing rather than those of the function before it.
    The calls run under ``torch.no_grad()``; on a CUDA ``device`` the
    device is synchronised after each call.

    With ``training=True`` (training iterations, which need gradients and
    cost a whole step each) gradients stay on and each round has only the
    timed call.

    Returns:
        list[float]: one median per function, in the order of ``fns``.

    Raises:
        ValueError: if ``repeats`` < 1 or ``warmup`` < 0.
    """
    if repeats < 1 or warmup < 0:
        raise ValueError(f'repeats must be >= 1 and warmup >= 0, got '
                         f'repeats={repeats}, warmup={warmup}.')
    times = [[] for _ in fns]
    with torch.set_grad_enabled(training):
        for fn in fns:
            for _ in range(warmup):
                fn()
        synchronize(device)
        for _ in range(repeats):
            for fn, own in zip(fns, times):
                if not training:
                    fn()
                synchronize(device)
                start = time.perf_counter()
                fn()
                synchronize(device)
                own.append(time.perf_counter() - start)
    return [statistics.median(own) for own in times]


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
