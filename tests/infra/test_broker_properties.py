"""The search finds the schedules where Kafka really loses or duplicates, and no others.

Each counterexample search uses ``hypothesis.find``: it fails (``NoSuchExample``) if no fault
timing in the search space produces the anomaly. The matching guarantees are properties over
the same space.
"""

from __future__ import annotations

from typing import Any

from hypothesis import Phase, find, given, settings
from hypothesis import strategies as st

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.broker.producer import Producer
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

SEARCH = settings(max_examples=60, deadline=None, database=None, phases=[Phase.generate])
PROPERTY = settings(max_examples=25, deadline=None, database=None)
fail_times = st.floats(min_value=0.01, max_value=0.19, allow_nan=False)
seeds = st.integers(min_value=0, max_value=2**16)


def leader_loss(acks: str, idempotence: bool, fail_at: float, seed: int) -> tuple[int, int]:
    """Write one record a millisecond for 0.2 s, kill the leader at ``fail_at``; returns
    (acknowledged records missing from the log, records stored twice)."""
    ctx = SimContext.create(seed=seed)
    config = BrokerConfig.model_validate(
        {"acks": acks, "idempotence": idempotence, "partitions": 1, "linger": 0}
    )
    broker = Broker(ctx, config)
    broker.start()
    producer = Producer(ctx, broker, name="writer")
    acked: set[int] = set()

    def acknowledge(value: int) -> Any:
        def on_ack(_metadata: Any, error: str | None) -> None:
            if error is None:
                acked.add(value)

        return on_ack

    def writer() -> Any:
        for i in range(200):
            producer.send("t", "k", i, on_ack=acknowledge(i))
            yield ctx.env.timeout(0.001)

    ctx.env.process(writer())
    ctx.env.timeout(fail_at).callbacks.append(lambda _e: broker.fail_leader("t", 0))
    ctx.env.run(until=30)
    values = [record.value for record in broker.records("t", 0)]
    return len(acked - set(values)), len(values) - len(set(values))


def test_search_finds_acks_1_losing_an_acknowledged_record_on_leader_loss() -> None:
    fail_at, seed = find(
        st.tuples(fail_times, seeds), lambda a: leader_loss("1", False, *a)[0] > 0, settings=SEARCH
    )
    assert leader_loss("1", False, fail_at, seed)[0] > 0


def test_search_finds_non_idempotent_retries_duplicating() -> None:
    fail_at, seed = find(
        st.tuples(fail_times, seeds),
        lambda a: leader_loss("all", False, *a)[1] > 0,
        settings=SEARCH,
    )
    assert leader_loss("all", False, fail_at, seed)[1] > 0


@PROPERTY
@given(fail_at=fail_times, seed=seeds)
def test_acks_all_idempotent_never_loses_nor_duplicates(fail_at: float, seed: int) -> None:
    assert leader_loss("all", True, fail_at, seed) == (0, 0)


def consumer_crash(commit: str, crash_at: float, seed: int) -> tuple[int, int]:
    """300 records in a burst at t=1, a member crashes at ``crash_at`` and restarts 60 s later;
    returns (records processed twice, records never processed)."""
    ctx = SimContext.create(seed=seed)
    config = BrokerConfig.model_validate({"commit": commit, "max_poll_records": 50})
    broker = Broker(ctx, config)
    broker.start()
    producer = Producer(ctx, broker, name="writer")

    def handler(record: Record, done: Any) -> None:
        ctx.env.timeout(0.01).callbacks.append(lambda _e: done())

    group = ConsumerGroup(ctx, broker, "t", "g", members=2, handler=handler)
    group.start()
    ctx.env.timeout(1.0).callbacks.append(
        lambda _e: [producer.send("t", f"k{i}", i) for i in range(300)]
    )
    ctx.env.timeout(crash_at).callbacks.append(lambda _e: group.crash_member(0))
    ctx.env.timeout(crash_at + 60).callbacks.append(lambda _e: group.restart_member(0))
    ctx.env.run(until=crash_at + 120)
    consumed = ctx.recorder.frames()["broker_consume"]
    stored = {(p, r.offset) for p in range(6) for r in broker.records("t", p)}
    seen = set(zip(consumed.partition, consumed.offset, strict=True))
    return int(consumed.redelivered.sum()), len(stored - seen)


crash_times = st.floats(min_value=1.0, max_value=4.0, allow_nan=False)


def test_search_finds_a_crash_before_commit_redelivering() -> None:
    crash_at, seed = find(
        st.tuples(crash_times, seeds), lambda a: consumer_crash("auto", *a)[0] > 0, settings=SEARCH
    )
    assert consumer_crash("auto", crash_at, seed)[0] > 0


def test_search_finds_commit_before_processing_losing_records() -> None:
    crash_at, seed = find(
        st.tuples(crash_times, seeds),
        lambda a: consumer_crash("before-processing", *a)[1] > 0,
        settings=SEARCH,
    )
    assert consumer_crash("before-processing", crash_at, seed)[1] > 0


@PROPERTY
@given(crash_at=crash_times, seed=seeds)
def test_at_least_once_never_skips_a_record(crash_at: float, seed: int) -> None:
    assert consumer_crash("after-batch", crash_at, seed)[1] == 0
