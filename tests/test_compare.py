"""Comparing two run folders: changes beyond the noise, rules that fail CI, different scenarios
said to differ."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"
SHORT = ["--set", "drain=5s", "--set", "workload.phases=[{duration: 30s, rate: 50/s}]"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    a, again, slower = root / "a", root / "again", root / "slower"
    for out, extra in (
        (a, []),
        (again, []),
        (slower, ["--set", "services.orders.service_time=6ms"]),
    ):
        result = CliRunner().invoke(app, ["run", str(QUICKSTART), "-o", str(out), *SHORT, *extra])
        assert result.exit_code == 0, result.output
    return a, again, slower


def test_a_regression_past_the_threshold_exits_4(runs) -> None:
    a, _, slower = runs
    result = CliRunner().invoke(
        app, ["compare", str(a), str(slower), "--fail-on", "p99(latency) +10%"]
    )
    assert result.exit_code == 4, result.output
    assert "regressed: shared_db latency_p99" in result.output
    assert "the runs are of different scenarios" in result.output
    loose = CliRunner().invoke(
        app, ["compare", str(a), str(slower), "--fail-on", "p99(latency) +50%"]
    )
    assert loose.exit_code == 0, loose.output


def test_the_same_experiment_twice_changes_nothing(runs) -> None:
    a, again, _ = runs
    result = CliRunner().invoke(
        app, ["compare", str(a), str(again), "--fail-on", "p99(latency) +1%"]
    )
    assert result.exit_code == 0, result.output
    assert "different scenarios" not in result.output
    found = api.compare(a, again)
    assert found.same_scenario
    assert (found.table["change"].dropna() == 0).all()
    assert not found.table["beyond_noise"].any()


def test_changes_are_paired_on_the_same_seed_and_judged_against_the_noise(runs) -> None:
    a, _, slower = runs
    found = api.compare(a, slower)
    assert set(found.table["method"]) == {"paired"}
    row = found.table[
        (found.table["pattern"] == "shared_db") & (found.table["metric"] == "latency_mean")
    ]
    row = row.iloc[0]
    assert row["change"] > 0 and row["beyond_noise"] and row["ci_low"] > 0
    assert row["relative"] == pytest.approx(row["change"] / row["a"])


@pytest.mark.parametrize(
    ("text", "metric", "direction", "amount", "relative"),
    [
        ("p99(latency) +10%", "latency_p99", 1, 0.10, True),
        ("throughput -5%", "throughput", -1, 0.05, True),
        ("throughput 5%", "throughput", -1, 0.05, True),  # no sign: the worse way
        ("p99(staleness) +200ms", "staleness_p99", 1, 0.2, False),
        ("error_rate +0.5pp", "error_rate", 1, 0.005, False),
        ("lost_updates +0", "lost_updates", 1, 0.0, False),
    ],
)
def test_rules_parse(text, metric, direction, amount, relative) -> None:
    from sim.experiments import parse_rule

    rule = parse_rule(text)
    assert (rule.metric, rule.direction, rule.relative) == (metric, direction, relative)
    assert rule.amount == pytest.approx(amount)


def test_bad_rules_and_folders_are_refused(runs, tmp_path) -> None:
    a, again, _ = runs
    bad = CliRunner().invoke(app, ["compare", str(a), str(again), "--fail-on", "p99(latency) lots"])
    assert bad.exit_code == 3
    assert "--fail-on" in bad.output
    pp = CliRunner().invoke(app, ["compare", str(a), str(again), "--fail-on", "p99(latency) +1pp"])
    assert pp.exit_code == 3 and "percentage points" in pp.output
    missing = CliRunner().invoke(app, ["compare", str(a), str(tmp_path)])
    assert missing.exit_code == 2 and "not a run folder" in missing.output
