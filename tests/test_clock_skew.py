"""``clock-skew`` matters where timestamps are read: a timestamp-mode poller misses the rows a
writer behind the clock stamps below what it has read, waits for the rows of a writer ahead,
and an incrementing poller, which reads no clock, is unaffected."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import make_scenario

from sim import api

METRICS = ("lost_updates", "divergent_keys", "staleness_p50", "staleness_p99")


def _polling(mode: str, faults: list[dict]) -> dict[str, float]:
    scenario = make_scenario(
        services={"users": {"instances": 2}},  # round robin: every other write is instance 1's
        data={"replicas": ["orders"], "keys": 100_000},
        workload={"phases": [{"duration": 30, "rate": 50}], "mix": {"write": 1, "read": 0}},
        patterns=[{"kind": "polling", "mode": mode, "poll_interval": "1s"}],
        faults=faults,
    )
    results = api.run(scenario, workers=1)
    return {name: results.metric("polling", name) for name in METRICS}


def _skew(target: str, offset: str) -> dict:
    return {"kind": "clock-skew", "target": target, "offset": offset, "start": 10, "duration": 10}


def test_a_writer_behind_the_clock_has_its_rows_missed_in_timestamp_mode() -> None:
    calm = _polling("timestamp", [])
    skewed = _polling("timestamp", [_skew("instance:users/1", "-5s")])
    assert calm["lost_updates"] == 0
    # instance 1 writes 25 rows a second for 10 s, each stamped 5 s below rows already read
    assert 0.9 * 250 <= skewed["lost_updates"] <= 250
    assert skewed["divergent_keys"] > 0.9 * 250


def test_a_database_clock_jumping_back_loses_the_rows_written_just_after() -> None:
    skewed = _polling("timestamp", [_skew("db:users", "-5s")])
    # rows written in the 5 s after the jump are stamped below the last poll's position,
    # all but those of the last poll interval before the jump: 50/s × (5 s - about 1 s)
    assert 50 * 3 <= skewed["lost_updates"] <= 50 * 5


def test_a_writer_ahead_of_the_clock_is_late_but_not_lost() -> None:
    skewed = _polling("timestamp", [_skew("instance:users/1", "5s")])
    assert skewed["lost_updates"] == 0
    assert skewed["staleness_p99"] >= 5.0  # its rows wait until the database's clock passes


@pytest.mark.parametrize("target", ["instance:users/1", "db:users"])
def test_incrementing_mode_reads_no_clock_and_is_unaffected(target: str) -> None:
    assert _polling("incrementing", [_skew(target, "-5s")]) == _polling("incrementing", [])


def test_a_clock_skew_of_zero_is_refused() -> None:
    with pytest.raises(api.ScenarioError, match="offset other than 0"):
        make_scenario(
            faults=[{"kind": "clock-skew", "target": "db:users", "offset": 0, "start": 1}]
        )


def test_the_shipped_story_a_timestamp_poller_loses_the_skewed_writers_rows() -> None:
    path = Path(__file__).resolve().parents[1] / "scenarios" / "clock-skew.yaml"
    phases = "workload.phases=[{duration: 90s, rate: 100/s}]"  # one skew window, from 30-40 s
    results = api.run(api.load(path, ["replications=1", phases]), workers=1)
    lost = {name: results.metric(name, "lost_updates") for name in results.scenario.pattern_names()}
    assert lost["cdc"] == 0
    assert lost["poll_timestamp"] >= 0.9 * 25 * 20  # instance 1's writes in its 20 s window
    assert lost["poll_incrementing"] < lost["poll_timestamp"] / 5  # only updates of read rows
    tails = {results.metric(name, "latency_p999") for name in lost}
    assert len(tails) == 1 and tails.pop() > 0.2  # the same lost queries in every pattern


def test_a_clock_nobody_reads_is_reported_not_applicable() -> None:
    """Only a timestamp-mode poller reads the stamps a clock gives: in cdc and in an
    incrementing poller a clock-skew changes nothing, and the run says so."""
    path = Path(__file__).resolve().parents[1] / "scenarios" / "clock-skew.yaml"
    warned = [w for w in api.warnings(api.load(path)) if "clock-skew" in w]
    assert len(warned) == 1 and "cdc" in warned[0] and "poll_incrementing" in warned[0]
    assert "poll_timestamp" not in warned[0]
    # a replica's clock is not read even by a timestamp poller (it stamps rows nobody polls)
    scenario = make_scenario(
        patterns=[{"kind": "polling", "mode": "timestamp"}],
        faults=[_skew("service:orders", "-5s"), _skew("db:orders", "-5s")],
    )
    assert len([w for w in api.warnings(scenario) if "clock-skew" in w]) == 2
