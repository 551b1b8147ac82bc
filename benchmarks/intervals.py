"""Confidence intervals of timed rounds: the median of one row's times and
the ratio of two rows' medians, by a percentile bootstrap over rounds.

Rows timed in interleaved rounds are paired: round ``i`` of every row ran
in the same phase of the machine, so a ratio's bootstrap resamples whole
rounds (the same indices for both rows), which keeps that pairing.
"""
from typing import Sequence, Tuple

import numpy as np

__all__ = ['median_interval', 'ratio_interval', 'same_within']

CONFIDENCE = 0.95
RESAMPLES = 2000


def _bounds(values: np.ndarray, confidence: float) -> Tuple[float, float]:
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return float(low), float(high)


def _round_indices(rounds: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(
        0, rounds, size=(resamples, rounds))


def median_interval(times: Sequence[float], confidence: float = CONFIDENCE,
                    resamples: int = RESAMPLES,
                    seed: int = 0) -> Tuple[float, float]:
    """A ``confidence`` interval of the median of ``times``."""
    times = np.asarray(times, dtype=float)
    picks = _round_indices(len(times), resamples, seed)
    return _bounds(np.median(times[picks], axis=1), confidence)


def ratio_interval(numerator: Sequence[float], denominator: Sequence[float],
                   confidence: float = CONFIDENCE, resamples: int = RESAMPLES,
                   seed: int = 0) -> Tuple[float, float]:
    """A ``confidence`` interval of ``median(numerator) /
    median(denominator)``, two rows timed in the same rounds (equal
    lengths, round ``i`` of one paired with round ``i`` of the other).

    Raises:
        ValueError: for rows of different lengths.
    """
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    if numerator.shape != denominator.shape:
        raise ValueError(f'paired rows need the same number of rounds, got '
                         f'{len(numerator)} and {len(denominator)}.')
    picks = _round_indices(len(numerator), resamples, seed)
    return _bounds(
        np.median(numerator[picks], axis=1) /
        np.median(denominator[picks], axis=1), confidence)


def same_within(interval: Tuple[float, float]) -> bool:
    """Whether a ratio's interval contains 1.0: no measurable
    difference."""
    return interval[0] <= 1.0 <= interval[1]
