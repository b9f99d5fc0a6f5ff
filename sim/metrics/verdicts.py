"""Verdicts: each pattern against each SLO, judged on the mean across replications.

The mean is the figure the summary shows; the interval is shown beside it. A metric a pattern
does not have (no broker, no connector) cannot pass: the check fails as "not measured". Each
check carries its margin (:meth:`sim.metrics.slo.Slo.margin`: how far from the threshold, in
the metric's unit, positive when it passes); :func:`rollup` sums the checks up per pattern.
"""

from __future__ import annotations

import math

import pandas as pd

from sim.metrics.slo import Slo

__all__ = ["COLUMNS", "evaluate", "rollup"]

COLUMNS = ["pattern", "slo", "metric", "value", "ci_low", "ci_high", "passed", "margin"]


def evaluate(slos: list[Slo], summary: pd.DataFrame, patterns: list[str]) -> pd.DataFrame:
    """Verdicts: one row per (pattern, SLO): :data:`COLUMNS`, in pattern then SLO order;
    ``metric`` is what is judged (``latency_p99{op:write}@fault`` for a slice and window)."""
    names = ("pattern", "metric", "mean", "ci_low", "ci_high")
    found: dict[tuple[str, str], tuple[float, float, float]] = {
        (str(pattern), str(metric)): (float(mean), float(low), float(high))
        for pattern, metric, mean, low, high in zip(
            *(summary[name].tolist() for name in names), strict=True
        )
    }
    rows = []
    for pattern in patterns:
        for slo in slos:
            mean, low, high = found.get((pattern, slo.key), (math.nan, math.nan, math.nan))
            rows.append(
                (pattern, slo.text, slo.key, mean, low, high, slo.holds(mean), slo.margin(mean))
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def rollup(verdicts: pd.DataFrame, patterns: list[str]) -> pd.DataFrame:
    """Per pattern: ``pattern, checks, failed, passes, first_failed`` (the first SLO it fails,
    in the order written; empty when it passes all)."""
    rows = []
    for pattern in patterns:
        mine = verdicts[verdicts["pattern"] == pattern]
        failed = mine[~mine["passed"].astype(bool)]
        first = str(failed["slo"].iloc[0]) if len(failed) else ""
        rows.append((pattern, len(mine), len(failed), len(failed) == 0, first))
    return pd.DataFrame(rows, columns=["pattern", "checks", "failed", "passes", "first_failed"])
