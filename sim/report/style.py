"""The look shared by every report figure: colours, line styles, template, ticks, escaping.

**Colours follow the pattern's kind**, from a fixed table, so ``cdc`` is the same green in
every report, whatever else the scenario compares and whatever the pattern is called. The
table is the Okabe–Ito palette (colour-blind safe) without its yellow, which is too faint on
white, plus indigo; a kind the table does not know (a pattern registered by a user) takes a
colour from Paul Tol's muted palette chosen by a hash of its kind, so it too is stable across
reports. Several variants of one kind on a page (two polling patterns, or one pattern at three
sweep points) share the kind's hue in darker and lighter shades, with a different dash each.

**Outcome colours** (error, timeout) are greys, which no pattern uses, so a bar of errors is
never mistaken for a pattern.

**Log axes** get ticks at 1, 2 and 5 of each decade (more within one decade, only the 1s
when the range is wide),
labelled in the unit a person would say: ``2 ms``, ``500 ms``, ``1 s``, ``2 min``.
"""

from __future__ import annotations

import html
import math
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import plotly.graph_objects as go

__all__ = [
    "KIND_COLORS",
    "OUTCOME_COLORS",
    "Look",
    "label",
    "log_ticks",
    "looks_for",
    "mark_empty",
    "new_figure",
    "seconds_text",
    "style",
]

KIND_COLORS: dict[str, str] = {
    "shared_db": "#0072B2",  # blue
    "sync_http": "#D55E00",  # vermillion
    "two_phase_commit": "#CC79A7",  # reddish purple
    "dual_write": "#E69F00",  # orange
    "event_sourcing": "#56B4E9",  # sky blue
    "cdc": "#009E73",  # bluish green
    "polling": "#882255",  # wine
    "saga": "#997700",  # ochre
    "outbox": "#332288",  # indigo
}
"""The colour of each shipped pattern kind, in every report."""

_OTHER_COLORS = ("#117733", "#44AA99", "#999933", "#AA4499", "#6699CC", "#661100")
OUTCOME_COLORS: dict[str, str] = {"error": "#3A3A3A", "timeout": "#A0A0A0"}
_DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")
_SHADES = (0.0, -0.35, 0.35, -0.55, 0.55, -0.2, 0.2)

TEMPLATE = go.layout.Template(
    layout={
        "font": {"family": "system-ui, -apple-system, Segoe UI, Roboto, sans-serif", "size": 13},
        "paper_bgcolor": "white",
        "plot_bgcolor": "white",
        "xaxis": {"gridcolor": "#e6e6e6", "linecolor": "#999", "zeroline": False},
        "yaxis": {"gridcolor": "#e6e6e6", "linecolor": "#999", "zeroline": False},
        "legend": {"bgcolor": "rgba(255,255,255,0.8)"},
        "hovermode": "closest",
    }
)


@dataclass(frozen=True)
class Look:
    """How one variant (a pattern, or a pattern at a sweep point) is drawn."""

    name: str
    kind: str
    color: str
    dash: str


def kind_color(kind: str) -> str:
    """The fixed colour of a pattern kind."""
    found = KIND_COLORS.get(kind)
    if found is not None:
        return found
    return _OTHER_COLORS[zlib.crc32(kind.encode("utf-8")) % len(_OTHER_COLORS)]


def _shade(color: str, amount: float) -> str:
    """``color`` mixed with white (amount > 0) or black (amount < 0)."""
    rgb = [int(color[i : i + 2], 16) for i in (1, 3, 5)]
    target = 255 if amount > 0 else 0
    mixed = [round(c + (target - c) * abs(amount)) for c in rgb]
    return "#" + "".join(f"{c:02X}" for c in mixed)


def looks_for(variants: Iterable[tuple[str, str]]) -> dict[str, Look]:
    """The look of each ``(name, kind)``, in the order given: the kind's colour, then darker
    and lighter shades of it (and other dashes) for further variants of the same kind."""
    seen: dict[str, int] = {}
    found: dict[str, Look] = {}
    for name, kind in variants:
        if name in found:
            continue
        index = seen.get(kind, 0)
        seen[kind] = index + 1
        color = _shade(kind_color(kind), _SHADES[index % len(_SHADES)])
        found[name] = Look(name, kind, color, _DASHES[index % len(_DASHES)])
    return found


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
        margin={"l": 80, "r": 20, "t": 70, "b": 55},
        legend={"title": {"text": "pattern"}},
    )


def mark_empty(fig: go.Figure, empty: bool, message: str) -> go.Figure:
    if empty:
        fig.add_annotation(text=message, xref="paper", yref="paper", x=0.5, y=0.5, showarrow=False)
    return fig


def seconds_text(value: float) -> str:
    """A duration as a person says it: ``250 µs``, ``20 ms``, ``1.5 s``, ``2 min``."""
    if value == 0:
        return "0"
    if value < 1e-3:
        return f"{value * 1e6:.3g} µs"
    if value < 1:
        return f"{value * 1e3:.3g} ms"
    if value < 120:
        return f"{value:.3g} s"
    if value < 7200:
        return f"{value / 60:.3g} min"
    return f"{value / 3600:.3g} h"


def log_ticks(
    values: Sequence[float] | Iterable[float], *, unit: str = "s", most: int = 12
) -> tuple[list[float], list[str]]:
    """Tick positions and labels for a log axis over the positive ``values``: 1, 2, 3, 5, 7 of
    each decade, or 1, 2, 5, or only the 1s — the densest that gives at most ``most`` ticks —,
    labelled in
    human units (``unit="s"``) or as plain numbers."""
    positive = [float(v) for v in values if math.isfinite(float(v)) and float(v) > 0]
    if not positive:
        return [], []
    low = math.floor(math.log10(min(positive)))
    high = math.ceil(math.log10(max(positive)))
    ticks: list[float] = []
    for steps in ((1.0, 2.0, 3.0, 5.0, 7.0), (1.0, 2.0, 5.0), (1.0,)):
        ticks = [step * 10.0**exponent for exponent in range(low, high + 1) for step in steps]
        ticks = [t for t in ticks if t <= 10.0**high * (1 + 1e-9)]
        if len(ticks) <= most:
            break
    text = [seconds_text(t) if unit == "s" else f"{t:g}" for t in ticks]
    return ticks, text
