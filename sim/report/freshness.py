"""Consistency figures: staleness (distribution, over time, per copy) and what never arrived
intact per copy (consumer lag and the connectors are in :mod:`sim.report.pipeline`).

Pure functions from result frames to plotly figures, with the conventions of
:mod:`sim.report.figures` (looks, warm-up excluded, seconds in frames, names escaped, each
trace's ``meta`` its variant).

Staleness is **censored**: a (commit, copy) pair that never arrived counts as infinitely
stale, exactly as in the summary (:func:`sim.metrics.summarize.censored_percentile`), so a
percentile that reaches into what never arrived is drawn as "never" at the top of the axis
instead of hiding it. Shares of "never propagated" are the mean of each replication's share,
the figure the summary shows.

Left out: the connectors' internal buffers, and staleness per key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import partial

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.metrics.summarize import censored_percentile
from sim.report.figures import ecdf, ordered_looks
from sim.report.panels import (
    grid,
    percentile_line,
    shade_faults,
    time_bins,
)
from sim.report.style import Look, label, log_ticks, seconds_text, style

__all__ = [
    "COPY_COUNTS",
    "copy_counts",
    "staleness_distribution",
    "staleness_over_time",
    "staleness_per_copy",
]

COPY_COUNTS = (
    ("never", "never propagated"),
    ("lost_updates", "lost"),
    ("duplicates", "duplicates"),
    ("reorders", "reorders"),
    ("phantom_writes", "phantoms"),
)
_NEVER_TEXT = "never"


def _percentile(delays: pd.Series, level: float) -> float:
    return censored_percentile(delays.to_numpy(dtype=float), level)


def _measured(propagation: pd.DataFrame, warmup: float) -> pd.DataFrame:
    return propagation[propagation["commit_time"] >= warmup] if warmup > 0 else propagation


def _never_share(group: pd.DataFrame) -> float:
    shares = group["delay"].isna().groupby(group["replication"]).mean()
    return float(shares.mean()) if len(shares) else math.nan


def staleness_distribution(
    propagation: pd.DataFrame, *, looks: Mapping[str, Look] | None = None, warmup: float = 0.0
) -> go.Figure:
    """ECDF of propagation delay (commit → copy shows the version), one curve per variant.

    The fraction is over all (commit, copy) pairs, so a curve that ends below 1 shows copies
    that never caught up (their share, as in the summary, is in the legend). Zero delays lift
    the start of the curve; a variant whose delays are all zero (a shared database) gets a
    note instead of a curve.
    """
    fig = go.Figure()
    style(fig, "Staleness: delay until a copy shows a committed write", height=440)
    drawn = ordered_looks(propagation, looks)
    measured = _measured(propagation, warmup)
    groups = dict(iter(measured.groupby(measured["pattern"].astype(str), sort=True)))
    notes: list[str] = []
    for look in drawn:
        group = groups.get(look.name)
        if group is None:
            notes.append(f"{label(look.name)}: no replicated copies")
            continue
        delays = group["delay"].to_numpy(dtype=float)
        seen = delays[~np.isnan(delays)]
        zero = int((seen <= 0).sum())
        x, y = ecdf(seen[seen > 0], len(delays), offset=zero)
        if not len(x):  # keep a legend entry (and the colour) for a variant with no curve
            x, y = np.array([np.nan]), np.array([np.nan])
        if len(seen) and zero == len(seen):
            notes.append(f"{label(look.name)}: every copy current at commit (delay 0)")
        elif not len(seen):
            notes.append(f"{label(look.name)}: no copy ever caught up")
        fig.add_trace(
            go.Scatter(
                x=x,
                y=y,
                mode="lines+markers" if len(x) == 1 else "lines",
                name=f"{label(look.name)} ({_never_share(group):.2%} never propagated)",
                meta=label(look.name),
                line={"color": look.color, "dash": look.dash, "width": 2},
                hovertemplate="%{x:.3s}s: %{y:.2%} of copies",
            )
        )
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
    delays = measured["delay"].to_numpy(dtype=float)
    ticks, text = log_ticks(delays[delays > 0])
    fig.update_xaxes(
        type="log", tickvals=ticks or None, ticktext=text or None, title_text="delay (log scale)"
    )
    fig.update_yaxes(title_text="fraction of copies visible within delay", range=[0, 1.02])
    return fig


def staleness_over_time(
    propagation: pd.DataFrame,
    fault_windows: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    looks: Mapping[str, Look] | None = None,
    warmup: float = 0.0,
) -> go.Figure:
    """p50 (solid) and p99 (dashed) staleness of the writes committed in each time bin, one
    panel per variant; a bin whose percentile reaches into what never arrived is drawn as a
    cross on the "never" line at the top; zero delays on the bottom line, labelled 0."""
    drawn = ordered_looks(propagation, looks)
    fig, where = grid(
        drawn,
        "Staleness over time (by commit time): p50 (solid) and p99 (dashed)",
        y_title="delay (log scale)",
        x_title="commit time (s)",
    )
    measured = _measured(propagation, warmup)
    times = measured["commit_time"].to_numpy(dtype=float)
    width, start = time_bins(times, bin_seconds)
    delays = measured["delay"].to_numpy(dtype=float)
    positive = delays[(delays > 0) & np.isfinite(delays)]
    floor = float(positive.min()) / 3 if len(positive) else 1e-3
    ceiling = float(positive.max()) * 3 if len(positive) else 1.0
    groups = dict(iter(measured.groupby(measured["pattern"].astype(str), sort=True)))
    for look in drawn:
        group = groups.get(look.name)
        if group is None:
            continue
        bins = np.floor((group["commit_time"].to_numpy(dtype=float) - start) / width)
        censored = np.where(group["delay"].isna(), np.inf, group["delay"].to_numpy(dtype=float))
        frame = pd.DataFrame({"bin": bins.astype(np.int64), "delay": censored})
        row, col = where[look.name]
        levels = {}
        for level in (50, 99):
            q = frame.groupby("bin")["delay"].apply(partial(_percentile, level=level))
            q = q.reindex(range(int(q.index.min()), int(q.index.max()) + 1))
            levels[level] = q
        x = start + (levels[50].index.to_numpy(dtype=float) + 0.5) * width
        for level, dash in ((50, "solid"), (99, "dash")):
            y = levels[level].to_numpy(dtype=float)
            shown = np.where(np.isinf(y), np.nan, np.where(y <= 0, floor, y))
            line = percentile_line(x, shown, look, level, dash, legend=look is drawn[0])
            fig.add_trace(line, row=row, col=col)
            never = np.isinf(y)
            fig.add_trace(
                go.Scatter(
                    x=x[never],
                    y=np.full(int(never.sum()), ceiling),
                    mode="markers",
                    name=f"p{level} never arrived",
                    meta=label(look.name),
                    legendgroup=f"never{level}",
                    showlegend=look is drawn[0] and level == 99,
                    marker={"symbol": "x", "color": look.color, "size": 7},
                    hovertemplate=f"{label(look.name)} t=%{{x:.4g}} s: p{level} never",
                ),
                row=row,
                col=col,
            )
    shade_faults(fig, fault_windows, float(np.nanmax(times)) if len(times) else 0.0)
    ticks, text = log_ticks([floor * 3, ceiling / 3], most=5)
    fig.update_yaxes(
        type="log",
        tickvals=[floor, *(t for t in ticks if floor * 1.5 < t < ceiling / 1.5), ceiling],
        ticktext=[
            "0",
            *(s for t, s in zip(ticks, text, strict=True) if floor * 1.5 < t < ceiling / 1.5),
            _NEVER_TEXT,
        ],
        range=[math.log10(floor) - 0.1, math.log10(ceiling) + 0.1],
    )
    return fig


def copy_counts(copies: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, copy): the mean over replications of ``staleness_p99`` (inf when it is
    never in some replication), ``never`` (pairs that never arrived: the share × commits), and
    the lost, duplicate, reorder and phantom counts."""
    columns = ["pattern", "copy", "staleness_p99", *(key for key, _ in COPY_COUNTS)]
    if copies.empty:
        return pd.DataFrame(columns=columns)
    frame = copies.assign(never=copies["never_propagated"] * copies["commits"])
    counts = [key for key, _ in COPY_COUNTS]
    grouped = frame.groupby(["pattern", "copy"], sort=False)
    means = grouped[counts].mean()
    p99 = grouped["staleness_p99"].agg(lambda s: math.inf if np.isinf(s).any() else s.mean())
    return means.assign(staleness_p99=p99).reset_index()[columns]


def staleness_per_copy(
    copies: pd.DataFrame, *, looks: Mapping[str, Look] | None = None
) -> go.Figure:
    """Per copy: the p99 staleness of each variant (a hatched bar at the top for "never"),
    then one panel per count — never propagated, lost, duplicates, reorders, phantoms — with
    a bar per variant (mean per run)."""
    table = copy_counts(copies)
    drawn = ordered_looks(table, looks)
    titles = ["p99 staleness", *(title for _, title in COPY_COUNTS)]
    fig = make_subplots(rows=1, cols=len(titles), subplot_titles=titles, horizontal_spacing=0.04)
    style(fig, "Per copy: staleness, and changes that did not arrive intact (per run)", height=420)
    fig.update_layout(barmode="group", legend={"orientation": "h", "y": -0.2})
    finite = table["staleness_p99"].to_numpy(dtype=float)
    finite = finite[np.isfinite(finite) & (finite > 0)]
    ceiling = float(finite.max()) * 3 if len(finite) else 1.0
    for look in drawn:
        mine = table[table["pattern"].astype(str) == look.name]
        if mine.empty:
            continue
        names = [label(c) for c in mine["copy"]]
        p99 = mine["staleness_p99"].to_numpy(dtype=float)
        fig.add_trace(
            go.Bar(
                x=names,
                y=np.where(np.isinf(p99), ceiling, p99),
                name=label(look.name),
                meta=label(look.name),
                legendgroup=look.name,
                marker={
                    "color": look.color,
                    "pattern": {"shape": ["x" if np.isinf(v) else "" for v in p99]},
                },
                text=[_NEVER_TEXT if np.isinf(v) else seconds_text(v) for v in p99],
                textposition="outside",
                hovertemplate="%{x}: %{text}",
            ),
            row=1,
            col=1,
        )
        for i, (key, _) in enumerate(COPY_COUNTS, start=2):
            fig.add_trace(
                go.Bar(
                    x=names,
                    y=mine[key].to_numpy(dtype=float),
                    name=label(look.name),
                    meta=label(look.name),
                    legendgroup=look.name,
                    showlegend=False,
                    marker={"color": look.color},
                    hovertemplate="%{x}: %{y:,.4g} per run",
                ),
                row=1,
                col=i,
            )
    ticks, text = log_ticks(finite)
    fig.update_yaxes(
        type="log",
        tickvals=[*ticks, ceiling] if ticks else None,
        ticktext=[*text, _NEVER_TEXT] if ticks else None,
        row=1,
        col=1,
    )
    for i in range(2, len(titles) + 1):
        fig.update_yaxes(rangemode="tozero", row=1, col=i)
    if table.empty:
        fig.add_annotation(
            text="no replicated copies", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
    return fig
