"""Reports of the shipped scenarios: the same kind has the same colour everywhere, and the
consistency charts tell the patterns apart where the point of the comparison is."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import api
from sim.report.page import sections
from sim.report.style import KIND_COLORS
from sim.report.view import report_view, scenario_looks

SCENARIOS = sorted(Path(__file__).resolve().parents[2].joinpath("scenarios").glob("*.yaml"))


def test_every_shipped_scenario_gives_each_kind_its_own_fixed_colour() -> None:
    seen: dict[str, set[str]] = {}
    for path in SCENARIOS:
        scenario = api.load(path)
        labels = [p.label for p in api.points(scenario)] if scenario.sweep else None
        looks = scenario_looks(scenario, scenario.pattern_names(), labels)
        first: dict[str, str] = {}
        for look in looks.values():
            first.setdefault(look.kind, look.color)
        for kind, color in first.items():
            seen.setdefault(kind, set()).add(color)
    assert seen, "no shipped scenario found"
    for kind, colors in seen.items():
        assert colors == {KIND_COLORS[kind]}, kind


@pytest.fixture(scope="module")
def cdc_vs_polling():
    scenario = api.load(
        Path(__file__).resolve().parents[2] / "scenarios/cdc-vs-polling.yaml", ["replications=1"]
    )
    results = api.run(scenario, workers=1)
    view = report_view(results)
    return {section.slug: section.figure for section in sections(results, view)}


def _by_variant(fig, name: str) -> dict[str, np.ndarray]:
    return {
        trace.meta: np.asarray(trace.y, dtype=float)
        for trace in fig.data
        if trace.name == name and trace.meta is not None
    }


def test_cdc_and_polling_differ_in_freshness_over_time(cdc_vs_polling) -> None:
    fig = cdc_vs_polling["staleness-over-time"]
    p50 = _by_variant(fig, "p50")
    assert set(p50) == {"cdc", "polling"}
    cdc, polling = p50["cdc"], p50["polling"]
    assert not np.array_equal(cdc, polling, equal_nan=True)
    assert np.nanmedian(polling) > 3 * np.nanmedian(cdc)  # a 5 s poll against a log tail
    never = {t.meta: len(t.x) for t in fig.data if t.name == "p99 never arrived"}
    assert never["polling"] > never["cdc"]  # rows the poll misses never arrive


def test_cdc_and_polling_differ_per_copy(cdc_vs_polling) -> None:
    fig = cdc_vs_polling["per-copy"]
    lost = {t.meta: list(t.y) for t in fig.data if t.xaxis == "x3"}
    assert set(lost) == {"cdc", "polling"}
    assert lost["cdc"] != lost["polling"]
    assert sum(lost["polling"]) > 0 == sum(lost["cdc"])


def test_the_connector_chart_shows_polls_in_batches_and_cdc_in_a_steady_stream(
    cdc_vs_polling,
) -> None:
    fig = cdc_vs_polling["connector"]
    rows = {t.meta: np.asarray(t.y, dtype=float) for t in fig.data if t.xaxis == "x"}
    assert set(rows) == {"cdc", "polling"}
    # the same changes reach both connectors: about the same total read
    assert np.nansum(rows["polling"]) == pytest.approx(np.nansum(rows["cdc"]), rel=0.2)
    # polling reads every 5 s (most bins empty); cdc every 500 ms (few empty bins)
    assert (rows["polling"] == 0).mean() > (rows["cdc"] == 0).mean()
