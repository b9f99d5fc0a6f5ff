"""Each pattern's promise, checked by searching generated fault schedules for a violation that
must not exist (``api.explore``: hypothesis draws and shrinks schedules from the pattern's
fault space), and conservation as a hypothesis property over every pattern.

The searches run small scenarios: a short load, a drain long enough for the consumer group's
session timeout (45 s) and a 1 s failure detection on the brokers, so that a leader loss in
the load is detected, elected and healed within the run rather than doing nothing. Where a
promise depends on settings (acks=all, min ISR 2, no unclean election; idempotent consumers),
the same search without them finds its violation (``tests/test_explore_finds.py``)."""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api
from sim.experiments.schedules import FaultSpace, fault_space, schedules
from sim.kernel.registry import FAULTS

BUDGET = 20
BROKER_FAULTS = [
    "broker-leader-loss",
    "broker-outage",
    "consumer-crash",
    "consumer-pause",
    "crash",
    "latency",
    "partition",
]
DURABLE = {"acks": "all", "replication_factor": 3, "min_insync_replicas": 2}
DURABLE |= {"unclean_leader_election": False, "failure_detection": "1s"}


def _small(kind: str, faults: list | tuple = (), **pattern: object) -> api.Scenario:
    return make_scenario(
        faults=list(faults),
        warmup=0,
        drain=60,
        data={"keys": 200},
        broker=DURABLE,
        workload={"phases": [{"duration": 6, "rate": 50}], "mix": {"write": 0.7, "read": 0.3}},
        patterns=[{"kind": kind, **pattern}],
    )


def _holds(scenario: api.Scenario, pattern: str, invariant: str, kinds: list[str] | None):
    found = api.explore(
        scenario, pattern, invariant, budget=BUDGET, kinds=kinds, max_faults=2, seed=0
    )
    assert not found.found, (found.counterexample.faults, found.violations[:3])  # type: ignore[union-attr]
    assert len(found.covered) >= 5, found.covered  # the search did reach the pattern's parts
    return found


@pytest.mark.parametrize("invariant", ["no-loss", "convergence", "per-key-order"])
@pytest.mark.parametrize("pattern", ["cdc", "outbox", "event_sourcing"])
def test_durable_broker_patterns_lose_nothing_converge_and_keep_key_order(
    pattern: str, invariant: str
) -> None:
    _holds(_small(pattern), pattern, invariant, BROKER_FAULTS)


@pytest.mark.parametrize("invariant", ["no-loss", "convergence"])
def test_cdc_without_a_snapshot_loses_nothing_through_connector_crashes(invariant: str) -> None:
    """With ``snapshot_mode: no_data`` a restart without a stored offset streams from the slot's
    confirmed position (``snapshot.mode=initial`` snapshots again and collapses the versions
    written meanwhile: ``tests/test_explore_finds.py``)."""
    kinds = ["connector-crash", "connector-stall", "broker-leader-loss", "consumer-crash"]
    _holds(_small("cdc", snapshot_mode="no_data"), "cdc", invariant, kinds)


def test_dual_write_keeps_per_key_order_through_broker_faults() -> None:
    """Its changes are keyed and the producer is idempotent: a retried batch is not
    reordered (what dual write loses is another matter: the crash between its two steps)."""
    kinds = [kind for kind in BROKER_FAULTS if kind != "crash"]
    _holds(_small("dual_write"), "dual_write", "per-key-order", kinds)


@pytest.mark.parametrize("invariant", ["convergence", "no-duplicates"])
def test_idempotent_consumers_make_redelivery_harmless(invariant: str) -> None:
    kinds = ["connector-crash", "connector-stall", "consumer-crash", "rewind", "crash"]
    scenario = _small("cdc", idempotent_consumers=True)
    _holds(scenario, "cdc", invariant, kinds)


def test_shared_db_never_serves_a_stale_read() -> None:
    """One copy of the data: a read sees the last committed version whatever fails (every
    registered fault kind that reaches the pattern)."""
    _holds(_small("shared_db"), "shared_db", "no-stale-reads", None)


def _final(projections: pd.DataFrame, store: str) -> pd.Series:
    mine = projections[(projections["store"] == store) & (projections["applied"] == 1)]
    return mine.sort_values("time", kind="stable").groupby("key")["version"].last()


@cache
def _plain_projections() -> pd.DataFrame:
    return api.run(_small("event_sourcing"), workers=1).runs[0].tables["projections"]


@settings(max_examples=8, deadline=None)
@given(
    rewinds=st.lists(
        st.tuples(st.sampled_from(["orders", "billing"]), st.integers(1, 59)),
        min_size=1,
        max_size=3,
    )
)
def test_replay_after_a_rewind_rebuilds_identical_projections(
    rewinds: list[tuple[str, int]],
) -> None:
    """A group rewound to before everything it read replays the log and ends where the
    un-rewound run ends, store by store."""
    faults = [
        {"kind": "rewind", "target": f"consumer:{group}", "start": tenths / 10, "by": 60}
        for group, tenths in rewinds
    ]
    run = api.run(_small("event_sourcing", faults), workers=1).runs[0]
    consumed = run.tables["broker_consume"]
    for group, _ in rewinds:  # each rewound group did read its events again
        assert consumed[consumed["group"] == group]["redelivered"].sum() > 0, group
    for store in ("users", "orders", "billing"):
        assert _final(run.tables["projections"], store).equals(
            _final(_plain_projections(), store)
        ), store


KINDS = ["shared_db", "sync_http", "two_phase_commit", "dual_write", "event_sourcing", "cdc"]
KINDS += ["polling", "outbox", "saga"]


@cache
def _space(kind: str) -> tuple[api.Scenario, FaultSpace, pd.DataFrame]:
    scenario = _small(kind)
    plain = api.run(scenario, workers=1).runs[0].requests
    # every registered kind, an operator's rewind included: nothing may go missing either way
    return scenario, fault_space(scenario, 0, FAULTS.kinds()), plain[["start", "key"]]


@settings(max_examples=12, deadline=None)
@given(data=st.data(), kind=st.sampled_from(KINDS))
def test_every_issued_request_ends_exactly_once(data: st.DataObject, kind: str) -> None:
    """Conservation under any schedule: issued = ok + error + timeout (nothing is in flight
    once the drain ends: every request is bounded by the client's timeout)."""
    scenario, space, _ = _space(kind)
    schedule = data.draw(schedules(space, 2))
    results = api.run(_small(kind, schedule), workers=1)
    frame = results.runs[0].requests
    issued = len(_space(kind)[2])  # the same arrivals as without faults (common random numbers)
    assert len(frame) == issued
    assert frame[["start", "key"]].equals(_space(kind)[2])
    counts = frame["outcome"].value_counts()
    assert sum(int(counts.get(o, 0)) for o in ("ok", "error", "timeout")) == issued
    assert np.isfinite(frame["latency"]).all()
    assert (frame["latency"] <= scenario.workload.timeout + 1e-9).all()
