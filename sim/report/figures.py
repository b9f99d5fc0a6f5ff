"""Request figures: latency distribution, latency and throughput over time, failed requests.

Pure functions from the tidy ``requests`` frame (and the fault windows) to plotly figures;
nothing here reads files, opens a browser or looks at the clock, so the same frames always
give the same figure.

Conventions shared by every figure of the report:

- **Looks**: ``looks`` (:func:`sim.report.style.looks_for`) gives each variant its colour and
  dash, in the order written; without it, each name in the frame is its own kind.
- **Warm-up excluded**: requests that started before ``warmup`` are left out, as they are from
  the metrics, so a share on a chart is the share in the summary.
- **Replications pooled** for distributions (percentiles over all requests of all
  replications); rates are divided by the number of replications (so they read "per run").
- **Units**: frames hold seconds; latency axes are log with ticks in human units (``2 ms``,
  ``1 s``). Names from user data are escaped before they reach plotly.
- Every trace's ``meta`` is its variant, so coinciding curves can be found
  (:func:`sim.report.panels.coinciding`).

Left out: the page (:mod:`sim.report.page`) and the consistency figures
(:mod:`sim.report.freshness`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sim.report.panels import (
    auto_bin_seconds,
    grid,
    percentile_line,
    shade_faults,
    time_bins,
)
from sim.report.style import (
    OUTCOME_COLORS,
    Look,
    label,
    log_ticks,
    looks_for,
    mark_empty,
    new_figure,
)

__all__ = [
    "MAX_CURVE_POINTS",
    "auto_bin_seconds",
    "ecdf",
    "latency_cdf",
    "latency_over_time",
    "measured",
    "ordered_looks",
    "outcomes_bar",
    "throughput_errors",
]

#: Most points drawn per distribution curve; larger samples are thinned to this many quantiles.
MAX_CURVE_POINTS = 1000
_OK = "ok"


def ordered_looks(frame: pd.DataFrame, looks: Mapping[str, Look] | None) -> list[Look]:
    """The looks to draw: those given, in their order, else one per name in the frame
    (sorted, each name its own kind)."""
    if looks is not None:
        return list(looks.values())
    names = sorted({str(p) for p in frame["pattern"].unique()}) if "pattern" in frame else []
    return list(looks_for((n, n) for n in names).values())


def measured(requests: pd.DataFrame, warmup: float) -> pd.DataFrame:
    """Requests that started at or after the warm-up (those the metrics count)."""
    return requests if warmup <= 0 else requests[requests["start"] >= warmup]


def _groups(frame: pd.DataFrame, looks: Iterable[Look]) -> list[tuple[Look, pd.DataFrame]]:
    groups = dict(iter(frame.groupby(frame["pattern"].astype(str), sort=True)))
    return [(look, groups[look.name]) for look in looks if look.name in groups]


def ecdf(values: np.ndarray, total: int, *, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points of the ECDF of ``values`` over ``total`` samples, thinned to quantiles.

    ``offset`` samples are counted as lying left of every value (e.g. zero delays on a log
    axis). At most :data:`MAX_CURVE_POINTS` points are kept, always including both ends.
    """
    ordered = np.sort(values)
    n = len(ordered)
    if n == 0 or total == 0:
        return np.empty(0), np.empty(0)
    index = np.arange(n)
    if n > MAX_CURVE_POINTS:
        index = np.unique(np.round(np.linspace(0, n - 1, MAX_CURVE_POINTS)).astype(np.int64))
    return ordered[index], (index + 1 + offset) / total


def _log_axis(fig: go.Figure, values: Iterable[float], axis: str, title: str) -> None:
    ticks, text = log_ticks(list(values))
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    update(type="log", tickvals=ticks or None, ticktext=text or None, title_text=title)


def latency_cdf(
    requests: pd.DataFrame, *, looks: Mapping[str, Look] | None = None, warmup: float = 0.0
) -> go.Figure:
    """Empirical CDF of the latency of successful requests, one curve per variant."""
    fig = new_figure("Latency distribution (successful requests)", height=440)
    drawn = ordered_looks(requests, looks)
    ok = measured(requests, warmup)
    ok = ok.loc[ok["outcome"] == _OK, ["pattern", "latency"]]
    for look, group in _groups(ok, drawn):
        x, y = ecdf(group["latency"].to_numpy(dtype=float), len(group))
        keep = x > 0  # a log axis cannot show 0
        fig.add_trace(
            go.Scatter(
                x=x[keep],
                y=y[keep],
                mode="lines",
                name=label(look.name),
                meta=label(look.name),
                line={"color": look.color, "dash": look.dash, "width": 2},
                hovertemplate="%{x:.3s}s: %{y:.2%} of requests",
            )
        )
    _log_axis(fig, ok["latency"], "x", "latency (log scale)")
    fig.update_yaxes(title_text="fraction of requests at most this fast", range=[0, 1.02])
    return mark_empty(fig, ok.empty, "no successful requests")


def latency_over_time(
    requests: pd.DataFrame,
    fault_windows: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    looks: Mapping[str, Look] | None = None,
    warmup: float = 0.0,
) -> go.Figure:
    """p50 (solid) and p99 (dashed) latency of successful requests per time bin, by start
    time; one panel per variant, shared axes."""
    drawn = ordered_looks(requests, looks)
    fig, where = grid(
        drawn,
        "Latency over time: p50 (solid) and p99 (dashed)",
        y_title="latency (log scale)",
        x_title="simulated time (s)",
    )
    ok = measured(requests, warmup)
    ok = ok.loc[ok["outcome"] == _OK, ["pattern", "start", "latency"]]
    times = ok["start"].to_numpy(dtype=float)
    width, start = time_bins(times, bin_seconds)
    shown: list[float] = []
    for look, group in _groups(ok, drawn):
        bins = np.floor((group["start"].to_numpy(dtype=float) - start) / width)
        q = (
            group["latency"]
            .groupby(bins.astype(np.int64))
            .quantile(np.array([0.5, 0.99]))
            .unstack()
        )
        q = q.reindex(range(q.index.min(), q.index.max() + 1))  # empty bins break the line
        x = start + (q.index.to_numpy(dtype=float) + 0.5) * width
        row, col = where[look.name]
        for level, dash in ((0.5, "solid"), (0.99, "dash")):
            y = q[level].to_numpy(dtype=float)
            shown.extend(y[np.isfinite(y)])
            line = percentile_line(x, y, look, round(level * 100), dash, legend=look is drawn[0])
            fig.add_trace(line, row=row, col=col)
    shade_faults(fig, fault_windows, float(np.nanmax(times)) if len(times) else 0.0)
    ticks, text = log_ticks(shown, most=5)
    fig.update_yaxes(type="log", tickvals=ticks or None, ticktext=text or None)
    fig.update_layout(
        title_text=f"Latency over time: p50 (solid) and p99 (dashed), bins of {width:g} s"
    )
    return mark_empty(fig, ok.empty, "no successful requests")


def throughput_errors(
    requests: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    fault_windows: pd.DataFrame | None = None,
    looks: Mapping[str, Look] | None = None,
    warmup: float = 0.0,
) -> go.Figure:
    """Successful (the variant's colour) and failed (grey: error + timeout) completions per
    second by completion time, one panel per variant.

    Rates are per run: counts are divided by the bin width and by the variant's number of
    replications. Empty bins are drawn as zero, so an outage shows as a drop, not a gap. The
    bins cover the span of request start times, so the drain after the load stops (a fall that
    is no outage) is not drawn.
    """
    drawn = ordered_looks(requests, looks)
    fig, where = grid(
        drawn,
        "Throughput: completed ok (colour) and failed (grey) per second",
        y_title="per second",
        x_title="simulated time (s)",
    )
    requests = measured(requests, warmup)
    starts = requests["start"].to_numpy(dtype=float)
    done = starts + requests["latency"].to_numpy(dtype=float)
    width, start = time_bins(starts, bin_seconds)
    n_bins = int((np.nanmax(starts) - start) // width) + 1 if len(starts) else 0
    names = [look.name for look in drawn]
    counts = (
        pd.DataFrame(
            {
                "pattern": requests["pattern"].astype(str).to_numpy(),
                "ok": (requests["outcome"] == _OK).to_numpy(),
                "bin": np.floor((done - start) / width).astype(np.int64),
            }
        )
        .groupby(["pattern", "ok", "bin"])
        .size()
        .reindex(pd.MultiIndex.from_product([names, [True, False], range(n_bins)]), fill_value=0)
        .to_numpy(dtype=float)
        .reshape(len(names), 2, n_bins)
    )
    runs = requests.groupby(requests["pattern"].astype(str))["replication"].nunique()
    x = start + (np.arange(n_bins) + 0.5) * width
    for i, look in enumerate(drawn):
        if look.name not in runs.index:
            continue
        row, col = where[look.name]
        for kind, color in ((0, look.color), (1, OUTCOME_COLORS["error"])):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=counts[i, kind] / width / runs[look.name],
                    mode="lines",
                    name="completed ok" if kind == 0 else "failed (error or timeout)",
                    meta=label(look.name),
                    legendgroup=str(kind),
                    showlegend=i == 0,
                    line={"color": color, "width": 1.6, "dash": look.dash if kind == 0 else "dot"},
                    hovertemplate=f"{label(look.name)} t=%{{x:.4g}} s: %{{y:.4g}}/s",
                ),
                row=row,
                col=col,
            )
    if fault_windows is not None:
        shade_faults(fig, fault_windows, float(np.nanmax(starts)) if len(starts) else 0.0)
    fig.update_yaxes(rangemode="tozero")
    return mark_empty(fig, requests.empty, "no requests")


def outcomes_bar(
    requests: pd.DataFrame, *, looks: Mapping[str, Look] | None = None, warmup: float = 0.0
) -> go.Figure:
    """Share of the measured requests (after the warm-up) that ended in error and in
    timeout, per variant, in grey outcome colours."""
    fig = new_figure("Failed requests by outcome (after the warm-up)", height=380)
    names = [look.name for look in ordered_looks(requests, looks)]
    requests = measured(requests, warmup)
    table = (
        pd.crosstab(requests["pattern"].astype(str), requests["outcome"])
        .reindex(index=names, columns=["ok", "error", "timeout"], fill_value=0)
        .fillna(0)
    )
    total = table.sum(axis=1).replace(0, np.nan)
    peak = 0.0
    for outcome in ("error", "timeout"):
        share = (table[outcome] / total).to_numpy(dtype=float)
        peak = max(peak, float(np.nanmax(share)) if np.isfinite(share).any() else 0.0)
        fig.add_trace(
            go.Bar(
                x=[label(p) for p in names],
                y=share,
                name=outcome,
                marker={
                    "color": OUTCOME_COLORS[outcome],
                    "pattern": {"shape": "/" if outcome == "timeout" else ""},
                },
                text=[f"{s:.2%}" if np.isfinite(s) else "" for s in share],
                textposition="outside",
                customdata=table[outcome].to_numpy(),
                hovertemplate="%{x}: %{y:.3%} (%{customdata:,} requests)",
            )
        )
    fig.update_layout(barmode="group", legend_title_text="outcome")
    top = max(peak * 1.25, 0.001)  # an all-zero chart is not drawn on a 0–100 % axis
    fig.update_yaxes(title_text="share of requests", tickformat=".1%", range=[0, top])
    if not requests.empty and peak == 0:
        mark_empty(fig, True, "no request failed")
    return mark_empty(fig, requests.empty, "no requests")
