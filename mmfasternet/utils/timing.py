"""Wall-clock timing of callables that run on a CPU or a CUDA device."""
import statistics
import time
from typing import Callable, List, Sequence, Union

import torch

__all__ = [
    'Device', 'interleaved_median_seconds', 'interleaved_seconds',
    'synchronize'
]

Device = Union[str, torch.device, None]


def synchronize(device: Device = None) -> None:
    """Wait for the work queued on ``device`` (a no-op off CUDA)."""
    device = torch.device(device or 'cpu')
    if device.type == 'cuda':
        torch.cuda.synchronize(device)


def interleaved_seconds(fns: Sequence[Callable[[], object]], warmup: int,
                        repeats: int, device: Device = None,
                        training: bool = False) -> List[List[float]]:
    """Wall-clock seconds of every timed call of each of ``fns``, timed in
    rounds (A, B, C, A, B, C, ...), so that a slow phase of the machine
    falls on every function alike.

    Each function is first called ``warmup`` times untimed. In each of the
    ``repeats`` rounds every function gets one untimed call and then one
    timed call, so that the timed call finds its own data in the caches
    rather than that of the function before it. The calls run under
    ``torch.no_grad()``; on a CUDA ``device`` the device is synchronised
    before and after each timed call, so the kernels a call queues count
    in its time.

    With ``training=True`` (calls that need gradients, e.g. whole
    training iterations) gradients stay on and each round has only the
    timed call.

    Returns:
        list[list[float]]: per function, in the order of ``fns``, its
        ``repeats`` times in round order.

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
    return times


def interleaved_median_seconds(fns: Sequence[Callable[[], object]],
                               warmup: int, repeats: int,
                               device: Device = None,
                               training: bool = False) -> List[float]:
    """The median of each function's times of :func:`interleaved_seconds`
    (same arguments), in the order of ``fns``.

    Raises:
        ValueError: if ``repeats`` < 1 or ``warmup`` < 0.
    """
    return [
        statistics.median(own) for own in interleaved_seconds(
            fns, warmup, repeats, device=device, training=training)
    ]
