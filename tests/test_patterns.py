"""Behaviour of the shared-database and synchronous-call patterns on the same workload."""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim import api

CRASH_BILLING = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 5}]


def _runs(results: api.Results, pattern: str) -> list:
    return [run for run in results.runs if run.pattern == pattern]


def test_replica_crash_leaves_sync_http_copies_divergent_but_not_shared_db(scenario_factory):
    scenario = scenario_factory(faults=CRASH_BILLING, replications=2)
    results = api.run(scenario, workers=1)
    assert results.metric("sync_http", "divergent_keys") > 0
    assert results.metric("sync_http", "stale_read_rate") > 0
    assert results.metric("shared_db", "divergent_keys") == 0
    assert results.metric("shared_db", "stale_read_rate") == 0
    assert results.metric("shared_db", "staleness_max") == 0


def test_without_faults_both_patterns_converge(scenario_factory):
    results = api.run(scenario_factory(), workers=1)
    for pattern in ("shared_db", "sync_http"):
        assert results.metric(pattern, "divergent_keys") == 0
        assert results.metric(pattern, "error_rate") == 0


def test_every_request_gets_exactly_one_outcome(scenario_factory):
    scenario = scenario_factory(faults=CRASH_BILLING)
    results = api.run(scenario, workers=1)
    for run in results.runs:
        frame = run.requests
        assert frame["outcome"].isin(["ok", "error", "timeout"]).all()
        assert np.isfinite(frame["latency"]).all()
        assert (frame["latency"] >= 0).all()
        assert (frame["latency"] <= scenario.workload.timeout + 1e-9).all()
    # both patterns answered the very same requests (common random numbers)
    shared, sync = (r.requests for r in results.runs)
    pd.testing.assert_frame_equal(
        shared[["op", "key", "service", "start"]], sync[["op", "key", "service", "start"]]
    )


def _applied_keys(run, replica_index: int, start: float, end: float) -> set[tuple[int, int]]:
    commits = run.tables["commits"]
    window = commits[(commits["time"] >= start) & (commits["time"] < end)]
    applies = run.tables["applies"]
    mine = applies[applies["replica"] == replica_index]
    wanted = set(zip(window["key"], window["version"], strict=True))
    got = set(zip(mine["key"], mine["version"], strict=True))
    return wanted & got


def test_sequential_fanout_stops_at_the_first_failed_call(scenario_factory):
    crash_orders = [{"kind": "crash", "target": "service:orders", "start": 5, "duration": 5}]
    scenario = scenario_factory(
        faults=crash_orders,
        patterns=[
            {"kind": "sync_http", "name": "seq", "fanout": "sequential", "timeout": "200ms"},
            {"kind": "sync_http", "name": "par", "fanout": "parallel", "timeout": "200ms"},
        ],
    )
    results = api.run(scenario, workers=1)
    seq, par = (_runs(results, name)[0] for name in ("seq", "par"))
    # commits made while orders (replica 0) is down, well inside the window
    assert not _applied_keys(seq, 0, 6, 9)
    assert not _applied_keys(seq, 1, 6, 9), "billing is called after orders, so never reached"
    assert _applied_keys(par, 1, 6, 9), "in parallel, billing is still updated"


def test_timed_out_call_may_still_apply_later(scenario_factory):
    slow = [
        {
            "kind": "latency",
            "target": "service:billing",
            "start": 5,
            "duration": 3,
            "delay": "300ms",
        }
    ]
    scenario = scenario_factory(
        faults=slow,
        patterns=[{"kind": "sync_http", "timeout": "100ms", "retries": 0}],
        workload={"phases": [{"duration": 20, "rate": 20}]},
    )
    run = api.run(scenario, workers=1).runs[0]
    requests = run.requests
    during = requests[(requests["start"] > 5.1) & (requests["start"] < 7.5)]
    assert (during.loc[during["op"] == "write", "outcome"] == "timeout").all()
    spread = run.propagation
    late = spread[(spread["replica"] == "billing") & (spread["commit_time"].between(5.1, 7.5))]
    assert late["delay"].notna().all(), "the replica applied the write after the caller gave up"
    assert (late["delay"] > 0.1).all()


def test_database_fault_reaches_every_service_only_with_a_shared_database(scenario_factory):
    down = [{"kind": "crash", "target": "db:users", "start": 5, "duration": 5}]
    results = api.run(scenario_factory(faults=down), workers=1)
    for pattern, replicas_fail in (("shared_db", True), ("sync_http", False)):
        requests = _runs(results, pattern)[0].requests
        window = requests[requests["start"].between(5.5, 9.5)]
        reads_at_replicas = window[(window["op"] == "read")]
        failed = (reads_at_replicas["outcome"] != "ok").mean()
        assert (failed == 1.0) if replicas_fail else (failed == 0.0)
        writes = window[window["op"] == "write"]
        assert (writes["outcome"] != "ok").all()


def test_more_retries_do_not_raise_the_error_rate(scenario_factory):
    flaky = [
        {
            "kind": "error",
            "target": "service:billing",
            "start": 2,
            "duration": 15,
            "probability": 0.3,
        }
    ]
    rates = []
    for retries in (0, 1, 3):
        scenario = scenario_factory(
            faults=flaky, patterns=[{"kind": "sync_http", "retries": retries, "timeout": "200ms"}]
        )
        rates.append(api.run(scenario, workers=1).metric("sync_http", "error_rate"))
    assert rates[0] > rates[1] > rates[2]


def test_reads_at_the_owner_are_never_stale(scenario_factory):
    scenario = scenario_factory(data={"replicas": []}, faults=CRASH_BILLING)
    results = api.run(scenario, workers=1)
    for pattern in ("shared_db", "sync_http"):
        assert results.metric(pattern, "stale_read_rate") == 0
        assert results.metric(pattern, "divergent_keys") == 0
