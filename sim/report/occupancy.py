"""Occupancy figures: each service's and database's utilisation and queue length over time.

A pure function from the ``occupancy_series`` table the runs record (per bin of the load, each
component's exact time averages, :mod:`sim.infra.occupancy`; stacked over runs by
:meth:`sim.results.Results.table`) to a plotly figure: one panel per variant, one line per
component (its own dash, in the variant's colour), the mean over replications, fault windows shaded,
with the conventions of :mod:`sim.report.figures`.

Left out: the broker and the connectors (their own figures show them).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from sim.report.figures import ordered_looks
from sim.report.panels import grid, shade_faults
from sim.report.style import Look, label

__all__ = ["occupancy_over_time"]

_TITLES = {
    "utilisation": ("Utilisation over time, per service and database", "busy slots / slots"),
    "queue_length": ("Queue length over time, per service and database", "requests waiting"),
}
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def occupancy_over_time(
    series: pd.DataFrame,
    fault_windows: pd.DataFrame,
    metric: str = "utilisation",
    *,
    looks: Mapping[str, Look] | None = None,
) -> go.Figure:
    """``metric`` (``utilisation`` or ``queue_length``) of every component per bin of the load,
    averaged over replications; one panel per variant."""
    title, y_title = _TITLES[metric]
    drawn = [
        look
        for look in ordered_looks(series, looks)
        if series.empty or look.name in set(series["pattern"].astype(str))
    ]
    fig, where = grid(drawn, title, y_title=y_title, x_title="simulated time (s)")
    if series.empty:
        fig.add_annotation(
            text="no services", xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False
        )
        return fig
    components = list(dict.fromkeys(str(c) for c in series["component"]))
    for look in drawn:
        mine = series[series["pattern"].astype(str) == look.name]
        row, col = where[look.name]
        means = mine.groupby(["component", "time"], sort=False)[metric].mean()
        for component, per_bin in means.groupby(level="component", sort=False):
            name = str(component)
            dash = _DASHES[components.index(name) % len(_DASHES)]
            times = per_bin.index.get_level_values("time").to_numpy(dtype=float)
            fig.add_trace(
                go.Scatter(
                    x=times,
                    y=per_bin.to_numpy(dtype=float),
                    mode="lines",
                    name=label(name),
                    meta=label(look.name),
                    legendgroup=name,
                    showlegend=look is drawn[0],
                    line={"color": look.color, "dash": dash, "width": 1.4},
                    hovertemplate=f"{label(look.name)} {label(name)} t=%{{x:.4g}} s: %{{y:.3g}}",
                ),
                row=row,
                col=col,
            )
    end = float(np.nanmax(series["time"].to_numpy(dtype=float)))
    shade_faults(fig, fault_windows, end)
    fig.update_yaxes(rangemode="tozero")
    return fig
