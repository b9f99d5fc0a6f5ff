"""The broker: block — defaults from domain.md, Kafka's cross-field rules; broker fault targets."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from sim.config.broker import BrokerConfig
from sim.faults.kinds import BrokerLeaderLossFault, ConsumerCrashFault, ConsumerPauseFault
from sim.faults.targets import BrokerTarget, ConsumerTarget, PartitionTarget


def test_defaults_follow_domain_md() -> None:
    config = BrokerConfig()
    assert (config.partitions, config.replication_factor, config.min_insync_replicas) == (6, 3, 2)
    assert (config.acks, config.idempotence) == ("all", True)
    assert (config.linger, config.batch_size) == (0.005, 16384)
    assert (config.delivery_timeout, config.request_timeout) == (120.0, 30.0)
    assert (config.retry_backoff, config.retry_backoff_max) == (0.1, 1.0)
    assert (config.session_timeout, config.heartbeat_interval) == (45.0, 3.0)
    assert (config.max_poll_interval, config.max_poll_records) == (300.0, 500)
    assert (config.fetch_max_wait, config.auto_commit_interval) == (0.5, 5.0)
    assert (config.commit, config.assignment, config.rebalance_time) == ("auto", "eager", 3.0)
    assert config.retention == 7 * 86400 and config.delete_retention == 86400
    assert config.failure_detection == 9.0 and config.replica_lag_time_max == 30.0
    assert config.unclean_leader_election is False and config.static_membership is False


def test_every_field_is_described_with_a_source() -> None:
    schema = BrokerConfig.model_json_schema()
    for name, field in schema["properties"].items():
        text = field.get("description", "")
        assert text, f"{name} has no description"
        assert "[" in text or "judgment" in text, f"{name} cites no source: {text}"


def test_units_and_kafka_spellings_are_accepted() -> None:
    config = BrokerConfig.model_validate(
        {
            "linger": "10ms",
            "session_timeout": "30s",
            "retention": -1,
            "acks": -1,
            "partition_throughput": "20M/s",
            "latency": "2ms",
        }
    )
    assert config.linger == pytest.approx(0.01)
    assert config.session_timeout == 30.0
    assert config.retention is None
    assert config.acks == "all"
    assert config.partition_throughput == 20e6
    assert config.latency.dist == "constant"


def test_idempotence_left_at_default_is_switched_off_with_acks_1() -> None:
    assert BrokerConfig(acks=1).idempotence is False  # type: ignore[arg-type]
    assert BrokerConfig.model_validate({"acks": 0}).acks == "0"


def test_explicit_idempotence_with_acks_1_is_refused() -> None:
    with pytest.raises(ValidationError, match="idempotence needs acks=all"):
        BrokerConfig.model_validate({"acks": 1, "idempotence": True})


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"min_insync_replicas": 4}, "cannot exceed replication_factor"),
        ({"replication_factor": 4}, "needs at least as many brokers"),
        ({"delivery_timeout": "10s"}, "must be at least linger"),
        ({"session_timeout": "2s", "heartbeat_interval": "1s"}, "broker's bounds"),
        ({"heartbeat_interval": "50s"}, "must be below session_timeout"),
        ({"assignment": "roundrobin"}, "eager"),
        ({"partitons": 3}, "Extra inputs are not permitted"),
    ],
)
def test_inconsistent_settings_are_explained(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BrokerConfig.model_validate(changes)


def test_leader_loss_targets() -> None:
    partition = BrokerLeaderLossFault.model_validate(
        {"kind": "broker-leader-loss", "target": "broker:partition/3", "start": "1m"}
    )
    assert (partition.target, partition.start) == (PartitionTarget(3), 60.0)
    whole = BrokerLeaderLossFault.model_validate(
        {"kind": "broker-leader-loss", "target": "broker", "start": 0}
    )
    assert whole.target == BrokerTarget(None) and whole.duration is None  # until the load ends
    two = BrokerLeaderLossFault.model_validate(
        {"kind": "broker-leader-loss", "target": "broker:2", "start": 0}
    )
    assert two.target == BrokerTarget(2) and str(two.target) == "broker:2"


@pytest.mark.parametrize("target", ["brokers", "broker:partition/x", "broker:", "consumer:g"])
def test_bad_leader_loss_target_says_what_is_expected(target: str) -> None:
    with pytest.raises(ValidationError, match="broker:partition/N"):
        BrokerLeaderLossFault.model_validate(
            {"kind": "broker-leader-loss", "target": target, "start": 0}
        )


def test_consumer_fault_targets() -> None:
    crash = ConsumerCrashFault.model_validate(
        {"kind": "consumer-crash", "target": "consumer:billing", "start": "10s", "member": 1}
    )
    assert (crash.target, crash.member, crash.duration) == (ConsumerTarget("billing"), 1, None)
    with pytest.raises(ValidationError, match="consumer:GROUP"):
        ConsumerCrashFault.model_validate(
            {"kind": "consumer-crash", "target": "billing", "start": 0}
        )


def test_pause_needs_a_duration() -> None:
    with pytest.raises(ValidationError, match="duration"):
        ConsumerPauseFault.model_validate(
            {"kind": "consumer-pause", "target": "consumer:g", "start": 0}
        )
    with pytest.raises(ValidationError, match="duration above 0"):
        ConsumerPauseFault.model_validate(
            {"kind": "consumer-pause", "target": "consumer:g", "start": 0, "duration": 0}
        )
    pause = ConsumerPauseFault.model_validate(
        {"kind": "consumer-pause", "target": "consumer:g", "start": 0, "duration": "1m"}
    )
    assert pause.duration == 60.0
