"""Replication: acks, ISR, min.insync.replicas, leader election, unclean election, throughput."""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.broker.cluster import Broker
from sim.broker.murmur2 import partition_for_key
from sim.broker.producer import Producer, RecordMetadata
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

Outcome = dict[int, tuple[RecordMetadata | None, str | None]]


def cluster(seed: int = 11, **changes: Any) -> tuple[SimContext, Broker, Producer]:
    ctx = SimContext.create(seed=seed)
    broker = Broker(ctx, BrokerConfig.model_validate(changes))
    broker.start()
    return ctx, broker, Producer(ctx, broker, name="writer")


def steady(
    ctx: SimContext, producer: Producer, until: float, gap: float = 0.002, topic: str = "t"
) -> Outcome:
    """Send one keyed record every ``gap`` seconds until ``until``; collect the outcomes."""
    outcome: Outcome = {}

    def writer() -> Any:
        i = 0
        while ctx.env.now < until:
            producer.send(
                topic, f"key-{i % 50}", i, on_ack=lambda m, e, i=i: outcome.__setitem__(i, (m, e))
            )
            i += 1
            yield ctx.env.timeout(gap)

    ctx.env.process(writer())
    return outcome


def stored_values(broker: Broker, topic: str = "t") -> list[Any]:
    return [r.value for p in range(broker.partition_count(topic)) for r in broker.records(topic, p)]


def acked_missing(outcome: Outcome, broker: Broker) -> list[int]:
    present = set(stored_values(broker))
    return [i for i, (meta, error) in outcome.items() if error is None and i not in present]


def at(ctx: SimContext, moment: float, action: Any) -> None:
    ctx.env.timeout(moment).callbacks.append(lambda _e: action())


def test_keyed_records_go_to_the_murmur2_partition_in_send_order() -> None:
    ctx, broker, producer = cluster()
    outcome = steady(ctx, producer, until=2.0)
    ctx.env.run(until=5)
    for p in range(6):
        records = broker.records("t", p)
        assert all(partition_for_key(r.key, 6) == p for r in records)
        assert [r.value for r in records] == sorted(r.value for r in records)
        assert [r.offset for r in records] == list(range(len(records)))
    assert all(error is None for _meta, error in outcome.values())


def test_acks_all_loses_nothing_when_a_leader_dies_and_pauses_for_detection_and_election() -> None:
    ctx, broker, producer = cluster(replication_latency="50ms")
    outcome = steady(ctx, producer, until=40.0)
    at(ctx, 10.0, lambda: broker.fail_broker(0))
    ctx.env.run(until=60)
    assert acked_missing(outcome, broker) == []
    assert all(error is None for _meta, error in outcome.values())
    gaps = ctx.recorder.frames()["partition_unavailable"]
    config = broker.config
    expected = config.failure_detection + config.election_time + config.metadata_refresh
    assert len(gaps) == 2  # broker 0 led partitions 0 and 3
    assert np.allclose(gaps.end - gaps.start, expected)


def test_acks_1_loses_records_the_dead_leader_had_acknowledged() -> None:
    ctx, broker, producer = cluster(acks="1", replication_latency="50ms")
    outcome = steady(ctx, producer, until=40.0)
    at(ctx, 10.0, lambda: broker.fail_broker(0))
    ctx.env.run(until=60)
    missing = acked_missing(outcome, broker)
    assert missing
    lost = ctx.recorder.frames()["broker_lost"]
    assert lost.acked.sum() == len(missing)


def test_a_dead_follower_stalls_acks_all_until_the_controller_fences_it() -> None:
    ctx, broker, producer = cluster()
    outcome = steady(ctx, producer, until=20.0)
    at(ctx, 5.0, lambda: broker.fail_broker(1))
    ctx.env.run(until=30)
    produce = ctx.recorder.frames()["broker_produce"]
    assert produce.latency.max() > 0.9 * broker.config.failure_detection
    assert acked_missing(outcome, broker) == []
    shrinks = ctx.recorder.frames()["isr_changes"]
    assert set(shrinks.change) == {"shrink-dead"}
    led = {p for p in range(6) if broker.partition("t", p).replicas[0] == 1}
    followed = shrinks[~shrinks.partition.isin(led)]
    assert len(followed) == 4
    assert np.allclose(followed.time, 5.0 + broker.config.failure_detection)


def test_too_few_in_sync_replicas_refuse_acks_all_but_not_acks_1() -> None:
    for acks, refused in (("all", True), ("1", False)):
        ctx, broker, producer = cluster(acks=acks, delivery_timeout="40s")
        at(ctx, 1.0, lambda b=broker: (b.fail_broker(1), b.fail_broker(2)))
        outcome = steady(ctx, producer, until=25.0, gap=0.01)
        ctx.env.run(until=80)
        late = [error for i, (_m, error) in outcome.items() if i * 0.01 > 12.0]
        if refused:
            assert late and all(error is not None for error in late)
        else:
            assert all(error is None for error in late)


def test_unclean_election_lets_a_stale_replica_lead_and_drop_committed_records() -> None:
    for unclean in (False, True):
        ctx, broker, producer = cluster(
            partitions=1, min_insync_replicas=1, unclean_leader_election=unclean
        )
        outcome = steady(ctx, producer, until=60.0, gap=0.05)
        at(ctx, 5.0, lambda b=broker: b.fail_broker(1))  # followers die, ISR shrinks to {0}
        at(ctx, 5.0, lambda b=broker: b.fail_broker(2))
        at(ctx, 30.0, lambda b=broker: b.fail_broker(0))  # then the last in-sync leader dies
        at(ctx, 45.0, lambda b=broker: b.recover_broker(1))  # a stale replica returns
        ctx.env.run(until=70)
        lost = ctx.recorder.frames()["broker_lost"]
        elections = ctx.recorder.frames()["leader_elections"]
        if unclean:
            assert elections.unclean.sum() == 1
            assert (lost.reason == "unclean-election").sum() > 100  # 5s..30s of committed data
            assert acked_missing(outcome, broker)
        else:
            assert elections.unclean.sum() == 0
            assert not broker.is_available("t", 0)  # offline until broker 0 returns
            assert acked_missing(outcome, broker) == []


def test_partition_throughput_queues_appends() -> None:
    ctx, _broker, producer = cluster(partitions=1, partition_throughput="100k/s", linger=0)
    for _ in range(200):
        producer.send("t", "k", "v", size=1000)
    ctx.env.run(until=10)
    produce = ctx.recorder.frames()["broker_produce"]
    assert len(produce) == 200
    assert produce.latency.max() >= 200 * 1000 / 100e3  # 2 s of append work


def test_default_broker_latency_is_heavy_tailed() -> None:
    _ctx, broker, _producer = cluster()
    draws = np.array([broker.sample_latency() for _ in range(200_000)])
    p50, p99, p999 = np.quantile(draws, [0.5, 0.99, 0.999])
    assert p99 > 3 * p50 and p999 > 7 * p50
