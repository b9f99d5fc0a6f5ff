"""Every shipped scenario validates, and runs when shortened."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import api
from sim.metrics.catalog import metrics_for
from sim.patterns import model_class

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))


def test_there_are_scenarios():
    assert {path.name for path in SCENARIOS} >= {"quickstart.yaml", "critical-path.yaml"}


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_scenario_validates(path):
    scenario = api.load(path)
    assert scenario.patterns


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_scenario_runs_shortened(path):
    names = [phase.name for phase in api.load(path).workload.phases if phase.name]
    # named phases stay (SLOs may be judged during them), sharing the ten seconds
    phases = ", ".join(
        f"{{duration: {10 / len(names):g}s, rate: 30/s, name: {name}}}" for name in names
    )
    scenario = api.load(
        path,
        overrides=[
            "replications=1",
            "warmup=2s",
            "drain=5s",
            f"workload.phases=[{phases or '{duration: 10s, rate: 30/s}'}]",
        ],
    )
    results = api.run(scenario, workers=1)
    assert set(results.summary["pattern"]) == set(scenario.pattern_names())
    kinds = [model_class(p.kind) for p in scenario.patterns]
    judged = {slo.key for slo in scenario.slo if slo.key != slo.metric}  # slices and windows
    names = set(results.summary["metric"])
    sliced = {n for n in names if "{" in n and n not in judged}  # each component's gauges
    assert names - sliced == {m.name for m in metrics_for(kinds)} | judged
    assert {n.split("{")[0] for n in sliced} <= {"utilisation", "queue_length", "in_system"}
    assert results.requests["outcome"].isin(["ok", "error", "timeout"]).all()


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda path: path.name)
def test_scenario_starts_with_a_schema_line_and_a_story(path):
    lines = path.read_text().splitlines()
    assert lines[0].startswith("# yaml-language-server: $schema=")
    assert sum(line.startswith("#") for line in lines[:10]) >= 3, "say what the scenario shows"
