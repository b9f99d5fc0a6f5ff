"""Producer: batching, acks=0, retries, idempotence, delivery timeout, back-pressure."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sim.broker.cluster import Broker
from sim.broker.producer import Producer, RecordMetadata
from sim.broker.producer_settings import ProducerSettings
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

FAST = {"latency": "1ms", "replication_latency": "1ms"}
Results = list[tuple[float, RecordMetadata | None, str | None]]


def cluster(**changes: Any) -> tuple[SimContext, Broker, Producer]:
    ctx = SimContext.create(seed=5)
    broker = Broker(ctx, BrokerConfig.model_validate({**FAST, **changes}))
    broker.start()
    return ctx, broker, Producer(ctx, broker, name="writer")


def collector(ctx: SimContext, results: Results) -> Any:
    return lambda meta, error: results.append((ctx.env.now, meta, error))


def at(ctx: SimContext, moment: float, action: Any) -> None:
    ctx.env.timeout(moment).callbacks.append(lambda _e: action())


def test_a_lone_record_waits_for_linger() -> None:
    ctx, _broker, producer = cluster(linger="20ms")
    results: Results = []
    producer.send("t", "k", 1, on_ack=collector(ctx, results))
    ctx.env.run(until=1)
    ((when, meta, error),) = results
    assert error is None and meta is not None and meta.offset == 0
    assert when >= 0.020 + 3 * 0.001  # linger + request + copy + leader learns; + response
    assert when < 0.020 + 5 * 0.001 + 1e-9


def test_a_full_batch_leaves_before_linger() -> None:
    ctx, _broker, producer = cluster(linger="1s", batch_size=16384)
    results: Results = []
    for i in range(16):
        producer.send("t", "same-key", i, on_ack=collector(ctx, results), size=1024)
    ctx.env.run(until=2)
    assert len(results) == 16
    assert max(when for when, _m, _e in results) < 0.1
    assert [meta.offset for _w, meta, _e in results if meta] == list(range(16))


def test_keyless_records_stick_to_one_partition_per_batch() -> None:
    ctx, broker, producer = cluster(linger="10ms")
    for burst in range(30):
        at(ctx, burst * 0.1, lambda: [producer.send("t", None, i) for i in range(5)])
    ctx.env.run(until=5)
    per_partition = [len(broker.records("t", p)) for p in range(6)]
    assert all(count % 5 == 0 for count in per_partition)  # each burst landed whole
    assert sum(1 for count in per_partition if count) >= 4  # and bursts spread out


def test_acks_0_completes_at_once_and_loses_silently_on_a_dead_leader() -> None:
    ctx, broker, producer = cluster(acks=0, linger=0, partitions=1)
    results: Results = []
    producer.send("t", "k", "before", on_ack=collector(ctx, results))
    ctx.env.run(until=1)
    assert results[0][1] is not None and results[0][1].offset == -1
    at(ctx, 2.0, lambda: producer.send("t", "k", "in-flight", on_ack=collector(ctx, results)))
    at(ctx, 2.0, lambda: broker.fail_leader("t", 0))
    ctx.env.run(until=30)
    assert [error for _w, _m, error in results] == [None, None]
    assert [r.value for r in broker.records("t", 0)] == ["before"]
    lost = ctx.recorder.frames()["broker_lost"]
    assert list(lost.reason) == ["acks0-NOT_LEADER_OR_FOLLOWER"]


def replay_after_append_failure(
    idempotence: bool, other_at: float | None = None
) -> tuple[SimContext, Broker, Results]:
    """RF 2, min ISR 2: a follower dies, the ISR shrinks after the append, the producer retries;
    with ``other_at``, a second producer (acks=1) appends a record meanwhile."""
    ctx, broker, producer = cluster(
        partitions=1,
        brokers=2,
        replication_factor=2,
        min_insync_replicas=2,
        idempotence=idempotence,
        linger=0,
    )
    broker.create_topic("t")
    results: Results = []
    at(ctx, 1.0, lambda: broker.fail_broker(1))
    at(ctx, 1.0, lambda: producer.send("t", "k", "x", on_ack=collector(ctx, results)))
    if other_at is not None:
        other = Producer(ctx, broker, ProducerSettings.of(broker.config, acks="1"), name="o")
        at(ctx, other_at, lambda: other.send("t", "k2", "y", on_ack=collector(ctx, results)))
    at(ctx, 20.0, lambda: broker.recover_broker(1))
    ctx.env.run(until=40)
    return ctx, broker, results


def test_non_idempotent_retry_after_not_enough_replicas_after_append_duplicates() -> None:
    ctx, broker, results = replay_after_append_failure(idempotence=False)
    assert [error for _w, _m, error in results] == [None]
    assert [r.value for r in broker.records("t", 0)] == ["x", "x"]
    duplicates = ctx.recorder.frames()["broker_duplicates"]
    assert list(duplicates.offset) == [0]
    produce = ctx.recorder.frames()["broker_produce"]
    assert produce.attempts.iloc[0] > 2  # refused while the ISR was too small, then accepted


def test_a_retried_batch_is_stored_again_at_its_own_offset() -> None:
    """The retry of a batch already appended is a second record: a reader walking the log
    one record at a time meets the first copy, a record appended in between, then the copy."""
    _ctx, broker, results = replay_after_append_failure(idempotence=False, other_at=5.0)
    stored = broker.records("t", 0)
    assert [(r.value, r.offset) for r in stored] == [("x", 0), ("y", 1), ("x", 2)]
    assert stored[0].send_id == stored[2].send_id  # a duplicate of the same send()
    assert [error for _w, _m, error in results] == [None, None]
    assert results[1][1] is not None and results[1][1].offset == 2  # the copy was acknowledged
    assert not stored[0].acked and stored[1].acked and stored[2].acked
    log, position, read = broker.partition("t", 0).log, 0, []
    while position < log.end:
        (record,) = log.read(position, log.end, 1)
        read.append(record.value)
        position = record.offset + 1
    assert read == ["x", "y", "x"]


def test_idempotent_retry_is_deduplicated() -> None:
    ctx, broker, results = replay_after_append_failure(idempotence=True)
    assert [error for _w, _m, error in results] == [None]
    assert [r.value for r in broker.records("t", 0)] == ["x"]
    assert results[0][1] is not None and results[0][1].offset == 0
    assert len(ctx.recorder.frames()["broker_duplicates"]) == 0


def test_retries_back_off_exponentially_up_to_the_maximum() -> None:
    ctx, broker, producer = cluster(
        partitions=1,
        linger=0,
        retry_backoff="100ms",
        retry_backoff_max="1s",
        min_insync_replicas=3,
    )
    broker.create_topic("t")
    at(ctx, 0.5, lambda: broker.fail_broker(2))  # fenced at 9.5s: acks=all refused from then
    at(ctx, 10.0, lambda: producer.send("t", "k", "x"))
    at(ctx, 30.0, lambda: broker.recover_broker(2))
    ctx.env.run(until=60)
    produce = ctx.recorder.frames()["broker_produce"]
    attempts, latency = int(produce.attempts.iloc[0]), float(produce.latency.iloc[0])
    assert produce.error.iloc[0] == ""
    # 100, 200, 400, 800 ms then 1 s each (±20%): about 18 tries in the 20 s outage
    assert 14 <= attempts <= 24
    assert 20.0 < latency < 22.5


def test_delivery_timeout_fails_records_of_an_offline_partition() -> None:
    ctx, broker, producer = cluster(partitions=1, delivery_timeout="60s")
    broker.create_topic("t")
    results: Results = []
    at(ctx, 1.0, lambda: broker.fail_broker(0))
    at(ctx, 1.0, lambda: broker.fail_broker(1))
    at(ctx, 1.0, lambda: broker.fail_broker(2))
    at(ctx, 2.0, lambda: producer.send("t", "k", "x", on_ack=collector(ctx, results)))
    ctx.env.run(until=100)
    ((when, meta, error),) = results
    assert meta is None and error == "DELIVERY_TIMEOUT"
    assert when == 62.0


def test_a_full_buffer_blocks_send_then_fails_after_max_block() -> None:
    ctx, broker, producer = cluster(
        partitions=1, buffer_memory=4096, max_block="5s", record_size=1024
    )
    results: Results = []
    at(ctx, 1.0, lambda: broker.fail_leader("t", 0))
    for i in range(6):
        at(ctx, 2.0, lambda i=i: producer.send("t", "k", i, on_ack=collector(ctx, results)))
    ctx.env.run(until=30)
    outcomes = Counter(error for _w, _m, error in results)
    assert outcomes == {"BUFFER_EXHAUSTED_TIMEOUT": 2, None: 4}
    blocked_fail_times = [w for w, _m, e in results if e == "BUFFER_EXHAUSTED_TIMEOUT"]
    assert blocked_fail_times == [7.0, 7.0]


def test_blocked_sends_go_through_once_the_buffer_drains() -> None:
    ctx, broker, producer = cluster(partitions=1, buffer_memory=4096, record_size=1024)
    results: Results = []
    at(ctx, 1.0, lambda: broker.fail_leader("t", 0))
    for i in range(6):
        at(ctx, 5.0, lambda i=i: producer.send("t", "k", i, on_ack=collector(ctx, results)))
    ctx.env.run(until=40)
    assert [error for _w, _m, error in results] == [None] * 6
    assert [r.value for r in broker.records("t", 0)] == list(range(6))
