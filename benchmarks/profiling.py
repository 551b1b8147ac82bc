"""Where the time of a forward pass goes, op by op (torch.profiler)."""
from typing import Callable, List

from benchmarks.timing import median_seconds
from mmfasternet.utils.timing import Device, synchronize


def profile_ops(fn: Callable[[], object], repeats: int, warmup: int = 1,
                device: Device = 'cpu') -> List[dict]:
    """Profile ``repeats`` calls of ``fn`` (after ``warmup`` untimed ones)
    with torch.profiler, under ``torch.no_grad()``.

    Returns:
        list[dict]: one dict per op that took time, ``op`` (name),
        ``calls`` and ``self_ms`` (per call of ``fn``: the op's own device
        time on CUDA, its own CPU time elsewhere, in ms), largest first.
    """
    import torch
    from torch.profiler import ProfilerActivity, profile
    on_gpu = torch.device(device or 'cpu').type == 'cuda'
    median_seconds(fn, warmup, 1, device)
    activities = [ProfilerActivity.CPU] + (
        [ProfilerActivity.CUDA] if on_gpu else [])
    with torch.no_grad(), profile(activities=activities) as prof:
        for _ in range(repeats):
            fn()
        synchronize(device)
    rows = []
    for event in prof.key_averages():
        self_us = (event.self_device_time_total if on_gpu else
                   event.self_cpu_time_total)
        if self_us > 0:
            rows.append(dict(op=event.key, calls=event.count // repeats,
                             self_ms=self_us / 1e3 / repeats))
    rows.sort(key=lambda row: -row['self_ms'])
    return rows
