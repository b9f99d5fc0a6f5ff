"""State shared by the parts of a consumer group, and the small operations on it.

:class:`GroupState` holds what a :class:`~sim.broker.group.ConsumerGroup` knows; the poll
loops (:mod:`sim.broker.poll_loop`) and the coordinator (:mod:`sim.broker.coordinator`) are
composed over one shared state. Commits, pauses and wake-ups live here because both use them. See
:mod:`sim.broker.group` for what the group models and leaves out.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.broker.always import check_group
from sim.broker.cluster import Broker
from sim.broker.log import Offset, PartitionId, Record
from sim.config.broker import BrokerConfig
from sim.config.distributions import Sampler
from sim.kernel.context import SimContext

__all__ = ["INF", "GroupState", "Handler", "Member"]

Handler = Callable[[Record, Callable[[], None]], None]
"""``handler(record, done)``: process the record, then call ``done()`` (now or later)."""

INF = float("inf")

CONSUMED = {
    "time": "d",
    "group": "s",
    "member": "i",
    "topic": "s",
    "partition": "i",
    "offset": "q",
    "latency": "d",
    "redelivered": "b",
}
LAG = {
    "time": "d",
    "group": "s",
    "topic": "s",
    "partition": "i",
    "lag": "q",
    "committed": "q",
    "log_end": "q",
}
REBALANCES = {
    "group": "s",
    "start": "d",
    "end": "d",
    "duration": "d",
    "reason": "s",
    "protocol": "s",
    "members": "q",
    "moved": "q",
}
PAUSES = {"group": "s", "topic": "s", "partition": "i", "start": "d", "end": "d", "cause": "s"}
SKIPPED = {
    "time": "d",
    "group": "s",
    "topic": "s",
    "partition": "i",
    "from_offset": "q",
    "to_offset": "q",
    "reason": "s",
}


class Member:
    """One consumer of the group (one ``KafkaConsumer``)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.alive = True
        self.incarnation = 0
        self.registered = True
        """The coordinator counts it as a member (False once evicted or expired)."""
        self.wants_join = False
        self.expiry_token: int | None = None
        self.frozen = False
        self.freeze_token = 0
        self.isolated = 0
        """Cuts between the member and the broker in force (no fetches, no heartbeats)."""
        self.unprocessed: Callable[[], list[Record]] = list
        """The records of the batch in hand not processed yet."""
        self.fetch_delays: list[Sampler] = []
        """Latency faults on the member's link to the broker, added to every fetch."""
        self.revoking = False
        self.stopping = False
        self.commit_requested = False
        self.busy = False
        self.batch_started = 0.0
        self.watchdog_at = INF
        self.owned: list[PartitionId] = []
        self.epochs: dict[PartitionId, int] = {}
        self.positions: dict[PartitionId, Offset] = {}
        self.rotate = 0
        self.next_auto_commit = 0.0
        self.timer_at = INF
        self.fetch_started: float | None = None
        self.watching: set[PartitionId] = set()
        self.wakeup: simpy.Event | None = None
        self.batch_done: simpy.Event | None = None
        self.on_thaw: list[Callable[[], None]] = []


class GroupState:
    """The data of a consumer group, and the small operations its parts share."""

    def __init__(
        self,
        ctx: SimContext,
        broker: Broker,
        topic: str,
        group_id: str,
        members: int,
        handler: Handler,
        config: BrokerConfig,
    ) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.broker = broker
        self.topic = topic
        self.group_id = group_id
        self.config = config
        self.handler = handler
        self._stream = ctx.stream(f"broker:consumer:{group_id}")
        self.partitions = broker.partition_count(topic)
        self._parts = [broker.partition(topic, p) for p in range(self.partitions)]
        self.members = [Member(i) for i in range(members)]
        self.committed: dict[PartitionId, Offset] = {}
        self.owner: dict[PartitionId, int | None] = dict.fromkeys(range(self.partitions))
        self._assign_epoch = dict.fromkeys(range(self.partitions), 0)
        self._processed_max: dict[PartitionId, Offset] = {}
        self._pause_start: dict[PartitionId, tuple[float, str]] = {}
        self._pending_reasons: list[str] = []
        self._trigger: simpy.Event = self.env.event()
        self._changed: simpy.Event = self.env.event()
        self.rebalancing = False
        self.generation = 0
        self._tokens = 0
        self._last_moved = 0
        recorder = ctx.recorder
        self._consumed = recorder.table("broker_consume", CONSUMED)
        self._lag = recorder.table("consumer_lag", LAG)
        self._rebalances = recorder.table("rebalances", REBALANCES)
        self._pauses = recorder.table("partition_pauses", PAUSES)
        self._skipped = recorder.table("consumer_skipped", SKIPPED)
        if ctx.always.on:
            check_group(self)

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        self.env.timeout(delay).callbacks.append(lambda _event: action())

    def _wake(self, m: Member) -> None:
        event = m.wakeup
        if event is not None and not event.triggered:
            m.wakeup = None
            event.succeed()

    def _sleep(self, m: Member) -> simpy.Event:
        m.wakeup = self.env.event()
        return m.wakeup

    def _reset_position(self, partition: PartitionId) -> Offset:
        if self.config.auto_offset_reset == "earliest":
            return self.broker.log_start(self.topic, partition)
        return self.broker.high_watermark(self.topic, partition)

    def _committed_or_reset(self, partition: PartitionId) -> Offset:
        committed = self.committed.get(partition)
        return committed if committed is not None else self._reset_position(partition)

    def _commit(self, m: Member) -> int:
        """Commit the member's positions it still owns; returns how many partitions moved."""
        if not (m.alive and m.registered):
            return 0
        moved = 0
        for partition, position in m.positions.items():
            if m.epochs.get(partition) != self._assign_epoch[partition]:
                continue
            if self.committed.get(partition) != position:
                self.committed[partition] = position
                moved += 1
        return moved

    def _revoke_all(self, m: Member) -> None:
        if self.config.commit == "auto":
            self._commit(m)
        m.owned, m.positions = [], {}
        m.watching.clear()
        m.revoking = False
        self._state_changed()

    def _request_rebalance(self, reason: str) -> None:
        self._pending_reasons.append(reason)
        if not self._trigger.triggered:
            self._trigger.succeed()

    def _state_changed(self) -> None:
        if not self._changed.triggered:
            self._changed.succeed()

    def _pause(self, partition: PartitionId, cause: str) -> None:
        if partition not in self._pause_start:
            self._pause_start[partition] = (self.env.now, cause)

    def _resume(self, partition: PartitionId) -> None:
        found = self._pause_start.pop(partition, None)
        if found is not None:
            start, cause = found
            self._pauses.append(self.group_id, self.topic, partition, start, self.env.now, cause)

    def _stop(self, m: Member, cause: str) -> None:
        m.alive = False
        m.incarnation += 1
        m.busy = False
        m.revoking = m.stopping = m.commit_requested = False
        m.positions = {}
        m.watching.clear()
        for partition in m.owned:
            self._pause(partition, cause)
        for event in (m.wakeup, m.batch_done):
            if event is not None and not event.triggered:
                event.succeed()
        m.wakeup = m.batch_done = None
        self._state_changed()

    def _leave(self, m: Member) -> None:
        if self.config.commit == "auto":
            self._commit(m)
        self._stop(m, "leave")
        if m.registered:
            m.registered = False
            m.expiry_token = None
            self._request_rebalance("leave")
