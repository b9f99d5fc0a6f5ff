"""The broker's faults and settings through a scenario: validation, then their effect on a
pattern that moves changes through the broker."""

from __future__ import annotations

import pytest

from sim import api
from sim.scenario import ScenarioError


def _dual_write(scenario_factory, faults, **broker):
    return scenario_factory(
        drain=90,
        data={"keys": 50_000},
        workload={"phases": [{"duration": 20, "rate": 200}], "mix": {"write": 0.6, "read": 0.4}},
        patterns=[{"kind": "dual_write"}],
        faults=faults,
        broker=broker,
    )


def test_broker_keys_are_validated_with_the_scenario(scenario_factory):
    scenario = scenario_factory(broker={"partitions": 12, "acks": 1})
    assert scenario.broker.partitions == 12
    assert scenario.broker.idempotence is False  # acks=1 implies no idempotence [K-PROD]
    with pytest.raises(ScenarioError) as caught:
        scenario_factory(broker={"min_insync_replicas": 4})
    assert "min_insync_replicas" in str(caught.value)


def test_broker_fault_targets_are_checked(scenario_factory):
    with pytest.raises(ScenarioError) as caught:
        scenario_factory(
            faults=[{"kind": "broker-leader-loss", "target": "broker:partition/9", "start": 1}]
        )
    assert "partitions 0 to 5" in str(caught.value)
    with pytest.raises(ScenarioError) as caught:
        scenario_factory(
            faults=[{"kind": "consumer-crash", "target": "consumer:ghost", "start": 1}]
        )
    assert "no consumer group 'ghost'" in str(caught.value)


def test_leader_loss_with_acks_all_loses_nothing(scenario_factory):
    faults = [
        {"kind": "broker-leader-loss", "target": "broker:partition/0", "start": 5, "duration": 5}
    ]
    results = api.run(_dual_write(scenario_factory, faults), workers=1)
    assert results.metric("dual_write", "lost_updates") == 0
    assert results.metric("dual_write", "divergent_keys") == 0
    run = results.runs[0]
    assert len(run.tables["leader_elections"]) >= 1
    assert run.faults["kind"].tolist() == ["broker-leader-loss"]


def test_consumer_crash_pauses_the_group_and_redelivers(scenario_factory):
    faults = [{"kind": "consumer-crash", "target": "consumer:orders", "start": 5, "duration": 2}]
    results = api.run(_dual_write(scenario_factory, faults), workers=1)
    run = results.runs[0]
    rebalances = run.tables["rebalances"]
    assert (rebalances["group"] == "orders").any()
    # the crashed member's partitions waited for the session timeout: staleness shows it
    assert results.metric("dual_write", "staleness_max") > 10
    assert results.metric("dual_write", "divergent_keys") == 0


def test_consumer_pause_delays_but_loses_nothing(scenario_factory):
    faults = [{"kind": "consumer-pause", "target": "consumer:billing", "start": 5, "duration": 3}]
    results = api.run(_dual_write(scenario_factory, faults), workers=1)
    assert results.metric("dual_write", "staleness_max") >= 2.5
    assert results.metric("dual_write", "lost_updates") == 0


def test_partition_between_caller_and_replica_times_calls_out(scenario_factory):
    faults = [{"kind": "partition", "target": "link:users<->billing", "start": 5, "duration": 5}]
    scenario = scenario_factory(patterns=[{"kind": "sync_http", "timeout": "100ms"}], faults=faults)
    run = api.run(scenario, workers=1).runs[0]
    requests = run.requests
    writes = requests[(requests["op"] == "write") & requests["start"].between(5.5, 9.0)]
    answered_during = writes[writes["start"] + writes["latency"] < 10.0]
    assert len(answered_during) > 10
    assert (answered_during["outcome"] == "timeout").all()
    # writes queued behind the stuck ones at the owner are served after the heal
    assert (writes.loc[writes["start"] + writes["latency"] > 10.0, "latency"] > 0.5).all()
    reads = requests[(requests["op"] == "read") & requests["start"].between(5.5, 9.0)]
    assert (reads["outcome"] == "ok").all(), "the client still reaches billing"
