"""Figures that compare whole options: the trade-off map, metrics against a swept value, and
metrics against load in a capacity search with each pattern's breaking point.

Pure functions from summary-like frames (``pattern, metric, mean, ci_low, ci_high, n``,
with point columns or a ``multiplier``) to plotly figures. Intervals are drawn clipped at
what the metric can be (:func:`sim.metrics.summarize.shown_interval`); SLO thresholds are
dashed lines; staleness 0 and "never" sit on labelled lines at the bottom and top of a log
axis, so no option drops off the chart.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.metrics.slo import Slo
from sim.metrics.summarize import shown_interval
from sim.report.style import Look, label, log_ticks, seconds_text, style

__all__ = ["INTEGRITY", "capacity_curves", "sweep_curves", "tradeoff"]

INTEGRITY = ("lost_updates", "duplicates", "reorders", "phantom_writes", "divergent_keys")
"""The counts the trade-off map sizes its markers by."""


def _rows(frame: pd.DataFrame, name: str, metric: str) -> pd.DataFrame:
    return frame[(frame["pattern"].astype(str) == name) & (frame["metric"] == metric)]


def _cells(summary: pd.DataFrame) -> dict[tuple[str, str], dict]:
    return {(str(r["pattern"]), str(r["metric"])): r for r in summary.to_dict("records")}


def _bounds(metric: str, mean: float, low: float, high: float) -> tuple[float, float]:
    """The error bar (minus, plus) around ``mean``, clipped; 0 without an interval."""
    if not (math.isfinite(mean) and math.isfinite(low) and math.isfinite(high)):
        return 0.0, 0.0
    low, high, _ = shown_interval(metric, low, high)
    return max(mean - low, 0.0), max(high - mean, 0.0)


def tradeoff(summary: pd.DataFrame, looks: Mapping[str, Look]) -> go.Figure:
    """Each variant placed by cost (p99 latency, x) against freshness (p99 staleness, y),
    with 95 % error bars; the marker's area grows with what arrived wrong or never (lost,
    duplicated, reordered, phantom writes and divergent keys per run); lower left is better."""
    fig = go.Figure()
    style(fig, "Trade-off: latency against staleness (marker size: integrity problems)", height=520)
    cells = _cells(summary)
    rows = []
    for look in looks.values():
        latency = cells.get((look.name, "latency_p99"))
        stale = cells.get((look.name, "staleness_p99"))
        if latency is None or not math.isfinite(float(latency["mean"])):
            continue
        problems = sum(
            float(cells[(look.name, m)]["mean"])
            for m in INTEGRITY
            if (look.name, m) in cells and math.isfinite(float(cells[(look.name, m)]["mean"]))
        )
        rows.append((look, latency, stale, problems))
    finite = [
        float(s["mean"])
        for _, _, s, _ in rows
        if s is not None and math.isfinite(float(s["mean"])) and float(s["mean"]) > 0
    ]
    floor = min(finite) / 4 if finite else 1e-3
    ceiling = max(finite) * 4 if finite else 1.0
    worst = max((p for *_, p in rows), default=0.0)
    for look, latency, stale, problems in rows:
        x = float(latency["mean"])
        xm, xp = _bounds("latency_p99", x, float(latency["ci_low"]), float(latency["ci_high"]))
        if stale is None or math.isnan(float(stale["mean"])):
            y, ym, yp, said = floor, 0.0, 0.0, "no copies"
        else:
            y = float(stale["mean"])
            ym, yp = _bounds("staleness_p99", y, float(stale["ci_low"]), float(stale["ci_high"]))
            said = "never" if math.isinf(y) else seconds_text(y)
            y = ceiling if math.isinf(y) else (floor if y <= 0 else y)
        size = 12 + (30 * math.sqrt(problems / worst) if worst > 0 else 0.0)
        fig.add_trace(
            go.Scatter(
                x=[x],
                y=[y],
                error_x={"type": "data", "array": [xp], "arrayminus": [xm], "color": look.color},
                error_y={"type": "data", "array": [yp], "arrayminus": [ym], "color": look.color},
                mode="markers+text",
                text=[label(look.name)],
                textposition="bottom right",
                name=label(look.name),
                meta=label(look.name),
                marker={"color": look.color, "size": size, "line": {"color": "white", "width": 1}},
                customdata=[[seconds_text(x), said, f"{problems:,.4g}"]],
                hovertemplate=f"{label(look.name)}<br>p99 latency %{{customdata[0]}}"
                "<br>p99 staleness %{customdata[1]}<br>integrity problems %{customdata[2]} per run"
                "<extra></extra>",
            )
        )
    xs = [float(latency["mean"]) for _, latency, _, _ in rows]
    ticks, text = log_ticks(xs)
    fig.update_xaxes(
        type="log", tickvals=ticks or None, ticktext=text or None, title_text="p99 latency (log)"
    )
    if xs:  # room for the error bars and the labels
        fig.update_xaxes(range=[math.log10(min(xs)) - 0.3, math.log10(max(xs)) + 0.3])
    ticks, text = log_ticks([floor * 4, ceiling / 4])
    fig.update_yaxes(
        type="log",
        tickvals=[floor, *(t for t in ticks if floor * 1.5 < t < ceiling / 1.5), ceiling],
        ticktext=[
            "0",
            *(s for t, s in zip(ticks, text, strict=True) if floor * 1.5 < t < ceiling / 1.5),
            "never",
        ],
        range=[math.log10(floor) - 0.15, math.log10(ceiling) + 0.15],
        title_text="p99 staleness (log)",
    )
    fig.update_layout(showlegend=False)
    return fig


def _panel_grid(metrics: Sequence[str], title: str, x_title: str) -> tuple[go.Figure, int]:
    cols = 1 if len(metrics) <= 1 else 2
    rows = max(math.ceil(len(metrics) / cols), 1)
    fig = make_subplots(
        rows=rows, cols=cols, subplot_titles=list(metrics) or None, vertical_spacing=0.3 / rows
    )
    style(fig, title, height=120 + 260 * rows)
    fig.update_layout(legend={"orientation": "h", "y": -0.1 / rows})
    for col in range(1, cols + 1):
        fig.update_xaxes(title_text=x_title, row=rows, col=col)
    return fig, cols


def _axis_for(fig: go.Figure, metric: str, values: list[float], row: int, col: int) -> None:
    if metric.startswith(("latency", "staleness")):
        ticks, text = log_ticks(values)
        if ticks:
            fig.update_yaxes(type="log", tickvals=ticks, ticktext=text, row=row, col=col)
    elif metric.endswith("_rate") or metric in ("never_propagated",):
        top = max(values, default=0.0)  # an all-zero panel is not drawn on a 0–100 % axis
        fig.update_yaxes(tickformat=".1%", range=[0, max(top * 1.2, 0.01)], row=row, col=col)
    else:
        fig.update_yaxes(rangemode="tozero", row=row, col=col)


def _threshold(fig: go.Figure, slos: Sequence[Slo], metric: str, row: int, col: int) -> None:
    for slo in slos:
        if slo.key == metric and math.isfinite(slo.threshold) and slo.threshold > 0:
            fig.add_hline(
                y=slo.threshold,
                line={"dash": "dash", "color": "#B00020", "width": 1},
                annotation_text=label(slo.text),
                annotation_font_size=10,
                row=row,
                col=col,
            )


def sweep_curves(
    summary: pd.DataFrame,
    points: Sequence[tuple[int, str]],
    looks: Mapping[str, Look],
    metrics: Sequence[str],
    slos: Sequence[Slo] = (),
    verdicts: pd.DataFrame | None = None,
) -> go.Figure:
    """Each metric against the sweep point (in the order written), one line per pattern with
    95 % error bars; SLO thresholds dashed, and the first point at which a pattern fails an
    SLO on that metric ringed in red (its breaking point in the sweep)."""
    fig, cols = _panel_grid(metrics, "Metrics across the sweep", "sweep point")
    labels = [text for _, text in points]
    for i, metric in enumerate(metrics):
        row, col = i // cols + 1, i % cols + 1
        shown: list[float] = []
        for look in looks.values():
            mine = _rows(summary, look.name, metric)
            by_point = {int(r["point"]): r for r in mine.to_dict("records")}
            ys, minus, plus = [], [], []
            for index, _ in points:
                r = by_point.get(index)
                mean = float(r["mean"]) if r is not None else math.nan
                m, p = (
                    _bounds(metric, mean, *(float(r[c]) for c in ("ci_low", "ci_high")))
                    if r is not None
                    else (0.0, 0.0)
                )
                ys.append(mean if math.isfinite(mean) else math.nan)
                minus.append(m)
                plus.append(p)
            shown += [y for y in ys if math.isfinite(y)]
            fig.add_trace(
                go.Scatter(
                    x=[label(t) for t in labels],
                    y=ys,
                    error_y={"type": "data", "array": plus, "arrayminus": minus},
                    mode="lines+markers",
                    name=label(look.name),
                    meta=label(look.name),
                    legendgroup=look.name,
                    showlegend=i == 0,
                    line={"color": look.color, "dash": look.dash},
                ),
                row=row,
                col=col,
            )
            if verdicts is not None and len(verdicts):
                failed = verdicts[
                    (verdicts["pattern"].astype(str) == look.name)
                    & (verdicts["metric"] == metric)
                    & ~verdicts["passed"].astype(bool)
                ]
                if len(failed):
                    first = int(failed["point"].min())
                    at = next(j for j, (index, _) in enumerate(points) if index == first)
                    if math.isfinite(ys[at]):
                        fig.add_trace(
                            go.Scatter(
                                x=[label(labels[at])],
                                y=[ys[at]],
                                mode="markers",
                                name="first SLO failure",
                                legendgroup="breaks",
                                showlegend=False,
                                marker={
                                    "symbol": "circle-open",
                                    "size": 18,
                                    "color": "#B00020",
                                    "line": {"width": 2},
                                },
                                hovertemplate=f"{label(look.name)} fails here",
                            ),
                            row=row,
                            col=col,
                        )
        _axis_for(fig, metric, shown, row, col)
        _threshold(fig, slos, metric, row, col)
    return fig


def capacity_curves(
    probes: pd.DataFrame,
    breaking: pd.DataFrame,
    looks: Mapping[str, Look],
    metrics: Sequence[str],
    slos: Sequence[Slo] = (),
) -> go.Figure:
    """Each SLO's metric against the load multiplier, one line per pattern through its
    probes with 95 % error bars, the SLO threshold dashed, and each pattern's breaking
    interval (highest load that passed, lowest that failed) as a band in its colour."""
    fig, cols = _panel_grid(
        metrics, "Capacity: metrics against load", "load multiplier (× the scenario's rates)"
    )
    for i, metric in enumerate(metrics):
        row, col = i // cols + 1, i % cols + 1
        shown: list[float] = []
        for look in looks.values():
            mine = _rows(probes, look.name, metric)
            mine = mine.sort_values("multiplier", kind="stable").drop_duplicates(
                "multiplier", keep="last"
            )
            if mine.empty:
                continue
            means = mine["mean"].to_numpy(dtype=float)
            bars = [
                _bounds(metric, float(m), float(lo), float(hi))
                for m, lo, hi in zip(means, mine["ci_low"], mine["ci_high"], strict=True)
            ]
            shown += [float(v) for v in means if math.isfinite(v)]
            fig.add_trace(
                go.Scatter(
                    x=mine["multiplier"].to_numpy(dtype=float),
                    y=np.where(np.isfinite(means), means, np.nan),
                    error_y={
                        "type": "data",
                        "array": [b[1] for b in bars],
                        "arrayminus": [b[0] for b in bars],
                    },
                    mode="lines+markers",
                    name=label(look.name),
                    meta=label(look.name),
                    legendgroup=look.name,
                    showlegend=i == 0,
                    line={"color": look.color, "dash": look.dash},
                    customdata=mine["rate"].to_numpy(dtype=float),
                    hovertemplate="× %{x:.3g} (%{customdata:.4g}/s): %{y:.4g}",
                ),
                row=row,
                col=col,
            )
            found = breaking[breaking["pattern"].astype(str) == look.name]
            if len(found):
                low, high = float(found["low"].iloc[0]), float(found["high"].iloc[0])
                if math.isfinite(low) and math.isfinite(high):
                    fig.add_vrect(
                        x0=low,
                        x1=high,
                        fillcolor=look.color,
                        opacity=0.15,
                        line_width=0,
                        row=row,
                        col=col,
                    )
        _axis_for(fig, metric, shown, row, col)
        _threshold(fig, slos, metric, row, col)
    return fig
