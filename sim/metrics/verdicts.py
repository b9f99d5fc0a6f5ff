"""Verdicts: each pattern against each SLO, judged on the mean across replications.

The mean is the figure the summary shows; the interval is shown beside it. A metric a pattern
does not have (no broker, no connector) cannot pass: the check fails as "not measured".
"""

from __future__ import annotations

import math

import pandas as pd

from sim.metrics.slo import Slo

__all__ = ["evaluate"]


def evaluate(slos: list[Slo], summary: pd.DataFrame, patterns: list[str]) -> pd.DataFrame:
    """Verdicts: one row per (pattern, SLO): ``pattern, slo, metric, value, ci_low, ci_high,
    passed``, in pattern then SLO order."""
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
            mean, low, high = found.get((pattern, slo.metric), (math.nan, math.nan, math.nan))
            rows.append((pattern, slo.text, slo.metric, mean, low, high, slo.holds(mean)))
    columns = ["pattern", "slo", "metric", "value", "ci_low", "ci_high", "passed"]
    return pd.DataFrame(rows, columns=columns)
