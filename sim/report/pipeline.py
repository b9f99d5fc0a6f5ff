"""Pipeline figures: consumer lag per group over time, and what connectors do — the changes
their polls or log reads return (the batches) and the database time they cost.

Pure functions from the tables the runs' components record (``consumer_lag``,
``connector_polls``, stacked over runs by :meth:`sim.results.Results.table`) to plotly
figures, with the conventions of :mod:`sim.report.figures`.

Left out: the broker's own load, and the WAL a CDC slot retains (``wal_retained_max``).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.report.figures import ordered_looks
from sim.report.panels import grid, shade_faults, time_bins
from sim.report.style import Look, label, style

__all__ = ["connector_activity", "consumer_lag_over_time"]


def consumer_lag_over_time(
    lag: pd.DataFrame,
    fault_windows: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    looks: Mapping[str, Look] | None = None,
) -> go.Figure:
    """Consumer lag (records behind the log end) per consumer group over time: per bin the
    largest lag any partition showed, averaged over replications; one panel per variant
    with a broker."""
    drawn = [
        look
        for look in ordered_looks(lag, looks)
        if lag.empty or look.name in set(lag["pattern"].astype(str))
    ]
    fig, where = grid(
        drawn,
        "Consumer lag over time, per group",
        y_title="records behind",
        x_title="simulated time (s)",
    )
    if lag.empty:
        fig.add_annotation(
            text="no consumer groups", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
        return fig
    times = lag["time"].to_numpy(dtype=float)
    width, start = time_bins(times, bin_seconds)
    n_bins = int((np.nanmax(times) - start) // width) + 1
    frame = lag.assign(bin=np.floor((times - start) / width).astype(np.int64))
    groups_seen = sorted({str(g) for g in frame["group"].unique()})
    dashes = ("solid", "dash", "dot", "dashdot", "longdash")
    for look in drawn:
        mine = frame[frame["pattern"].astype(str) == look.name]
        row, col = where[look.name]
        peak = mine.groupby(["group", "replication", "bin"])["lag"].max()
        for group_name, per_group in peak.groupby(level="group"):
            per_bin = per_group.groupby(level="bin").mean().reindex(range(n_bins))
            per_bin = per_bin.ffill().fillna(0.0)
            dash = dashes[groups_seen.index(str(group_name)) % len(dashes)]
            fig.add_trace(
                go.Scatter(
                    x=start + (np.arange(n_bins) + 0.5) * width,
                    y=per_bin.to_numpy(dtype=float),
                    mode="lines",
                    name=f"group {label(group_name)}",
                    meta=label(look.name),
                    legendgroup=str(group_name),
                    showlegend=look is drawn[0],
                    line={"color": look.color, "dash": dash, "width": 1.6},
                    hovertemplate=f"{label(look.name)} {label(group_name)} t=%{{x:.4g}} s: %{{y:,.0f}}",
                ),
                row=row,
                col=col,
            )
    shade_faults(fig, fault_windows, float(np.nanmax(times)))
    fig.update_yaxes(rangemode="tozero")
    return fig


def connector_activity(
    polls: pd.DataFrame,
    fault_windows: pd.DataFrame,
    bin_seconds: float | None = None,
    *,
    looks: Mapping[str, Look] | None = None,
) -> go.Figure:
    """What connectors do over time: changes read per second (the batches) and database time
    per second spent reading them (queries, or decoding the log: the load they add), per run."""
    fig = make_subplots(
        rows=2,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.1,
        subplot_titles=(
            "changes read per second",
            "database seconds per second (queries or log decoding)",
        ),
    )
    style(fig, "Connectors: batches and database load", height=520)
    if polls.empty:
        fig.add_annotation(
            text="no connector", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
        return fig
    drawn = [
        look
        for look in ordered_looks(polls, looks)
        if look.name in set(polls["pattern"].astype(str))
    ]
    times = polls["time"].to_numpy(dtype=float)
    width, start = time_bins(times, bin_seconds)
    n_bins = int((np.nanmax(times) - start) // width) + 1
    frame = polls.assign(bin=np.floor((times - start) / width).astype(np.int64))
    x = start + (np.arange(n_bins) + 0.5) * width
    for look in drawn:
        mine = frame[frame["pattern"].astype(str) == look.name]
        runs = max(mine["replication"].nunique(), 1)
        for row, column in ((1, "rows"), (2, "duration")):
            total = mine.groupby("bin")[column].sum().reindex(range(n_bins), fill_value=0)
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=total.to_numpy(dtype=float) / width / runs,
                    mode="lines",
                    name=label(look.name),
                    meta=label(look.name),
                    legendgroup=look.name,
                    showlegend=row == 1,
                    line={"color": look.color, "dash": look.dash, "width": 1.6},
                    hovertemplate="t=%{x:.4g} s: %{y:.4g}",
                ),
                row=row,
                col=1,
            )
    shade_faults(fig, fault_windows, float(np.nanmax(times)), panels=True)
    fig.update_xaxes(title_text="simulated time (s)", row=2, col=1)
    fig.update_yaxes(rangemode="tozero")
    return fig
