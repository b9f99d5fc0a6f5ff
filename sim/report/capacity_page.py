"""The page of a capacity search: each pattern's breaking load, which SLO broke first, and
each SLO's metric against the load with the breaking intervals marked.

Rendered from the files of the search's folder (``capacity.json``, ``capacity.csv``,
``probes.csv`` and the resolved scenario), so ``patternsim report`` renders it again the same
way without probing. Same template conventions as :mod:`sim.report.page` (autoescaped,
plotly.js inline by default, deterministic).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import markupsafe
import pandas as pd

import sim
from sim.metrics.slo import parse_slo
from sim.report.page import PLOTLYJS_MODES, TEMPLATES, csp_for, script_for
from sim.report.style import seconds_text
from sim.report.tradeoffs import capacity_curves
from sim.report.view import scenario_looks
from sim.scenario import load_scenario

__all__ = ["is_capacity_folder", "render_capacity"]


def is_capacity_folder(folder: Path) -> bool:
    return (folder / "capacity.json").exists() and (folder / "probes.csv").exists()


def _interval(row: dict, low: str, high: str, fmt: str) -> str:
    a, b = float(row[low]), float(row[high])
    if math.isfinite(a) and math.isfinite(b):
        return f"{a:{fmt}}–{b:{fmt}}"
    return str(row["status"])


def render_capacity(folder: Path, *, plotlyjs: str = "inline") -> str:
    """The capacity page of the search stored in ``folder``."""
    if plotlyjs not in PLOTLYJS_MODES:
        raise ValueError(f"plotlyjs must be one of {', '.join(PLOTLYJS_MODES)} (got {plotlyjs!r})")
    document = json.loads((folder / "capacity.json").read_text(encoding="utf-8"))
    scenario = load_scenario(folder / "scenario.resolved.yaml")
    slos = [parse_slo(text) for text in document["slo"]]
    breaking = pd.read_csv(folder / "capacity.csv", keep_default_na=False, na_values=[""])
    probes = pd.read_csv(folder / "probes.csv")
    names = [str(p) for p in breaking["pattern"]]
    looks = scenario_looks(scenario, names)
    metrics = list(dict.fromkeys(slo.key for slo in slos))
    figure = capacity_curves(probes, breaking, looks, metrics, slos)
    rows = [
        {
            "name": str(row["pattern"]),
            "color": looks[str(row["pattern"])].color,
            "multipliers": _interval(row, "low", "high", ".3g"),
            "rates": _interval(row, "low_rate", "high_rate", ".4g"),
            "broke_first": str(row["broke_first"] or "—"),
            "probes": int(row["probes"]),
        }
        for row in breaking.to_dict("records")
    ]
    div = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id="fig-capacity",
        config={"displaylogo": False, "responsive": True},
    )
    return TEMPLATES.get_template("capacity.html.j2").render(
        title=f"patternsim capacity: {scenario.name}",
        scaled=str(document["scaled"]),
        base_rate=f"{float(document['base_rate']):.4g}/s",
        tolerance=f"{float(document['tolerance']):.0%}",
        slos=[slo.text for slo in slos],
        rows=rows,
        figure=markupsafe.Markup(div),
        plotly_script=script_for(plotlyjs),
        csp=csp_for(plotlyjs),
        version=sim.__version__,
        warmup=seconds_text(scenario.warmup),
    )
