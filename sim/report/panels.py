"""What figures over time share: time bins, small multiples, fault windows, coinciding curves.

- **Bins**: a round width (1, 2, 2.5 or 5 × 10^k s) that cuts the span into 60–120 bins.
- **Small multiples**: one panel per variant with shared axes, one column up to four variants
  and two beyond, so eight patterns stay readable instead of sixteen tangled lines.
- **Fault windows**: grey bands on every panel, labelled once above the top panels in lanes so
  that labels never overlap; an instant fault (no duration) is a dashed line with its label.
- **Coinciding variants**: every trace carries the variant it draws in ``meta``; variants
  whose traces hold exactly the same numbers are found after the fact (:func:`coinciding`),
  so the page can say that one curve hides another.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.report.style import Look, label, style

__all__ = [
    "auto_bin_seconds",
    "coinciding",
    "grid",
    "origin",
    "percentile_line",
    "shade_faults",
    "span",
    "time_bins",
]

_NICE_STEPS = (1.0, 2.0, 2.5, 5.0)
_PANEL_HEIGHT = 150
_LABEL_PX = 6.6  # width of one label character at 11 px, roughly
_PAGE_PX = 1100


def auto_bin_seconds(width: float) -> float:
    """A round bin width (1, 2, 2.5 or 5 × 10^k s) that cuts ``width`` into 60–120 bins."""
    if not math.isfinite(width) or width <= 0:
        return 1.0
    target = width / 120.0
    exponent = math.floor(math.log10(target))
    for scale in (10.0**exponent, 10.0 ** (exponent + 1)):
        for step in _NICE_STEPS:
            if step * scale >= target * (1 - 1e-9):
                return step * scale
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def span(times: np.ndarray) -> float:
    return float(np.nanmax(times) - np.nanmin(times)) if len(times) else 0.0


def origin(times: np.ndarray, width: float) -> float:
    return math.floor(float(np.nanmin(times)) / width) * width if len(times) else 0.0


def time_bins(times: np.ndarray, bin_seconds: float | None = None) -> tuple[float, float]:
    """``(width, origin)`` of the time bins over ``times``: ``bin_seconds`` wide, or a round
    width cutting their span into 60–120 bins, starting at a multiple of the width."""
    width = bin_seconds or auto_bin_seconds(span(times))
    return width, origin(times, width)


def columns_for(count: int) -> int:
    return 1 if count <= 4 else 2


def grid(
    looks: Sequence[Look], title: str, *, y_title: str, x_title: str
) -> tuple[go.Figure, dict[str, tuple[int, int]]]:
    """An empty small-multiples figure, one panel per look (titled with its name), and the
    (row, col) of each."""
    count = max(len(looks), 1)
    cols = columns_for(count)
    rows = math.ceil(count / cols)
    fig = make_subplots(
        rows=rows,
        cols=cols,
        shared_xaxes="all",
        shared_yaxes="all",
        vertical_spacing=min(0.3 / rows, 0.12),
        horizontal_spacing=0.06,
        subplot_titles=[label(look.name) for look in looks] or None,
    )
    style(fig, title, height=110 + _PANEL_HEIGHT * rows)
    fig.update_layout(legend={"title": {"text": ""}, "orientation": "h", "y": -0.08 / rows})
    where = {look.name: (i // cols + 1, i % cols + 1) for i, look in enumerate(looks)}
    for row in range(1, rows + 1):
        fig.update_yaxes(title_text=y_title if row == (rows + 1) // 2 else "", row=row, col=1)
    for col in range(1, cols + 1):
        fig.update_xaxes(title_text=x_title, row=rows, col=col)
    for i, annotation in enumerate(fig.layout.annotations):  # panel titles: small, at the left
        row, col = i // cols + 1, i % cols + 1
        axis = fig.get_subplot(row, col).xaxis
        annotation.update(font={"size": 12}, x=axis.domain[0], xanchor="left")
    return fig, where


def percentile_line(
    x: np.ndarray, y: np.ndarray, look: Look, level: int, dash: str, *, legend: bool
) -> go.Scatter:
    """One percentile over time in a variant's panel (values in seconds), its legend entry
    (``p50``, ``p99``) shown once for the whole figure."""
    return go.Scatter(
        x=x,
        y=y,
        mode="lines",
        name=f"p{level}",
        meta=label(look.name),
        legendgroup=f"p{level}",
        showlegend=legend,
        line={"color": look.color, "dash": dash, "width": 1.6},
        hovertemplate=f"{label(look.name)} t=%{{x:.4g}} s: %{{y:.3s}}s",
    )


def shade_faults(
    fig: go.Figure, fault_windows: pd.DataFrame, last: float, *, panels: bool = True
) -> None:
    """Grey bands over the fault windows on every panel (a dashed line for an instant fault),
    labelled with kind and target above the plot, in as many lanes as overlapping labels
    need; the windows of a recurring fault are each shaded, and labelled once, at the
    first."""
    if fault_windows.empty:
        return
    windows = fault_windows.sort_values(["start", "kind", "target"], kind="stable")
    rows = [
        (str(kind), str(target), float(start), float(end))
        for kind, target, start, end in windows[["kind", "target", "start", "end"]].itertuples(
            index=False
        )
        if np.isfinite(start)
    ]
    if not rows:
        return
    first = min(start for _, _, start, _ in rows)
    width = max(last, *(s for _, _, s, _ in rows)) - min(first, 0.0) or 1.0
    domain = fig.layout.xaxis.domain or (0.0, 1.0)
    panel_px = max((domain[1] - domain[0]) * _PAGE_PX, 100.0)  # a panel of a grid is narrower
    lanes: list[float] = []  # where each lane's last label ends, in x units
    labelled: set[str] = set()
    placement = {"row": "all", "col": "all"} if panels else {}
    for kind, target, start, end in rows:
        stop = end if np.isfinite(end) else max(last, start)
        text = f"{label(kind)} {label(target)}"
        if stop - start <= width * 1e-6:
            fig.add_vline(x=start, line={"dash": "dash", "color": "#666", "width": 1}, **placement)
        else:
            fig.add_vrect(
                x0=start,
                x1=stop,
                fillcolor="#888",
                opacity=0.15,
                line_width=0,
                layer="below",
                **placement,
            )
        if text in labelled:
            continue  # a recurring fault: each window is shaded, its label shown once
        labelled.add(text)
        reach = start + (len(text) + 2) * _LABEL_PX / panel_px * width
        lane = next((i for i, end_x in enumerate(lanes) if end_x < start), len(lanes))
        if lane == len(lanes):
            lanes.append(reach)
        else:
            lanes[lane] = reach
        fig.add_annotation(
            x=start,
            y=1.0,
            xref="x",
            yref="paper",
            yshift=20 + 15 * lane,  # above the top panel's title
            text=("◆ " if stop - start <= width * 1e-6 else "") + text,
            showarrow=False,
            xanchor="left",
            yanchor="bottom",
            font={"size": 11, "color": "#555"},
        )
    top = fig.layout.margin.t or 70
    fig.update_layout(margin={"t": top + 15 * len(lanes)})


def coinciding(fig: go.Figure) -> list[list[str]]:
    """Groups of variants (by the ``meta`` of their traces) whose traces hold the same numbers
    — one curve exactly over another. Variants with nothing drawn are left out."""
    drawn: dict[str, list[np.ndarray]] = {}
    for trace in fig.data:
        name = trace.meta
        if not isinstance(name, str):
            continue
        for axis in ("x", "y"):
            values = getattr(trace, axis, None)
            if values is not None:
                drawn.setdefault(name, []).append(_numbers(values))
    groups: list[list[str]] = []
    for name, arrays in drawn.items():
        if all(a.size == 0 or (a.dtype == float and np.isnan(a).all()) for a in arrays):
            continue
        for group in groups:
            other = drawn[group[0]]
            if len(other) == len(arrays) and all(
                a.shape == b.shape
                and a.dtype == b.dtype
                and np.array_equal(a, b, equal_nan=a.dtype == float)
                for a, b in zip(arrays, other, strict=True)
            ):
                group.append(name)
                break
        else:
            groups.append([name])
    return [group for group in groups if len(group) > 1]


def _numbers(values: object) -> np.ndarray:
    """A trace's coordinates as floats, or as they are when they are labels."""
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.asarray(values, dtype=object)
