"""Report figures: pure functions from result frames to plotly figures.

Each function takes the tidy frames a run produces (``requests``, ``propagation``,
``fault_windows``) and returns a :class:`plotly.graph_objects.Figure`. Nothing here reads or
writes files, opens a browser or looks at the clock, so the same frames always give the same
figure.

Conventions shared by every figure:

- One colour per pattern, assigned from a fixed palette by sorted pattern name. Pass the same
  ``patterns`` to every figure (the page does) so a pattern keeps its colour even when it is
  missing from one frame.
- Replications are pooled: percentiles are over all requests of all replications, rates are
  divided by the number of replications (so they read "per run").
- Latencies and delays are stored in seconds and drawn in milliseconds.
- Names from user data are HTML-escaped before they reach plotly, which renders a subset of
  HTML in titles, legends and hover labels.

Left out: anything about the page (layout, tables, plotly.js) — see :mod:`sim.report.page`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.report.style import label, mark_empty, new_figure, pattern_colors, style

#: Most points drawn per distribution curve; larger samples are thinned to this many quantiles.
MAX_CURVE_POINTS = 1000

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
_OK = "ok"


def auto_bin_seconds(span: float) -> float:
    """A round bin width (1, 2, 2.5 or 5 × 10^k s) that cuts ``span`` into 60–120 bins."""
    if not math.isfinite(span) or span <= 0:
        return 1.0
    target = span / 120.0
    exponent = math.floor(math.log10(target))
    for scale in (10.0**exponent, 10.0 ** (exponent + 1)):
        for step in _NICE_STEPS:
            if step * scale >= target * (1 - 1e-9):
                return step * scale
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def latency_cdf(requests: pd.DataFrame, *, patterns: Sequence[str] | None = None) -> go.Figure:
    """Empirical CDF of the latency of successful requests, one curve per pattern."""
    fig = new_figure("Latency distribution (successful requests)", height=440)
    colors = pattern_colors(_all_patterns(requests, patterns))
    ok = requests.loc[requests["outcome"] == _OK, ["pattern", "latency"]]
    for pattern, group in _by_pattern(ok, colors):
        x, y = _ecdf(group["latency"].to_numpy(dtype=float), len(group))
        keep = x > 0  # a log axis cannot show 0
        fig.add_trace(
            go.Scatter(
                x=x[keep] * 1000.0,
                y=y[keep],
                mode="lines",
                name=label(pattern),
                line={"color": colors[pattern], "width": 2},
                hovertemplate="%{x:.3g} ms: %{y:.2%} of requests",
            )
        )
    fig.update_xaxes(type="log", dtick="D2", title_text="latency (ms, log scale)")
    fig.update_yaxes(title_text="fraction of requests at most this fast", range=[0, 1.02])
    return mark_empty(fig, ok.empty, "no successful requests")


def latency_over_time(
    requests: pd.DataFrame,
    fault_windows: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    patterns: Sequence[str] | None = None,
) -> go.Figure:
    """p50 (solid) and p99 (dashed) latency of successful requests per time bin, by start time."""
    fig = new_figure("Latency over time: p50 (solid) and p99 (dashed)", height=460)
    colors = pattern_colors(_all_patterns(requests, patterns))
    ok = requests.loc[requests["outcome"] == _OK, ["pattern", "start", "latency"]]
    times = ok["start"].to_numpy(dtype=float)
    width = bin_seconds or auto_bin_seconds(_span(times))
    origin = _origin(times, width)
    for pattern, group in _by_pattern(ok, colors):
        bins = np.floor((group["start"].to_numpy(dtype=float) - origin) / width)
        q = (
            group["latency"]
            .groupby(bins.astype(np.int64))
            .quantile(np.array([0.5, 0.99]))
            .unstack()
        )
        q = q.reindex(range(q.index.min(), q.index.max() + 1))  # empty bins break the line
        x = origin + (q.index.to_numpy(dtype=float) + 0.5) * width
        for level, dash in ((0.5, "solid"), (0.99, "dash")):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=q[level].to_numpy(dtype=float) * 1000.0,
                    mode="lines",
                    name=f"{label(pattern)} p{round(level * 100)}",
                    legendgroup=label(pattern),
                    line={"color": colors[pattern], "dash": dash, "width": 1.8},
                    hovertemplate="t=%{x:.4g} s: %{y:.3g} ms",
                )
            )
    _shade_faults(fig, fault_windows, times, rows=(None,))
    fig.update_xaxes(title_text=f"simulated time (s), bins of {width:g} s")
    fig.update_yaxes(type="log", dtick="D2", title_text="latency (ms, log scale)")
    return mark_empty(fig, ok.empty, "no successful requests")


def throughput_errors(
    requests: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    fault_windows: pd.DataFrame | None = None,
    patterns: Sequence[str] | None = None,
) -> go.Figure:
    """Successful and failed (error + timeout) completions per second, by completion time.

    Rates are per run: counts are divided by the bin width and by the pattern's number of
    replications. Empty bins are drawn as zero, so an outage shows as a drop, not a gap. The
    bins cover the span of request start times, the same as :func:`latency_over_time`, so the
    drain after the load stops (a fall that is no outage) is not drawn.
    """
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.08,
        subplot_titles=("completed ok per second", "errors + timeouts per second"),
    )
    style(fig, "Throughput and errors over time", height=560)
    names = _all_patterns(requests, patterns)
    colors = pattern_colors(names)
    starts = requests["start"].to_numpy(dtype=float)
    done = starts + requests["latency"].to_numpy(dtype=float)
    width = bin_seconds or auto_bin_seconds(_span(starts))
    origin = _origin(starts, width)
    n_bins = int((np.nanmax(starts) - origin) // width) + 1 if len(starts) else 0
    counts = (
        pd.DataFrame(
            {
                "pattern": requests["pattern"].astype(str).to_numpy(),
                "ok": (requests["outcome"] == _OK).to_numpy(),
                "bin": np.floor((done - origin) / width).astype(np.int64),
            }
        )
        .groupby(["pattern", "ok", "bin"])
        .size()
        .reindex(pd.MultiIndex.from_product([names, [True, False], range(n_bins)]), fill_value=0)
        .to_numpy(dtype=float)
        .reshape(len(names), 2, n_bins)
    )
    runs = requests.groupby(requests["pattern"].astype(str))["replication"].nunique()
    x = origin + (np.arange(n_bins) + 0.5) * width
    for i, pattern in enumerate(names):
        if pattern not in runs.index:
            continue
        for row in (1, 2):
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=counts[i, row - 1] / width / runs[pattern],
                    mode="lines",
                    name=label(pattern),
                    legendgroup=label(pattern),
                    showlegend=row == 1,
                    line={"color": colors[pattern], "width": 1.8},
                    hovertemplate="t=%{x:.4g} s: %{y:.4g}/s",
                ),
                row=row,
                col=1,
            )
    if fault_windows is not None:
        _shade_faults(fig, fault_windows, starts, rows=(1, 2))
    fig.update_xaxes(title_text=f"simulated time (s), bins of {width:g} s", row=2, col=1)
    fig.update_yaxes(title_text="per second", rangemode="tozero")
    return mark_empty(fig, requests.empty, "no requests")


def staleness_distribution(
    propagation: pd.DataFrame, *, patterns: Sequence[str] | None = None
) -> go.Figure:
    """ECDF of propagation delay (commit → copy shows the version), one curve per pattern.

    The fraction is over all (write, replica) pairs, so a curve that ends below 1 shows copies
    that never caught up; their count is in the legend. Zero delays cannot sit on a log axis:
    they lift the start of the curve, and a pattern whose delays are all zero (a shared
    database) gets a note instead of a curve.
    """
    fig = new_figure("Staleness: delay until a copy shows a committed write", height=440)
    names = _all_patterns(propagation, patterns)
    colors = pattern_colors(names)
    notes: list[str] = []
    present = set(propagation["pattern"].astype(str).unique())
    for pattern, group in _by_pattern(propagation, colors):
        delays = group["delay"].to_numpy(dtype=float)
        never = int(np.isnan(delays).sum())
        seen = delays[~np.isnan(delays)]
        zero = int((seen <= 0).sum())
        x, y = _ecdf(seen[seen > 0], len(delays), offset=zero)
        if not len(x):  # keep a legend entry (and the colour) for a pattern with no curve
            x, y = np.array([np.nan]), np.array([np.nan])
        name = f"{label(pattern)} ({never:,} never propagated)"
        if len(seen) and zero == len(seen):
            notes.append(f"{label(pattern)}: all {zero:,} copies current at commit (delay 0)")
        elif not len(seen):
            notes.append(f"{label(pattern)}: no copy ever caught up")
        fig.add_trace(
            go.Scatter(
                x=x * 1000.0,
                y=y,
                mode="lines+markers" if len(x) == 1 else "lines",
                name=name,
                line={"color": colors[pattern], "width": 2},
                hovertemplate="%{x:.3g} ms: %{y:.2%} of copies",
            )
        )
    notes.extend(f"{label(p)}: no replicated copies" for p in names if p not in present)
    if notes:
        fig.add_annotation(
            text="<br>".join(notes),
            xref="paper",
            yref="paper",
            x=0.99,  # bottom right: the corner an ECDF leaves empty
            y=0.02,
            xanchor="right",
            yanchor="bottom",
            align="left",
            showarrow=False,
            bgcolor="rgba(255,255,255,0.85)",
            bordercolor="#999",
        )
    fig.update_xaxes(type="log", dtick="D2", title_text="propagation delay (ms, log scale)")
    fig.update_yaxes(title_text="fraction of copies visible within delay", range=[0, 1.02])
    return fig


def outcomes_bar(requests: pd.DataFrame, *, patterns: Sequence[str] | None = None) -> go.Figure:
    """Share of requests that ended in error and in timeout, per pattern."""
    fig = new_figure("Failed requests by outcome", height=380)
    names = sorted(_all_patterns(requests, patterns))
    table = (
        pd.crosstab(requests["pattern"].astype(str), requests["outcome"])
        .reindex(index=names, columns=["ok", "error", "timeout"], fill_value=0)
        .fillna(0)
    )
    total = table.sum(axis=1).replace(0, np.nan)
    for outcome, color in (("error", "#D55E00"), ("timeout", "#E69F00")):
        share = (table[outcome] / total).to_numpy(dtype=float)
        fig.add_trace(
            go.Bar(
                x=[label(p) for p in names],
                y=share,
                name=outcome,
                marker_color=color,
                text=[f"{s:.2%}" if np.isfinite(s) else "" for s in share],
                textposition="outside",
                customdata=table[outcome].to_numpy(),
                hovertemplate="%{x}: %{y:.3%} (%{customdata:,} requests)",
            )
        )
    fig.update_layout(barmode="group", legend_title_text="outcome")
    fig.update_yaxes(title_text="share of requests", tickformat=".1%", rangemode="tozero")
    return mark_empty(fig, requests.empty, "no requests")


# -- helpers -------------------------------------------------------------------------------


def _all_patterns(frame: pd.DataFrame, patterns: Sequence[str] | None) -> list[str]:
    found = {str(p) for p in frame["pattern"].unique()}
    return sorted(found | {str(p) for p in patterns or ()})


def _by_pattern(frame: pd.DataFrame, colors: dict[str, str]) -> Iterable[tuple[str, pd.DataFrame]]:
    """Groups of ``frame`` per pattern, in colour (sorted) order; patterns without rows skipped."""
    groups = dict(iter(frame.groupby(frame["pattern"].astype(str), sort=True)))
    return [(p, groups[p]) for p in colors if p in groups]


def _ecdf(values: np.ndarray, total: int, *, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
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


def _span(times: np.ndarray) -> float:
    return float(np.nanmax(times) - np.nanmin(times)) if len(times) else 0.0


def _origin(times: np.ndarray, width: float) -> float:
    return math.floor(float(np.nanmin(times)) / width) * width if len(times) else 0.0


def _shade_faults(
    fig: go.Figure,
    fault_windows: pd.DataFrame,
    times: np.ndarray,
    *,
    rows: tuple[int | None, ...],
) -> None:
    """Grey bands over the fault windows, labelled with kind and target on the first row."""
    if fault_windows.empty:
        return
    last = float(np.nanmax(times)) if len(times) else 0.0
    windows = fault_windows.sort_values(["start", "kind", "target"], kind="stable")
    for kind, target, start, end in windows[["kind", "target", "start", "end"]].itertuples(
        index=False
    ):
        if not np.isfinite(start):
            continue
        stop = end if np.isfinite(end) else max(last, start)
        for i, row in enumerate(rows):
            placement = {} if row is None else {"row": row, "col": 1}
            note = (
                {}
                if i
                else {
                    "annotation_text": f"{label(kind)} {label(target)}",
                    "annotation_position": "top left",
                    "annotation_font_size": 11,
                    "annotation_font_color": "#555",
                }
            )
            fig.add_vrect(
                x0=start,
                x1=stop,
                fillcolor="#888",
                opacity=0.15,
                line_width=0,
                layer="below",
                **placement,
                **note,
            )
