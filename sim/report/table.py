"""The summary table of the report: one row per metric, grouped by family, one column per
variant, each value in human units with its 95 % interval when there is one.

An interval is shown only with two or more replications, clipped at what the metric can be
and flagged † when it had to be (:func:`sim.metrics.summarize.shown_interval`); "never" for a
staleness that never arrived; "—" for a metric a pattern does not have.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from sim.metrics.catalog import known_metrics
from sim.metrics.slo import base_metric
from sim.metrics.summarize import format_value, shown_interval
from sim.report.style import Look

__all__ = ["Cell", "TableRow", "cell", "summary_rows"]

_FAMILY_ORDER = ("latency", "throughput", "availability", "freshness", "integrity", "cost", "run")


@dataclass(frozen=True)
class Cell:
    text: str
    interval: str = ""
    passed: bool | None = None
    title: str = ""
    flag: str = ""


@dataclass(frozen=True)
class TableRow:
    family: str
    metric: str
    meaning: str
    cells: list[Cell]


def cell(metric: str, mean: float, low: float, high: float, n: int) -> Cell:
    text = format_value(metric, mean)
    interval, flag = "", ""
    if math.isfinite(mean) and math.isfinite(low) and math.isfinite(high) and n >= 2:
        low, high, clipped = shown_interval(metric, low, high)
        interval = f"[{format_value(metric, low)}, {format_value(metric, high)}]"
        flag = "†" if clipped else ""
    return Cell(text, interval, title=f"n = {n}", flag=flag)


def summary_rows(summary: pd.DataFrame, looks: dict[str, Look]) -> list[TableRow]:
    catalog = known_metrics()
    cells = {(str(r["pattern"]), str(r["metric"])): r for r in summary.to_dict("records")}
    seen = list(dict.fromkeys(summary["metric"].astype(str)))

    def family(metric: str) -> str:
        found = catalog.get(base_metric(metric))
        return found.family if found is not None else "run"

    ordered = sorted(
        seen,
        key=lambda m: (
            _FAMILY_ORDER.index(family(m)) if family(m) in _FAMILY_ORDER else 99,
            seen.index(m),
        ),
    )
    rows = []
    for metric in ordered:
        found = catalog.get(base_metric(metric))
        row = []
        for name in looks:
            r = cells.get((name, metric))
            row.append(
                Cell("—")
                if r is None
                else cell(
                    metric, float(r["mean"]), float(r["ci_low"]), float(r["ci_high"]), int(r["n"])
                )
            )
        rows.append(TableRow(family(metric), metric, found.meaning if found else "", row))
    return rows
