"""Duplicates, reorders, phantom writes, lost updates and read-your-writes violations, on
hand-made histories and through a run."""

from __future__ import annotations

import pandas as pd

from sim import api
from sim.metrics.consistency import (
    apply_anomalies,
    lost_and_pending,
    propagation,
    read_your_writes_violations,
)

COMMITS = pd.DataFrame({"key": [1, 1, 2], "version": [1, 2, 1], "time": [1.0, 2.0, 3.0]})


def _applies(rows):
    return pd.DataFrame(rows, columns=["replica", "key", "version", "time"])


def test_a_clean_history_has_no_anomalies():
    applies = _applies([(0, 1, 1, 1.1), (0, 1, 2, 2.1), (0, 2, 1, 3.1)])
    assert apply_anomalies(COMMITS, applies) == {
        "duplicates": 0,
        "reorders": 0,
        "phantom_writes": 0,
    }


def test_each_anomaly_is_counted_once():
    applies = _applies(
        [
            (0, 1, 1, 1.1),
            (0, 1, 2, 2.1),
            (0, 1, 1, 2.5),  # a redelivery of version 1 after 2: a duplicate, not a reorder
            (0, 2, 1, 3.1),
            (0, 2, 1, 3.2),  # duplicate
            (0, 2, 7, 3.3),  # never committed: phantom
            (1, 2, 7, 3.3),  # phantom at another copy counts again
            (1, 1, 2, 2.2),
            (1, 1, 1, 2.3),  # version 1 first applied after 2: a reorder
        ]
    )
    assert apply_anomalies(COMMITS, applies) == {
        "duplicates": 2,
        "reorders": 1,
        "phantom_writes": 2,
    }


def test_anomalies_of_versions_committed_in_the_warm_up_are_not_counted():
    applies = _applies([(0, 1, 1, 1.1), (0, 1, 1, 4.0), (0, 2, 1, 3.1), (0, 2, 1, 3.2)])
    assert apply_anomalies(COMMITS, applies, since=2.5)["duplicates"] == 1  # key 2 only


def test_lost_updates_are_versions_a_copy_never_applied_and_can_no_longer_get():
    applies = _applies([(0, 1, 2, 2.1)])  # skipped version 1 of key 1, and key 2 entirely
    assert lost_and_pending(COMMITS, applies, ["orders"]) == (2, 0)
    assert lost_and_pending(COMMITS, applies, ["orders", "billing"]) == (5, 0)
    # key 2 is still in a log on its way to orders: pending, not lost
    assert lost_and_pending(COMMITS, applies, ["orders"], {0: {(2, 1)}}) == (1, 1)
    assert lost_and_pending(COMMITS, applies, ["orders"], since=2.5) == (1, 0)
    # staleness still sees version 1 as reached when version 2 arrives
    spread = propagation(COMMITS, applies, ["orders"])
    assert int(spread["delay"].isna().sum()) == 1
    assert spread.loc[spread["key"] == 2, "delay"].isna().all()


def test_read_your_writes_violation_needs_an_acknowledged_newer_write():
    requests = pd.DataFrame(
        {
            "op": ["write", "read", "read", "read"],
            "key": [5, 5, 5, 6],
            "start": [0.0, 0.5, 2.0, 2.0],
            "latency": [1.0, 0.1, 0.1, 0.1],
            "outcome": ["ok", "ok", "ok", "ok"],
            "version": [3, 2, 2, 0],
        }
    )
    # the read at 0.5 began before the write was acknowledged (at 1.0): not a violation
    assert read_your_writes_violations(requests) == 1


def test_sync_http_counts_lost_updates_that_shared_db_never_has(scenario_factory):
    faults = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 5}]
    results = api.run(scenario_factory(faults=faults), workers=1)
    assert results.metric("sync_http", "lost_updates") > 0
    assert results.metric("shared_db", "lost_updates") == 0
    for pattern in ("shared_db", "sync_http"):
        assert results.metric(pattern, "phantom_writes") == 0
        assert results.metric(pattern, "duplicates") == 0
