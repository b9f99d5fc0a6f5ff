"""Searches that must find a violation within a small budget, on small scenarios (each with
the fault kinds that matter, so the budget stays small): sync_http loses a change once its
retries are exhausted, cdc without idempotent consumers applies duplicates after a
connector crash, and cdc with ``snapshot.mode=initial`` never sends a version overwritten
while a connector that had stored no offset yet was down (its new snapshot collapses them)."""

from __future__ import annotations

import pytest
from conftest import make_scenario

from sim import api


def _small(**changes: object) -> api.Scenario:
    return make_scenario(
        warmup=0,
        drain=20,
        data={"keys": 5_000},
        workload={"phases": [{"duration": 6, "rate": 80}], "mix": {"write": 1.0, "read": 0.0}},
        **changes,
    )


@pytest.mark.parametrize(
    ("pattern", "invariant", "kinds", "changes"),
    [
        ("sync_http", "no-loss", ["error"], {"patterns": [{"kind": "sync_http"}]}),
        ("cdc", "no-duplicates", ["connector-crash"], {"patterns": [{"kind": "cdc"}]}),
        # snapshot.mode=initial: a crash before the first offset flush snapshots again, and
        # the snapshot carries only the latest version of a row written twice meanwhile
        ("cdc", "no-loss", ["connector-crash"], {"patterns": [{"kind": "cdc"}]}),
    ],
    ids=["sync_http-retries-exhausted", "cdc-duplicates", "cdc-new-snapshot-collapses"],
)
def test_the_search_finds_the_violation(
    pattern: str, invariant: str, kinds: list[str], changes: dict
) -> None:
    found = api.explore(
        _small(**changes), pattern, invariant, budget=15, kinds=kinds, max_faults=1, seed=1
    )
    assert found.found, f"{len(found.tries)} schedules tried"
    assert len(found.counterexample.faults) == 1  # type: ignore[union-attr]
    assert found.violations and all(v.invariant == invariant for v in found.violations)


def test_acks_1_loses_an_acknowledged_record_when_the_leader_dies() -> None:
    """acks=1 acknowledges once the leader has appended; a leader that dies before a follower
    has the record, and stays down past detection and election, is replaced by a follower
    whose log ends before it: the record is gone. One partition and no linger (the 3.x
    default) so a send is in that window often; a 1 s detection so a short load holds it."""
    scenario = make_scenario(
        warmup=0,
        drain=5,
        data={"keys": 50_000},
        workload={"phases": [{"duration": 3, "rate": 1000}], "mix": {"write": 1.0, "read": 0.0}},
        broker={"acks": 1, "partitions": 1, "linger": 0, "failure_detection": "1s"},
        patterns=[{"kind": "dual_write"}],
    )
    found = api.explore(
        scenario,
        "dual_write",
        "no-loss",
        budget=40,
        kinds=["broker-leader-loss"],
        max_faults=1,
        seed=0,
    )
    assert found.found, f"{len(found.tries)} schedules tried"
    (fault,) = found.counterexample.faults  # type: ignore[union-attr]
    # the shortest crash that loses: it outlasts detection (1 s) and election (0.2 s)
    assert fault.duration == pytest.approx(1.2)
    rerun = api.run(found.counterexample, workers=1)  # type: ignore[arg-type]
    assert rerun.metric("dual_write", "lost_updates") > 0
    elections = rerun.runs[0].tables["leader_elections"]
    assert elections["lost_acked"].sum() > 0


def test_polling_in_timestamp_mode_skips_a_long_transaction() -> None:
    """A row stamped when its transaction began and committed after a poll that moved the
    position past its stamp is never read: the copies never converge, with no fault at all,
    and the key's timeline shows the stamp, the poll and the commit in that order."""
    scenario = make_scenario(
        warmup=0,
        drain=5,
        data={"keys": 50_000},
        databases={"users": {"write_time": {"dist": "lognormal", "mean": "10ms", "p99": "100ms"}}},
        workload={"phases": [{"duration": 10, "rate": 100}], "mix": {"write": 1.0, "read": 0.0}},
        patterns=[{"kind": "polling", "mode": "timestamp", "poll_interval": "1s"}],
    )
    found = api.explore(scenario, "polling", "convergence", budget=5, seed=1)
    assert found.found
    assert found.counterexample.faults == []  # type: ignore[union-attr]
    line = found.timeline()
    stamp = line.loc[line["event"] == "stamp", "time"].min()
    commit = line.loc[line["event"] == "commit", "time"].max()
    polls = line[(line["event"] == "poll") & (line["time"] > stamp) & (line["time"] < commit)]
    assert len(polls) >= 1, line.to_string()
    position = float(polls["detail"].iloc[-1].split("position then ")[1].rstrip("s"))
    assert position > stamp  # the poll moved past the row's stamp before the row committed
