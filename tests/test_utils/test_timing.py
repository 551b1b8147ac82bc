"""mmfasternet.utils.timing: the interleaved timing loop that the backbone
runtime's ``auto`` choice and the benchmarks use."""
import pytest

from mmfasternet.utils.timing import (
    interleaved_median_seconds,
    interleaved_seconds,
)


def test_interleaved_timing_runs_in_rounds():
    calls = []
    seconds = interleaved_median_seconds(
        [lambda: calls.append('a'), lambda: calls.append('b')], warmup=2,
        repeats=3)
    assert len(seconds) == 2 and all(s >= 0 for s in seconds)
    # warm-up of each, then rounds of (untimed, timed) per function
    assert ''.join(calls) == 'aabb' + 'aabb' * 3
    with pytest.raises(ValueError):
        interleaved_median_seconds([lambda: None], warmup=0, repeats=0)


def test_training_calls_keep_gradients_and_run_once_a_round():
    import torch
    weight = torch.ones(2, requires_grad=True)
    calls = []
    interleaved_median_seconds(
        [lambda: calls.append((weight * 2).requires_grad)], warmup=1,
        repeats=2, training=True)
    assert calls == [True] * 3  # one warm-up, then one timed call a round


def test_every_timed_call_is_kept_in_round_order():
    calls = []
    times = interleaved_seconds(
        [lambda: calls.append('a'), lambda: calls.append('b')], warmup=1,
        repeats=4)
    assert [len(own) for own in times] == [4, 4]
    assert all(t >= 0 for own in times for t in own)
    assert ''.join(calls) == 'ab' + 'aabb' * 4
