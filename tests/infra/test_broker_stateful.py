"""A state machine drives broker, producer and group; a dict of lists is the reference model.

Configuration: replication factor 3, min.insync.replicas 2, acks=all, idempotence, no unclean
election, at most one broker (or one leader replica) down at a time. Under those conditions
Kafka promises: per-partition order, strictly increasing offsets, committed offsets never past
the log end, no acknowledged record lost, and (after the faults heal) every acknowledged record
processed at least once.
"""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.broker.murmur2 import partition_for_key
from sim.broker.producer import Producer
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

PARTITIONS = 3
MEMBERS = 2


class BrokerMachine(RuleBasedStateMachine):
    """Broker + producer + consumer group against a reference model."""

    @initialize(
        seed=st.integers(0, 2**16),
        commit=st.sampled_from(["auto", "after-batch"]),
        strategy=st.sampled_from(["eager", "cooperative"]),
    )
    def start(self, seed: int, commit: str, strategy: str) -> None:
        self.ctx = SimContext.create(seed=seed)
        config = BrokerConfig.model_validate(
            {
                "partitions": PARTITIONS,
                "commit": commit,
                "assignment": strategy,
                "auto_offset_reset": "earliest",
                "rebalance_time": "1s",
            }
        )
        assert (config.replication_factor, config.min_insync_replicas) == (3, 2)
        assert config.acks == "all" and not config.unclean_leader_election
        self.broker = Broker(self.ctx, config)
        self.broker.start()
        self.producer = Producer(self.ctx, self.broker, name="writer")
        self.processed: list[tuple[int, int, Any]] = []
        self.group = ConsumerGroup(
            self.ctx, self.broker, "t", "g", members=MEMBERS, handler=self.handle
        )
        self.group.start()
        self.model: dict[int, list[int]] = {p: [] for p in range(PARTITIONS)}  # sent, in order
        self.acked: dict[int, int] = {}  # value -> partition
        self.failed: set[int] = set()
        self.skipped: set[int] = set()
        self.next_value = 0
        self.down: tuple[str, Any] | None = None

    def handle(self, record: Record, done: Any) -> None:
        self.processed.append((record.partition, record.offset, record.value))
        self.ctx.env.timeout(0.002).callbacks.append(lambda _e: done())

    def run_for(self, seconds: float) -> None:
        until = self.ctx.env.now + seconds
        if until > self.ctx.env.now:
            self.ctx.env.run(until=until)

    # --- rules --------------------------------------------------------------------------------

    @rule(key=st.integers(0, 30), count=st.integers(1, 20))
    def produce(self, key: int, count: int) -> None:
        partition = partition_for_key(f"k{key}", PARTITIONS)
        for _ in range(count):
            value = self.next_value
            self.next_value += 1
            self.model[partition].append(value)
            self.producer.send("t", f"k{key}", value, on_ack=self._acked(value, partition))

    def _acked(self, value: int, partition: int) -> Any:
        def on_ack(meta: Any, error: str | None) -> None:
            if error is None:
                assert meta.partition == partition
                self.acked[value] = partition
            else:
                self.failed.add(value)

        return on_ack

    @rule(seconds=st.floats(0.001, 5.0))
    def consume(self, seconds: float) -> None:
        self.run_for(seconds)

    @rule()
    def commit(self) -> None:
        self.group.commit()

    @rule(member=st.integers(0, MEMBERS - 1))
    def crash_consumer(self, member: int) -> None:
        self.group.crash_member(member)

    @rule(member=st.integers(0, MEMBERS - 1))
    def leave_and_rebalance(self, member: int) -> None:
        self.group.stop_member(member)

    @rule(member=st.integers(0, MEMBERS - 1))
    def restart_consumer(self, member: int) -> None:
        self.group.restart_member(member)

    @rule(member=st.integers(0, MEMBERS - 1), seconds=st.floats(0.1, 60.0))
    def pause_consumer(self, member: int, seconds: float) -> None:
        self.group.pause_member(member, seconds)  # past the 45 s session timeout: evicted

    @precondition(lambda self: self.down is None)
    @rule(broker_id=st.integers(0, 2))
    def lose_broker(self, broker_id: int) -> None:
        self.broker.fail_broker(broker_id)
        self.down = ("broker", broker_id)

    @precondition(lambda self: self.down is None)
    @rule(partition=st.integers(0, PARTITIONS - 1))
    def lose_leader(self, partition: int) -> None:
        leader = self.broker.fail_leader("t", partition)
        if leader is not None:  # None: the partition is between leaders already
            self.down = ("replica", (partition, leader))

    @precondition(lambda self: self.down is not None)
    @rule(wait=st.floats(0.0, 20.0))
    def recover(self, wait: float) -> None:
        self.run_for(wait)
        assert self.down is not None
        kind, what = self.down
        if kind == "broker":
            self.broker.recover_broker(what)
        else:
            partition, leader = what
            self.broker.recover_replica("t", partition, leader)
        self.down = None

    @rule(back=st.floats(0.0, 30.0))
    def seek_back(self, back: float) -> None:
        before = dict(self.group.committed)
        self.group.rewind_by(back)
        for p, target in self.group.committed.items():
            if target > before[p]:  # a reset to a time can also move forward: skipped on purpose
                self.skipped.update(
                    r.value for r in self.broker.records("t", p) if before[p] <= r.offset < target
                )

    # --- invariants ---------------------------------------------------------------------------

    @invariant()
    def logs_keep_order_and_offsets(self) -> None:
        for p in range(PARTITIONS):
            records = self.broker.records("t", p)
            offsets = [r.offset for r in records]
            assert all(a < b for a, b in itertools.pairwise(offsets))
            values = [r.value for r in records]
            assert values == sorted(set(values)), "per-partition order or a duplicate"
            assert set(values) <= set(self.model[p])

    @invariant()
    def no_acknowledged_record_is_lost(self) -> None:
        stored = {p: {r.value for r in self.broker.records("t", p)} for p in range(PARTITIONS)}
        for value, partition in self.acked.items():
            assert value in stored[partition], f"acknowledged record {value} lost"

    @invariant()
    def committed_never_past_log_end(self) -> None:
        for p, offset in self.group.committed.items():
            assert offset <= self.broker.high_watermark("t", p)

    @invariant()
    def consumers_only_see_committed_records_that_stay(self) -> None:
        for p, offset, value in self.processed[-200:]:
            record = self.broker.partition("t", p).log.get(offset)
            assert record is not None and record.value == value

    def teardown(self) -> None:
        if not hasattr(self, "group"):
            return
        if self.down is not None:
            self.recover(0.0)
        for member in range(MEMBERS):
            self.group.restart_member(member)
        self.run_for(150.0)  # sessions expire, rebalances finish, retries settle
        done = {value for _p, _o, value in self.processed}
        missing = set(self.acked) - done - self.skipped
        assert not missing, f"acknowledged but never processed: {sorted(missing)[:10]}"
        assert not set(self.acked) & self.failed


BrokerMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestBrokerMachine = BrokerMachine.TestCase
