"""The look shared by every report figure: palette, template, titles, escaping, empty marks.

One colour per pattern, assigned from a fixed colour-blind friendly palette by sorted pattern
name, so a pattern keeps its colour in every figure of a page.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

import plotly.graph_objects as go

__all__ = ["PALETTE", "label", "mark_empty", "new_figure", "pattern_colors", "style"]

#: Colour-blind friendly palette (Okabe–Ito, then Tableau extras), cycled past its end.
PALETTE: tuple[str, ...] = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
)
TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "colorway": list(PALETTE),
        "xaxis": {"gridcolor": "#e6e6e6", "linecolor": "#999", "zeroline": False},
        "yaxis": {"gridcolor": "#e6e6e6", "linecolor": "#999", "zeroline": False},
        "legend": {"bgcolor": "rgba(255,255,255,0.8)"},
        "hovermode": "closest",
    }
)


def pattern_colors(patterns: Iterable[str]) -> dict[str, str]:
    """Colour of each pattern: the palette in sorted pattern order."""
    ordered = sorted({str(p) for p in patterns})
    return {p: PALETTE[i % len(PALETTE)] for i, p in enumerate(ordered)}


def label(name: object) -> str:
    """Escape a user-supplied name for plotly, which renders HTML-like tags and entities."""
    return html.escape(str(name), quote=False)


def new_figure(title: str, *, height: int) -> go.Figure:
    fig = go.Figure()
    style(fig, title, height=height)
    return fig


def style(fig: go.Figure, title: str, *, height: int) -> None:
    fig.update_layout(
        template=TEMPLATE,
        title={"text": title, "x": 0.01, "xanchor": "left"},
        height=height,
        margin={"l": 70, "r": 20, "t": 60, "b": 55},
        legend={"title": {"text": "pattern"}},
    )


def mark_empty(fig: go.Figure, empty: bool, message: str) -> go.Figure:
    if empty:
        fig.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    return fig
