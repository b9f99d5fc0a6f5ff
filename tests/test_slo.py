"""SLOs: the threshold language, validation with positions, verdicts and exit code 4."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim.cli import app
from sim.metrics.slo import SloError, parse_slo
from sim.metrics.verdicts import evaluate
from sim.scenario import ScenarioError, parse_scenario

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = [
    "--replications",
    "1",
    "--set",
    "workload.phases=[{duration: 15s, rate: 40/s}]",
    "--set",
    "drain=5s",
]


@pytest.mark.parametrize(
    ("text", "metric", "op", "threshold"),
    [
        ("p99(latency) < 250ms", "latency_p99", "<", 0.25),
        ("mean(latency)<=1s", "latency_mean", "<=", 1.0),
        ("p999(latency) < 1m", "latency_p999", "<", 60.0),
        ("max(staleness) < 30s", "staleness_max", "<", 30.0),
        ("error_rate < 1%", "error_rate", "<", 0.01),
        ("stale_read_rate <= 0.5", "stale_read_rate", "<=", 0.5),
        ("throughput >= 12k/min", "throughput", ">=", 200.0),
        ("lost_updates == 0", "lost_updates", "==", 0.0),
        ("divergent_keys != 3", "divergent_keys", "!=", 3.0),
    ],
)
def test_parses_the_threshold_language(text, metric, op, threshold):
    slo = parse_slo(text)
    assert (slo.metric, slo.op) == (metric, op)
    assert math.isclose(slo.threshold, threshold)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("p99 latency < 1s", "expected 'p99(latency) < 250ms'"),
        ("p42(latency) < 1s", "unknown p42(latency)"),
        ("max(latency) < 1s", "unknown max(latency)"),
        ("speed < 3", "unknown metric 'speed'"),
        ("error_rate < lots", "percentage"),
        ("p99(latency) < fast", "duration"),
        ("lost_updates == nan", "finite"),
        ("__import__('os') < 1", "expected"),
    ],
)
def test_bad_lines_say_what_is_expected(text, says):
    with pytest.raises(SloError, match=None) as caught:
        parse_slo(text)
    assert says in str(caught.value)


def test_a_metric_not_measured_never_passes():
    summary = pd.DataFrame(
        [("p", "error_rate", 0.02, 0.01, 0.03, 3)],
        columns=["pattern", "metric", "mean", "ci_low", "ci_high", "n"],
    )
    verdicts = evaluate(
        [parse_slo("error_rate < 5%"), parse_slo("consumer_lag_max < 10")], summary, ["p"]
    )
    assert verdicts["passed"].tolist() == [True, False]
    assert math.isnan(verdicts["value"].iloc[1])


def test_bad_slo_lines_are_scenario_errors_with_positions():
    text = QUICKSTART.read_text() + 'slo: ["error_rate < 1%", "p99(latency) < soon"]\n'
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "q.yaml")
    (issue,) = caught.value.issues
    assert str(issue).startswith("q.yaml:")
    assert issue.path == "slo[1]"
    assert "duration" in issue.message


def test_failed_slo_exits_4_and_is_recorded(tmp_path):
    slos = 'slo=["p99(latency) < 1h", "divergent_keys == 0"]'
    crash = 'faults=[{kind: crash, target: "service:billing", start: 5s, duration: 5s}]'
    arguments = ["run", str(QUICKSTART), "--out", str(tmp_path), *SHORT, "--set", slos]
    result = CliRunner().invoke(app, [*arguments, "--set", crash, "--set", "warmup=2s"])
    assert result.exit_code == 4, result.output
    assert "SLO check" in result.output
    verdicts = pd.read_csv(tmp_path / "verdicts.csv")
    assert verdicts.loc[verdicts["pattern"] == "shared_db", "passed"].all()
    sync = verdicts[verdicts["pattern"] == "sync_http"].set_index("slo")["passed"]
    assert bool(sync["p99(latency) < 1h"]) and not bool(sync["divergent_keys == 0"])
    document = json.loads((tmp_path / "summary.json").read_text())
    assert document["passed"] is False
    assert len(document["verdicts"]) == 4
    page = (tmp_path / "report.html").read_text()
    assert 'id="slo-grid"' in page and "divergent_keys == 0" in page


def test_passing_slos_exit_0(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(QUICKSTART),
            "--out",
            str(tmp_path),
            *SHORT,
            "--set",
            'slo=["p99(latency) < 1h"]',
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "summary.json").read_text())["passed"] is True


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("p99(latency) < -5s", "always 0 or more"), ("error_rate < 150%", "always 0% to 100%")],
)
def test_a_threshold_outside_the_metric_range_is_refused(text: str, fragment: str) -> None:
    with pytest.raises(SloError, match=fragment):
        parse_slo(text)
