"""Paired differences between patterns: the same replication of two patterns, which share
every random draw (common random numbers), differenced replication by replication.

For patterns A and B and a metric, ``diff`` is the mean over replications of ``A_r - B_r``
with its Student-t interval (:func:`sim.metrics.stats.paired_ci`) and ``n`` the replications
where both are finite. A difference involving "never" (an infinite staleness in some
replication) is not a number: NaN, n 0. Without a baseline every pair of patterns is compared
once, in the order written (A before B); with one, every other pattern against it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from sim.metrics.stats import paired_ci

__all__ = ["COLUMNS", "paired_differences", "pairs"]

COLUMNS = ["pattern_a", "pattern_b", "metric", "diff", "ci_low", "ci_high", "n"]


def pairs(patterns: Sequence[str], baseline: str | None = None) -> list[tuple[str, str]]:
    """The (A, B) pairs to compare: each against the baseline, or every pair once."""
    if baseline is not None:
        return [(name, baseline) for name in patterns if name != baseline]
    return [(a, b) for i, a in enumerate(patterns) for b in patterns[i + 1 :]]


def paired_differences(
    runs: Iterable[tuple[str, int, Mapping[str, float]]],
    patterns: Sequence[str],
    metrics: Sequence[str],
    baseline: str | None = None,
) -> pd.DataFrame:
    """``runs`` holds ``(pattern, replication, metrics)``; the table has :data:`COLUMNS`."""
    by: dict[str, dict[int, Mapping[str, float]]] = {}
    for pattern, replication, values in runs:
        by.setdefault(pattern, {})[replication] = values
    rows = []
    for a, b in pairs(list(patterns), baseline):
        common = sorted(set(by.get(a, {})) & set(by.get(b, {})))
        for metric in metrics:
            xs = [float(by[a][r].get(metric, math.nan)) for r in common]
            ys = [float(by[b][r].get(metric, math.nan)) for r in common]
            if any(math.isinf(v) for v in (*xs, *ys)):
                rows.append((a, b, metric, math.nan, math.nan, math.nan, 0))
                continue
            diff, low, high, n = paired_ci(xs, ys)
            rows.append((a, b, metric, diff, low, high, n))
    return pd.DataFrame(rows, columns=COLUMNS)
