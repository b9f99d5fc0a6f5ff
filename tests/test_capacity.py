"""Breaking points: the search agrees with Erlang C on an M/M/c queue, and on the shipped
scenario synchronous fan-out breaks before CDC when a replica is the bottleneck; the patterns'
searches run their probes together and find what each finds alone."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest
from scipy.optimize import brentq
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.executors import LocalExecutor
from sim.runner import RunResult, Task

ROOT = Path(__file__).resolve().parents[1]

MMC = """
name: mmc
seed: 5
warmup: 5s
drain: 1m
replications: 3
services:
  station: {instances: 1, concurrency: 4, service_time: {dist: exponential, mean: 10ms}}
databases:
  default: {read_time: 0, write_time: 0}
network: {latency: 0}
data: {owner: station, keys: 1}
workload:
  timeout: 1h
  phases: [{duration: 60s, rate: 200/s}]
  mix: {read: 1, write: 0}
patterns: [{kind: shared_db}]
slo: ["mean(latency) < 20ms"]
"""


def erlang_c_mean(arrival: float, servers: int = 4, service: float = 100.0) -> float:
    """Mean time in system of M/M/c (Erlang C)."""
    load = arrival / service
    below = sum(load**k / math.factorial(k) for k in range(servers))
    top = load**servers / math.factorial(servers) / (1 - load / servers)
    return top / (below + top) / (servers * service - arrival) + 1 / service


def test_the_search_brackets_the_load_where_erlang_c_crosses_the_slo() -> None:
    crossing = brentq(lambda rate: erlang_c_mean(rate) - 0.020, 100.0, 399.0)  # ~334/s
    result = api.capacity(api.parse(MMC), workers=2)
    row = result.breaking.iloc[0]
    assert row["status"] == "found"
    assert row["high"] / row["low"] - 1 <= 0.05
    assert row["low_rate"] * 0.95 <= crossing <= row["high_rate"] * 1.05
    assert row["broke_first"] == "mean(latency) < 20ms"
    curve = result.curves
    latency = curve[curve["metric"] == "latency_mean"].sort_values("rate")
    assert latency["mean"].is_monotonic_increasing  # more load, longer waits


def test_synchronous_fan_out_breaks_first_when_a_replica_is_the_bottleneck(tmp_path) -> None:
    out = tmp_path / "cap"
    result = CliRunner().invoke(
        app,
        [
            "capacity",
            str(ROOT / "scenarios" / "capacity.yaml"),
            "-o",
            str(out),
            "--replications",
            "2",
            "--tolerance",
            "10%",
            "--set",
            "workload.phases=[{duration: 30s, rate: 50/s}]",
        ],
    )
    assert result.exit_code == 0, result.output
    breaking = pd.read_csv(out / "capacity.csv").set_index("pattern")
    sync, cdc = breaking.loc["sync_http"], breaking.loc["cdc"]
    assert sync["status"] == cdc["status"] == "found"
    assert sync["high_rate"] < cdc["low_rate"]  # the intervals do not overlap
    assert sync["broke_first"] == "p99(latency{op:write}) < 100ms"
    assert cdc["broke_first"] == "p99(staleness) < 5s"
    probes = pd.read_csv(out / "probes.csv")
    assert set(probes["pattern"]) == {"sync_http", "cdc"}
    assert len(probes.drop_duplicates(["pattern", "multiplier"])) == sync["probes"] + cdc["probes"]
    assert (out / "probe_verdicts.csv").exists() and (out / "capacity.json").exists()
    page = (out / "report.html").read_text(encoding="utf-8")
    assert 'id="breaking"' in page and 'id="fig-capacity"' in page
    assert "p99(latency{op:write}) &lt; 100ms" in page  # the SLO that broke first, escaped
    again = CliRunner().invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / "report.html").read_text(encoding="utf-8") == page


def test_a_pattern_that_never_breaks_is_reported_as_passing_at_the_limit() -> None:
    scenario = api.parse(MMC, ["capacity={high: 2, tolerance: 10%}", "slo=['mean(latency) < 1s']"])
    result = api.capacity(scenario, workers=1)
    row = result.breaking.iloc[0]
    assert row["status"] == "passes at high"
    assert row["low"] == 2.0 and math.isnan(row["high"])
    assert row["broke_first"] == ""


def test_capacity_settings_and_slos_are_checked(tmp_path) -> None:
    with pytest.raises(api.ScenarioError, match="must lie between low"):
        api.parse(MMC, ["capacity={start: 100}"])
    path = tmp_path / "no-slo.yaml"
    path.write_text(MMC.replace('slo: ["mean(latency) < 20ms"]', ""))
    result = CliRunner().invoke(app, ["capacity", str(path), "-o", str(tmp_path / "o")])
    assert result.exit_code == 3
    assert "needs SLOs" in result.output
    result = CliRunner().invoke(
        app, ["capacity", str(path), "--slo", "p99(latency) < 1 parsec", "-o", str(tmp_path / "o")]
    )
    assert result.exit_code == 3
    assert "capacity.slo" in result.output


class Recording(LocalExecutor):
    """This process, noting the patterns of every batch it is given."""

    def __init__(self) -> None:
        super().__init__(1)
        self.batches: list[set[int]] = []

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, RunResult]]:
        self.batches.append({task.pattern for task in tasks})
        return super().run(tasks)


def test_the_patterns_probes_run_together_and_each_search_finds_what_it_finds_alone() -> None:
    short = ["warmup=2s", "workload.phases=[{duration: 10s, rate: 50/s}]"]
    short += ["capacity.replications=2", "capacity.tolerance=20%"]
    pool = Recording()
    both = api.capacity(api.load(ROOT / "scenarios" / "capacity.yaml", short), executor=pool)
    assert pool.batches[0] == {0, 1}  # a round: the next probe of each pattern
    assert len(pool.batches) < len(both.probes)
    for name in ("sync_http", "cdc"):
        alone = api.capacity(
            api.load(ROOT / "scenarios" / "capacity.yaml", [*short, f"capacity.patterns=[{name}]"]),
            workers=1,
        )
        mine = both.breaking[both.breaking["pattern"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone.breaking, mine, check_exact=True)
        curves = both.curves[both.curves["pattern"] == name].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone.curves, curves, check_exact=True)
