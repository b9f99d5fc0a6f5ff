"""Statistics that can be trusted: paired differences, intervals shown within a metric's bounds,
adaptive replications, and the MSER-5 warm-up suggestion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.metrics.stats import mser5, welch_ci
from sim.metrics.summarize import shown_interval

# M/M/1 at the station: Poisson arrivals, one slot, exponential service, nothing else timed
MM1 = """
name: mm1
seed: 3
warmup: 20s
drain: 1m
replications: {replications}
services:
  station: {{instances: 1, concurrency: 1, service_time: {{dist: exponential, mean: 10ms}}}}
  copy: {{instances: 1, concurrency: 1, service_time: {{dist: exponential, mean: 10ms}}}}
databases:
  default: {{read_time: 0, write_time: 0}}
network: {{latency: 0}}
data: {{owner: station, keys: 100}}
workload:
  phases: [{{duration: 200s, rate: 50/s}}]
  mix: {{read: 1, write: 0}}
patterns:
  - {{kind: shared_db}}
  - {{kind: shared_db, name: twin}}
  - {{kind: sync_http, name: variant}}
"""


def _mm1(replications: object = 6, **changes: str) -> api.Scenario:
    return api.parse(MM1.format(replications=replications), list(changes.values()))


def test_a_pattern_compared_with_itself_differs_by_exactly_zero() -> None:
    results = api.run(_mm1(), workers=1)
    twins = results.compare[
        (results.compare["pattern_a"] == "shared_db") & (results.compare["pattern_b"] == "twin")
    ]
    finite = twins.dropna(subset=["diff"])
    assert len(finite) > 10
    assert (finite["diff"] == 0).all()
    assert (finite["ci_low"] == 0).all() and (finite["ci_high"] == 0).all()


def test_the_paired_interval_is_narrower_than_the_unpaired_one() -> None:
    # the variant's writes would call the copy; here the copy is on every read's way
    scenario = api.parse(
        MM1.format(replications=8).replace("keys: 100}", "keys: 100, replicas: [copy]}"),
        ["workload.mix={read: 0.9, write: 0.1}"],
    )
    results = api.run(scenario, workers=1, baseline="shared_db")
    assert set(results.compare["pattern_b"]) == {"shared_db"}
    row = results.compare[
        (results.compare["pattern_a"] == "variant") & (results.compare["metric"] == "latency_mean")
    ].iloc[0]
    per = results.per_replication
    values = per[per["metric"] == "latency_mean"].pivot(
        index="replication", columns="pattern", values="value"
    )
    _, low, high = welch_ci(list(values["variant"]), list(values["shared_db"]))
    assert row["diff"] == pytest.approx(values["variant"].mean() - values["shared_db"].mean())
    assert row["ci_high"] - row["ci_low"] < (high - low) / 2  # at least twice as narrow


def test_intervals_are_shown_within_what_the_metric_can_be() -> None:
    assert shown_interval("reorders", -2.2, 3.5) == (0.0, 3.5, True)
    assert shown_interval("error_rate", 0.9, 1.2) == (0.9, 1.0, True)
    assert shown_interval("latency_p99", 0.01, 0.02) == (0.01, 0.02, False)


def test_mser5_finds_an_initial_transient_and_keeps_a_stationary_series() -> None:
    rng = np.random.default_rng(7)
    stationary = rng.exponential(1.0, 5000)
    transient = np.concatenate([np.linspace(30.0, 1.0, 400), rng.exponential(1.0, 4600)])
    assert mser5(stationary) < 250
    assert 300 <= mser5(transient) <= 600
    assert mser5(stationary[:40]) == 0  # too short to judge


def test_mser5_suggests_a_warm_up_for_a_queue_that_starts_full(tmp_path) -> None:
    # a burst at 3x capacity for 10 s, then a light load: the first latencies are far higher
    scenario = _mm1(
        2,
        phases="workload.phases=[{duration: 10s, rate: 300/s}, {duration: 190s, rate: 20/s}]",
        warmup="warmup=0",
    )
    results = api.run(scenario, patterns=["shared_db"], workers=1)
    assert results.suggested_warmup() > 10.0


def test_adaptive_replications_stop_when_the_target_is_met() -> None:
    plan = "replications={min: 3, max: 12, target: 3%, metrics: [mean(latency)]}"
    scenario = api.parse(
        MM1.format(replications=1), [plan, "workload.phases=[{duration: 60s, rate: 50/s}]"]
    )
    results = api.run(scenario, patterns=["shared_db", "variant"], workers=1)
    rows = results.summary[results.summary["metric"] == "latency_mean"]
    n = set(rows["n"])
    assert len(n) == 1  # every pattern of a point runs the same replications (paired)
    (count,) = n
    assert 3 < count <= 12
    half = (rows["ci_high"] - rows["ci_low"]) / 2 / rows["mean"]
    assert (half <= 0.03).all() or count == 12
    again = api.run(scenario, patterns=["shared_db", "variant"], workers=2)
    assert again.summary.equals(results.summary)


def test_an_unreachable_target_runs_the_maximum() -> None:
    plan = "replications={min: 2, max: 4, target: 0.01%}"
    scenario = api.parse(
        MM1.format(replications=1),
        [plan, "workload.phases=[{duration: 20s, rate: 50/s}]", "warmup=2s"],
    )
    results = api.run(scenario, patterns=["shared_db"], workers=1)
    assert set(results.summary["n"][results.summary["metric"] == "latency_mean"]) == {4}


def test_the_cli_warns_below_five_replications_and_checks_the_baseline(tmp_path) -> None:
    path = tmp_path / "mm1.yaml"
    path.write_text(MM1.format(replications=2))
    short = ["--set", "workload.phases=[{duration: 20s, rate: 50/s}]", "--set", "warmup=2s"]
    short += ["-o", str(tmp_path / "o")]
    result = CliRunner().invoke(app, ["run", str(path), *short, "--baseline", "twin"])
    assert result.exit_code == 0, result.output
    assert "2 replications: intervals from fewer than 5 are rough" in result.output
    compare = (tmp_path / "o" / "compare.csv").read_text().splitlines()
    assert compare[0] == "pattern_a,pattern_b,metric,diff,ci_low,ci_high,n"
    assert {line.split(",")[1] for line in compare[1:]} == {"twin"}
    result = CliRunner().invoke(app, ["run", str(path), *short, "--baseline", "nobody"])
    assert result.exit_code == 2
    assert "the baseline 'nobody' is not among the patterns" in result.output


def test_welch_matches_the_textbook_example() -> None:
    # two samples with unequal variances; difference 1, Welch-Satterthwaite df about 5.9
    diff, low, high = welch_ci([1.0, 2.0, 3.0, 4.0], [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, -3.0])
    assert diff == pytest.approx(2.5 - 12 / 7)
    assert low < diff < high
    assert math.isnan(welch_ci([1.0], [2.0, 3.0])[1])
