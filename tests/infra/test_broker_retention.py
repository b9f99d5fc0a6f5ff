"""Retention, compaction, offsetsForTimes and rewinding a group by a duration."""

from __future__ import annotations

from typing import Any

import pytest

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import PartitionLog, Record
from sim.broker.producer import Producer
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

FAST = {"latency": "0.5ms", "replication_latency": "0.5ms", "linger": 0}
TIME = object()  # send the moment itself as the value


def cluster(**changes: Any) -> tuple[SimContext, Broker, Producer]:
    ctx = SimContext.create(seed=7)
    broker = Broker(ctx, BrokerConfig.model_validate({**FAST, **changes}))
    broker.start()
    return ctx, broker, Producer(ctx, broker, name="writer")


def send_at(
    ctx: SimContext,
    producer: Producer,
    times: list[float],
    topic: str = "t",
    key: Any = "k",
    value: Any = TIME,
) -> None:
    for moment in times:
        ctx.env.timeout(moment).callbacks.append(
            lambda _e, m=moment: producer.send(topic, key, m if value is TIME else value)
        )


def processed(ctx: SimContext, since: float = 0.0) -> list[tuple[int, int, int]]:
    frame = ctx.recorder.frames()["broker_consume"]
    frame = frame[frame.time >= since]
    return list(zip(frame.partition, frame.offset, frame.redelivered, strict=True))


def test_offset_for_time_is_the_earliest_offset_at_or_after() -> None:
    log = PartitionLog(segment_bytes=10**9, segment_time=10**9)
    for i, ts in enumerate([1.0, 3.0, 2.0, 5.0, 4.0]):
        log.append(Record("t", 0, f"k{i}", i, ts, 10), now=float(i))
    assert log.offset_for_time(0.0) == 0
    assert log.offset_for_time(2.0) == 1  # offset 1 (ts 3) comes before offset 2 (ts 2)
    assert log.offset_for_time(3.5) == 3
    assert log.offset_for_time(5.0) == 3
    assert log.offset_for_time(5.5) is None


def test_records_older_than_retention_cannot_be_replayed() -> None:
    ctx, broker, producer = cluster(
        partitions=1,
        retention="30s",
        segment_time="1ms",
        retention_check_interval="1s",
        auto_offset_reset="earliest",
    )
    send_at(ctx, producer, [float(t) for t in range(101)])
    group = ConsumerGroup(ctx, broker, "t", "replay", members=1)
    group.start()
    ctx.env.run(until=100.5)
    assert broker.log_start("t", 0) == 70  # the check at t=100 cut every record before 70s
    stored = {r.offset: r.timestamp for r in broker.records("t", 0)}
    assert min(stored.values()) == 70.0
    group.rewind_by(1000.0)  # back before the first record
    ctx.env.run(until=100.9)  # before the next retention check
    replayed = [offset for _p, offset, again in processed(ctx, since=100.5) if again]
    assert replayed == sorted(stored)


def test_data_outlives_retention_by_up_to_one_segment() -> None:
    ctx, broker, producer = cluster(
        partitions=1, retention="30s", segment_time="50s", retention_check_interval="1s"
    )
    send_at(ctx, producer, [float(t) for t in range(120)])
    ctx.env.run(until=75)
    assert broker.log_start("t", 0) == 0  # first segment (0..49s) still has a record newer than 45s
    ctx.env.run(until=81.5)
    assert broker.log_start("t", 0) == 50  # its newest record (49s) expired at 79s


def test_compaction_keeps_exactly_the_last_value_of_each_key() -> None:
    ctx, broker, producer = cluster(
        partitions=1,
        compaction=True,
        segment_bytes=4096,
        cleaner_backoff="1s",
        min_cleanable_dirty_ratio=0.01,
    )
    last: dict[str, int] = {}
    for i in range(300):
        key = f"k{(i * 7) % 23}"
        last[key] = i
        ctx.env.timeout(i * 0.01).callbacks.append(lambda _e, k=key, v=i: producer.send("t", k, v))
    ctx.env.timeout(3.5).callbacks.append(lambda _e: producer.send("t", "closing", 0))
    ctx.env.run(until=20)
    records = broker.records("t", 0)
    body = [r for r in records if r.key != "closing"]
    assert {r.key: r.value for r in body} == last
    assert len(body) == len(last)
    offsets = [r.offset for r in records]
    assert offsets == sorted(offsets) and len(set(offsets)) == len(offsets)
    cleanup = ctx.recorder.frames()["broker_cleanup"]
    assert (cleanup.reason == "compaction").any()


@pytest.mark.parametrize(("restart", "expected"), [(30.0, None), (150.0, "alice")])
def test_a_consumer_lagging_past_delete_retention_misses_the_tombstone(
    restart: float, expected: str | None
) -> None:
    ctx, broker, producer = cluster(
        partitions=1,
        compaction=True,
        segment_time="1s",
        delete_retention="60s",
        cleaner_backoff="5s",
        commit="after-batch",
    )
    seen: dict[str, Any] = {}

    def view(record: Record, done: Any) -> None:
        if record.value is None:
            seen.pop(record.key, None)
        else:
            seen[record.key] = record.value
        done()

    group = ConsumerGroup(ctx, broker, "t", "cache", members=1, handler=view)
    group.start()
    send_at(ctx, producer, [1.0], key="user-1", value="alice")
    ctx.env.timeout(5).callbacks.append(lambda _e: group.crash_member(0))
    send_at(ctx, producer, [10.0], key="user-1", value=None)  # the delete
    send_at(ctx, producer, [float(t) for t in range(20, 200, 10)], key="other", value="x")
    ctx.env.timeout(restart).callbacks.append(lambda _e: group.restart_member(0))
    ctx.env.run(until=200)
    assert all(r.key != "user-1" for r in broker.records("t", 0))  # value and tombstone gone
    # back within delete.retention it sees the delete; back later it keeps the deleted value
    assert seen.get("user-1") == expected


def test_rewind_by_duration_replays_exactly_the_records_at_or_after_that_time() -> None:
    ctx, broker, producer = cluster(partitions=3, commit="after-batch")
    group = ConsumerGroup(ctx, broker, "t", "projection", members=2)
    group.start()
    times = [0.25 * i for i in range(200)]
    for i, moment in enumerate(times):
        ctx.env.timeout(moment).callbacks.append(
            lambda _e, i=i: producer.send("t", f"key-{i % 17}", i)
        )
    ctx.env.run(until=60)
    group.rewind_by(20.0)  # to t = 40s
    ctx.env.run(until=70)
    expected = {
        (p, r.offset) for p in range(3) for r in broker.records("t", p) if r.timestamp >= 40.0
    }
    replayed = {(p, offset) for p, offset, again in processed(ctx, since=60) if again}
    assert replayed == expected
    assert not [row for row in processed(ctx, since=60) if not row[2]]
