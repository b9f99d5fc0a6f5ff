"""Statistics across replications: Student-t intervals (scipy), paired differences, and the
MSER-5 truncation rule for the warm-up.

- :func:`mean_ci` — the mean of the finite values and its two-sided Student-t interval.
- :func:`paired_ci` — the mean of the differences of paired values (the same replication of
  two patterns, which share every draw) and its Student-t interval: with common random numbers
  its variance is the variance of the difference, smaller than the sum of the two variances
  when the patterns move together.
- :func:`welch_ci` — the difference of two independent means (Welch–Satterthwaite degrees of
  freedom), for samples that are not paired (two run folders, two seeds).
- :func:`mser5` — White's MSER-5 rule: batch the output series in means of 5 and choose the
  truncation that minimises the squared standard error of the remaining mean, searching the
  first half of the series [WHITE-1997].

[WHITE-1997] K. P. White Jr., "An effective truncation heuristic for bias reduction in
simulation output", Simulation 69(6), 1997, pp. 323–334.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["mean_ci", "mser5", "paired_ci", "t_quantile", "welch_ci"]


def t_quantile(probability: float, df: float) -> float:
    """The ``probability`` quantile of Student's t with ``df`` degrees of freedom."""
    if not 0.0 < probability < 1.0:
        raise ValueError(f"probability must be in (0, 1) (got {probability})")
    from scipy import stats  # imported when first needed: it costs a second at start-up

    return float(stats.t.ppf(probability, df))


def _finite(values: Sequence[float | None]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(v)]


def mean_ci(values: Sequence[float | None], level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean and Student-t interval of the finite values: ``(mean, low, high, n)``.

    The interval is NaN when fewer than two values are finite.
    """
    finite = _finite(values)
    n = len(finite)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = math.fsum(finite) / n
    if n == 1:
        return mean, math.nan, math.nan, 1
    variance = math.fsum((v - mean) ** 2 for v in finite) / (n - 1)
    half = t_quantile(0.5 + level / 2.0, n - 1) * math.sqrt(variance / n)
    return mean, mean - half, mean + half, n


def paired_ci(
    a: Sequence[float | None], b: Sequence[float | None], level: float = 0.95
) -> tuple[float, float, float, int]:
    """Mean of ``a[i] - b[i]`` over the pairs where both are finite, with its Student-t
    interval: ``(difference, low, high, pairs)``."""
    if len(a) != len(b):
        raise ValueError(f"paired samples must have one length (got {len(a)} and {len(b)})")
    differences = [
        float(x) - float(y)
        for x, y in zip(a, b, strict=True)
        if x is not None and y is not None and math.isfinite(x) and math.isfinite(y)
    ]
    return mean_ci(differences, level)


def welch_ci(
    a: Sequence[float | None], b: Sequence[float | None], level: float = 0.95
) -> tuple[float, float, float]:
    """``mean(a) - mean(b)`` of two independent samples with Welch's interval:
    ``(difference, low, high)`` (NaN bounds when a sample has fewer than two values)."""
    x, y = _finite(a), _finite(b)
    if not x or not y:
        return math.nan, math.nan, math.nan
    difference = math.fsum(x) / len(x) - math.fsum(y) / len(y)
    if len(x) < 2 or len(y) < 2:
        return difference, math.nan, math.nan
    vx = float(np.var(x, ddof=1)) / len(x)
    vy = float(np.var(y, ddof=1)) / len(y)
    se = math.sqrt(vx + vy)
    if se == 0.0:
        return difference, difference, difference
    df = (vx + vy) ** 2 / (vx**2 / (len(x) - 1) + vy**2 / (len(y) - 1))
    half = t_quantile(0.5 + level / 2.0, df) * se
    return difference, difference - half, difference + half


def mser5(series: Sequence[float] | np.ndarray) -> int:
    """MSER-5: how many leading observations of ``series`` to discard (a multiple of 5).

    The series is cut into batches of 5 (a last partial batch is dropped); for each candidate
    truncation ``d`` batches, in the first half, MSER(d) = Σ (Y_i - Ȳ_d)² / (k - d)² over the
    remaining ``k - d`` batch means; the smallest wins (the earliest on ties). Fewer than 10
    batches: 0.
    """
    values = np.asarray(series, dtype=float)
    k = len(values) // 5
    if k < 10:
        return 0
    batches = values[: k * 5].reshape(k, 5).mean(axis=1)
    tail = batches[::-1]
    count = np.arange(1, k + 1, dtype=float)
    sums = np.cumsum(tail)
    squares = np.cumsum(tail * tail)
    sse = squares - sums * sums / count  # Σ (Y - Ȳ)² of the last m batches, m = 1..k
    m = count[::-1]  # remaining batches after truncating d = 0..k-1
    mser = sse[::-1] / (m * m)
    half = k // 2
    d = int(np.argmin(mser[: half + 1]))
    return d * 5
