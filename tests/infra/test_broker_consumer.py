"""Consumer groups: rebalance pauses, static membership, evictions, commit policies, lag."""

from __future__ import annotations

import itertools
from typing import Any

import pandas as pd
import pytest

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.broker.producer import Producer
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

FAST = {"latency": "0.5ms", "replication_latency": "0.5ms"}


def setup(
    members: int = 3, handler: Any = None, rate: float = 50.0, until: float = 150.0, **changes: Any
) -> tuple[SimContext, Broker, ConsumerGroup]:
    """A producer writing ``rate`` keyed records per second into ``t``, and a group reading it."""
    ctx = SimContext.create(seed=3)
    broker = Broker(ctx, BrokerConfig.model_validate({**FAST, **changes}))
    broker.start()
    producer = Producer(ctx, broker, name="writer")
    group = ConsumerGroup(ctx, broker, "t", "g", members=members, handler=handler)
    group.start()

    def writer() -> Any:
        i = 0
        while ctx.env.now < until:
            producer.send("t", f"key-{i}", i)
            i += 1
            yield ctx.env.timeout(1.0 / rate)

    ctx.env.process(writer())
    return ctx, broker, group


def at(ctx: SimContext, moment: float, action: Any) -> None:
    ctx.env.timeout(moment).callbacks.append(lambda _e: action())


def frame(ctx: SimContext, name: str) -> pd.DataFrame:
    return ctx.recorder.frames()[name]


def longest_gap(ctx: SimContext, partition: int, start: float, end: float) -> float:
    """The longest time without a processed record on a partition within [start, end]."""
    consumed = frame(ctx, "broker_consume")
    times = sorted(consumed[consumed.partition == partition].time)
    times = [start, *[t for t in times if start <= t <= end], end]
    return max(b - a for a, b in itertools.pairwise(times))


@pytest.mark.parametrize("strategy", ["eager", "cooperative"])
def test_a_crash_pauses_partitions_for_session_timeout_plus_rebalance(strategy: str) -> None:
    ctx, broker, group = setup(assignment=strategy)
    crashed = list(group.members[2].owned)
    at(ctx, 50.0, lambda: group.crash_member(2))
    ctx.env.run(until=200)
    config = broker.config
    rebalance = frame(ctx, "rebalances")
    assert len(rebalance) == 1
    detected = float(rebalance.start.iloc[0])
    # noticed one session timeout after the last heartbeat (within one heartbeat interval)
    assert 50 + config.session_timeout - config.heartbeat_interval <= detected
    assert detected <= 50 + config.session_timeout
    # the crashed member's partitions stop for about session timeout + rebalance time
    for p in crashed:
        gap = longest_gap(ctx, p, 40.0, 150.0)
        assert (
            detected - 50 + config.rebalance_time
            <= gap
            < detected - 50 + config.rebalance_time + 0.1
        )
    survivors = [p for p in range(6) if p not in crashed]
    gaps = {p: longest_gap(ctx, p, 40.0, 150.0) for p in survivors}
    if strategy == "eager":  # everyone stops for the whole rebalance
        assert all(
            config.rebalance_time <= gap < config.rebalance_time + 1 for gap in gaps.values()
        )
        assert set(frame(ctx, "partition_pauses").partition) == set(range(6))
    else:  # partitions that did not move keep flowing
        assert all(gap < config.rebalance_time / 2 for gap in gaps.values())  # usual spacing
        assert set(frame(ctx, "partition_pauses").partition) == set(crashed)


def test_pause_table_measures_total_pause_time() -> None:
    ctx, _broker, group = setup(assignment="eager")
    at(ctx, 50.0, lambda: group.crash_member(2))
    ctx.env.run(until=200)
    pauses = frame(ctx, "partition_pauses")
    rebalance = frame(ctx, "rebalances")
    end = float(rebalance.end.iloc[0])
    assert (pauses.end == end).all()
    crash_rows = pauses[pauses.cause == "crash"]
    assert set(crash_rows.start) == {50.0} and len(crash_rows) == 2
    assert (pauses[pauses.cause == "rebalance"].start == rebalance.start.iloc[0]).all()


def test_static_membership_restart_within_session_timeout_needs_no_rebalance() -> None:
    ctx, _broker, group = setup(static_membership=True)
    at(ctx, 50.0, lambda: group.crash_member(1))
    at(ctx, 70.0, lambda: group.restart_member(1))
    ctx.env.run(until=150)
    assert len(frame(ctx, "rebalances")) == 0
    pauses = frame(ctx, "partition_pauses")
    assert set(pauses.partition) == set(group.members[1].owned)
    assert ((pauses.end - pauses.start) == 20.0).all()


def test_a_dynamic_member_restart_waits_for_the_old_session_to_expire() -> None:
    ctx, broker, group = setup(static_membership=False)
    at(ctx, 50.0, lambda: group.crash_member(1))
    at(ctx, 70.0, lambda: group.restart_member(1))
    ctx.env.run(until=150)
    rebalance = frame(ctx, "rebalances")
    assert len(rebalance) == 1
    assert (
        rebalance.end.iloc[0]
        > 50 + broker.config.session_timeout - broker.config.heartbeat_interval
    )
    assert rebalance.members.iloc[0] == 3


def test_a_clean_leave_rebalances_at_once() -> None:
    ctx, broker, group = setup()
    at(ctx, 50.0, lambda: group.stop_member(0))
    ctx.env.run(until=100)
    rebalance = frame(ctx, "rebalances")
    assert list(rebalance.start) == [50.0]
    assert list(rebalance.duration) == [broker.config.rebalance_time]
    assert frame(ctx, "broker_consume").redelivered.sum() == 0  # it committed on the way out


def test_slow_processing_past_max_poll_interval_evicts_the_member() -> None:
    slow_once: set[int] = set()

    def handler(record: Record, done: Any) -> None:
        slow = record.partition == 0 and record.offset == 100 and not slow_once
        if slow:
            slow_once.add(record.offset)
        ctx.env.timeout(400.0 if slow else 0.001).callbacks.append(lambda _e: done())

    ctx, _broker, _group = setup(
        members=2, handler=handler, rate=20.0, until=700.0, max_poll_interval="300s"
    )
    ctx.env.run(until=700)
    rebalance = frame(ctx, "rebalances")
    assert list(rebalance.reason) == ["max-poll-interval", "rejoin"]
    slow_start = rebalance.start.iloc[0] - 300.0
    assert rebalance.start.iloc[1] == pytest.approx(slow_start + 400.0, abs=0.05)
    assert list(rebalance.members) == [1, 2]
    consumed = frame(ctx, "broker_consume")
    again = consumed[consumed.redelivered == 1]
    assert 0 in set(again.partition) <= {0, 1, 2}  # the evicted member's uncommitted batch
    assert 1 in set(again.member)  # taken over by the other member (the evicted one finishes too)


def test_a_pause_shorter_than_the_session_timeout_only_stalls() -> None:
    ctx, _broker, group = setup()
    at(ctx, 50.0, lambda: group.pause_member(0, 20.0))
    ctx.env.run(until=120)
    assert len(frame(ctx, "rebalances")) == 0
    pauses = frame(ctx, "partition_pauses")
    assert set(pauses.cause) == {"pause"} and ((pauses.end - pauses.start) == 20.0).all()


def test_a_pause_longer_than_the_session_timeout_evicts_and_rejoins() -> None:
    ctx, _broker, group = setup()
    at(ctx, 50.0, lambda: group.pause_member(0, 80.0))
    ctx.env.run(until=200)
    reasons = list(frame(ctx, "rebalances").reason)
    assert reasons == ["session-timeout", "rejoin"]
    assert sorted(len(m.owned) for m in group.members) == [2, 2, 2]


@pytest.mark.parametrize(
    ("policy", "redelivered", "never_processed"),
    [("auto", True, False), ("after-batch", True, False), ("before-processing", False, True)],
)
def test_commit_policy_decides_redelivery_or_loss_after_a_crash(
    policy: str, redelivered: bool, never_processed: bool
) -> None:
    def handler(record: Record, done: Any) -> None:
        ctx.env.timeout(0.005).callbacks.append(lambda _e: done())

    ctx, broker, group = setup(
        members=2, handler=handler, rate=1.0, until=0.0, commit=policy, max_poll_records=100
    )
    producer = Producer(ctx, broker, name="bursts")
    for burst in range(1, 10):  # 300 records every 10 s; a member needs ~0.75 s for its half
        at(
            ctx,
            10.0 * burst,
            lambda b=burst: [producer.send("t", f"{b}-{i}", i) for i in range(300)],
        )
    at(ctx, 20.3, lambda: group.crash_member(0))  # in the middle of a batch
    ctx.env.run(until=200)
    consumed = frame(ctx, "broker_consume")
    assert bool(consumed.redelivered.sum()) is redelivered
    stored = {(p, r.offset) for p in range(6) for r in broker.records("t", p)}
    seen = set(zip(consumed.partition, consumed.offset, strict=True))
    assert bool(stored - seen) is never_processed


def test_lag_grows_while_a_member_is_frozen_and_recovers() -> None:
    rate = 100.0
    ctx, _broker, group = setup(members=1, rate=rate)
    at(ctx, 30.0, lambda: group.pause_member(0, 20.0))
    ctx.env.run(until=80)
    lag = frame(ctx, "consumer_lag")
    total = lag.groupby("time").lag.sum()
    assert total.loc[25.0] <= rate * 5  # at most an auto-commit interval behind
    assert total.loc[49.0] > rate * 18  # 18 s of records waiting
    assert total.loc[79.0] < total.loc[49.0] / 2
    assert set(lag.partition) == set(range(6))


def test_group_lag_is_log_end_minus_committed() -> None:
    ctx, broker, group = setup(members=2, until=10.0)
    ctx.env.run(until=30)
    assert group.lag() == dict.fromkeys(range(6), 0)
    assert all(group.committed[p] == broker.high_watermark("t", p) for p in range(6))
