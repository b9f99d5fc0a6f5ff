"""Consumer groups: assignment, rebalances, offsets and commits, lag, seek by time.

Use::

    def handler(record, done):          # called for each record, in order per member
        ...                             # simulate processing, then
        done()                          # call done() (now or later) when it is processed

    group = ConsumerGroup(ctx, broker, "orders", "billing", members=3, handler=handler)

Each member processes one record at a time: the next record of its batch is handed over only
after ``done()`` of the previous one. ``done`` may be called synchronously. A record counts as
processed (row in ``broker_consume``, with its end-to-end latency from the producer's ``send``)
when ``done`` is called by a member that has not crashed since it got the record.

What is modelled (domain.md §1.4, §1.5, [K-CONS, K-DESIGN, K-OPS, STATIC]):

- **Poll loop** per member (a SimPy process): commit if auto-commit is due, fetch up to
  ``max_poll_records`` committed records from its partitions in turn (one network ``latency``
  to arrive; with ``fetch_min_bytes`` > 1 the fetch waits up to ``fetch_max_wait``), process
  them, loop. An idle member sleeps until data, an assignment or a commit is due: no polling in
  small steps.
- **Commit policies**: ``auto`` commits the positions every ``auto_commit_interval`` inside poll
  and on revocation; ``after-batch`` commits after each processed batch; ``before-processing``
  commits right after the fetch (at most once). After a crash, a member restarts from the
  committed offsets, so the uncommitted records are delivered again (``redelivered`` = 1).
  A member that was evicted cannot commit (Kafka's ``CommitFailedException``).
- **Rebalances** run by a coordinator process. Triggers: a crashed or frozen member noticed
  after ``session_timeout`` (less the phase of its last heartbeat); a member that exceeds
  ``max_poll_interval`` on one batch leaves at once; a (re)joining member. A round lasts
  ``rebalance_time`` and cannot finish before every registered member has finished its current
  batch (or expired). *Eager* (Range): every member revokes everything when the round starts,
  so every partition stops. *Cooperative* (CooperativeSticky): the partitions of departed
  members are assigned at the end of the first round, partitions moved between live members are
  revoked then and assigned after a second round; the others never stop.
- **Static membership**: a crashed member that restarts within ``session_timeout`` takes its
  partitions back without a rebalance (they are idle meanwhile).
- **Offsets**: a position below the log start (retention) or beyond the log end (unclean
  truncation) is reset by ``auto_offset_reset`` and the skipped range recorded.
- **Seek**: :meth:`ConsumerGroup.seek_to_time` moves every partition to the earliest offset at or
  after a time (``--reset-offsets --to-datetime``), :meth:`ConsumerGroup.rewind_by` to now minus
  a duration (``--by-duration``); processing then continues from there. Unlike the CLI tool,
  the group need not be stopped: this is what a consumer's own ``seek`` does. A time later
  than a partition's committed offset moves it forward and skips records, as the tool does.

The group is split along its concepts: :mod:`sim.infra.consumer_state` (members, commits,
pauses), :mod:`sim.infra.consumer_poll` (poll loop and processing), :mod:`sim.infra.rebalance`
(the coordinator) and :mod:`sim.infra.assignment` (assignors); this module holds the public API.

Recorded tables: ``broker_consume``, ``consumer_lag`` (log end minus committed offset per
partition every ``lag_interval``), ``rebalances``, ``partition_pauses`` (intervals in which a
partition had no working consumer, with the cause) and ``consumer_skipped``.

Left out: the group starts already formed (no ``group.initial.rebalance.delay.ms``); one topic per
group; the KIP-848 protocol; commit latency (commits take effect at once); a handler's work
cannot be frozen by a ``pause_member`` (only its continuation waits); heartbeat threads are not
simulated, their effect (session expiry) is; a frozen member that resumes keeps processing the
records it had. At group start the initial positions count as committed.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.config.broker import BrokerConfig
from sim.context import SimContext
from sim.infra.assignment import range_assign
from sim.infra.broker import Broker
from sim.infra.consumer_poll import PollLoop
from sim.infra.consumer_state import Handler, Member
from sim.infra.log import Offset, PartitionId, Record
from sim.infra.rebalance import Coordinator

__all__ = ["ConsumerGroup", "Handler"]


def _instant(record: Record, done: Any) -> None:
    done()


class ConsumerGroup(PollLoop, Coordinator):
    """A consumer group reading one topic."""

    def __init__(
        self,
        ctx: SimContext,
        broker: Broker,
        topic: str,
        group_id: str,
        members: int = 1,
        handler: Handler | None = None,
        config: BrokerConfig | None = None,
    ) -> None:
        if members < 1:
            raise ValueError(f"a consumer group needs at least one member (got {members})")
        self.ctx = ctx
        self.env = ctx.env
        self.broker = broker
        self.topic = topic
        self.group_id = group_id
        self.config = config if config is not None else broker.config
        self.handler: Handler = handler if handler is not None else _instant
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
        self._init_tables()
        self._initial_assignment()
        self.env.process(self._coordinator())
        self.env.process(self._sample_lag())
        for member in self.members:
            self.env.process(self._poll_loop(member, member.incarnation))

    def _init_tables(self) -> None:
        recorder = self.ctx.recorder
        self._consumed = recorder.table(
            "broker_consume",
            {
                "time": "d",
                "group": "O",
                "member": "q",
                "topic": "O",
                "partition": "q",
                "offset": "q",
                "latency": "d",
                "redelivered": "q",
            },
        )
        self._lag = recorder.table(
            "consumer_lag",
            {
                "time": "d",
                "group": "O",
                "topic": "O",
                "partition": "q",
                "lag": "q",
                "committed": "q",
                "log_end": "q",
            },
        )
        self._rebalances = recorder.table(
            "rebalances",
            {
                "group": "O",
                "start": "d",
                "end": "d",
                "duration": "d",
                "reason": "O",
                "protocol": "O",
                "members": "q",
                "moved": "q",
            },
        )
        self._pauses = recorder.table(
            "partition_pauses",
            {"group": "O", "topic": "O", "partition": "q", "start": "d", "end": "d", "cause": "O"},
        )
        self._skipped = recorder.table(
            "consumer_skipped",
            {
                "time": "d",
                "group": "O",
                "topic": "O",
                "partition": "q",
                "from_offset": "q",
                "to_offset": "q",
                "reason": "O",
            },
        )

    def _initial_assignment(self) -> None:
        for partition in range(self.partitions):
            self.committed[partition] = self._reset_position(partition)
        indices = [m.index for m in self.members]
        self._apply(range_assign(indices, self.partitions))

    def member(self, index: int) -> Member:
        """The member at ``index`` (an error names the valid range)."""
        if not 0 <= index < len(self.members):
            raise ValueError(
                f"group {self.group_id!r} has members 0..{len(self.members) - 1} (got {index})"
            )
        return self.members[index]

    def crash_member(self, index: int) -> None:
        """The member dies: in-flight work is lost; the group notices after the session timeout."""
        m = self.member(index)
        if not m.alive:
            return
        self._stop(m, "crash")
        if m.registered:
            phase = self._stream.uniform() * self.config.heartbeat_interval
            self._schedule_expiry(m, max(0.0, self.config.session_timeout - phase))

    def stop_member(self, index: int) -> None:
        """The member closes cleanly after its current batch: it commits (with auto-commit) and
        leaves the group, which rebalances at once (no session timeout)."""
        m = self.member(index)
        if not m.alive:
            return
        m.stopping = True
        if not m.busy:
            self._leave(m)

    def restart_member(self, index: int) -> None:
        """A stopped or crashed member starts again from the committed offsets."""
        m = self.member(index)
        if m.alive:
            return
        m.alive = True
        m.incarnation += 1
        m.frozen = False
        if self.config.static_membership and m.registered:
            m.expiry_token = None
            m.owned = [p for p, owner in self.owner.items() if owner == m.index]
            m.positions = {p: self._committed_or_reset(p) for p in m.owned}
            for partition in m.owned:
                self._resume(partition)
        else:
            m.owned, m.positions = [], {}
            m.wants_join = True
            self._request_rebalance("join")
        self._state_changed()
        self.env.process(self._poll_loop(m, m.incarnation))

    def pause_member(self, index: int, duration: float) -> None:
        """The member freezes (no polls, no heartbeats) for ``duration``, then resumes."""
        m = self.member(index)
        if not m.alive or m.frozen or duration <= 0:
            return
        m.frozen = True
        m.freeze_token += 1
        token = m.freeze_token
        for partition in m.owned:
            self._pause(partition, "pause")
        if m.registered:
            phase = self._stream.uniform() * self.config.heartbeat_interval
            self._schedule_expiry(m, max(0.0, self.config.session_timeout - phase))
        self._at(duration, lambda: self._thaw(m, token))

    def commit(self) -> None:
        """Every live member commits its positions at its next poll, after its current batch
        (``commitSync`` from the poll loop)."""
        for m in self.members:
            if m.alive:
                m.commit_requested = True
                if not m.busy:
                    self._wake(m)

    def seek_to_time(self, timestamp: float) -> None:
        """Move every partition to the earliest offset with a timestamp at or after ``timestamp``."""
        offsets = self.broker.offsets_for_times(self.topic, timestamp)
        for partition, offset in offsets.items():
            target = (
                offset if offset is not None else self.broker.high_watermark(self.topic, partition)
            )
            self.committed[partition] = target
            owner = self.owner.get(partition)
            if owner is not None:
                member = self.members[owner]
                if partition in member.positions:
                    member.positions[partition] = target
        for member in self.members:
            self._wake(member)

    def rewind_by(self, duration: float) -> None:
        """Seek back by ``duration`` from now (``--reset-offsets --by-duration``)."""
        self.seek_to_time(self.env.now - duration)

    def lag(self) -> dict[PartitionId, int]:
        """Log end minus committed offset, per partition, now."""
        return {
            p: max(0, self.broker.high_watermark(self.topic, p) - self.committed.get(p, 0))
            for p in range(self.partitions)
        }

    def _schedule_expiry(self, m: Member, delay: float) -> None:
        self._tokens += 1
        expected = m.expiry_token = self._tokens

        def expire() -> None:
            if m.expiry_token != expected:
                return
            m.expiry_token = None
            m.registered = False
            self._request_rebalance("session-timeout")
            self._state_changed()

        self._at(delay, expire)

    def _thaw(self, m: Member, token: int) -> None:
        if not m.frozen or m.freeze_token != token:
            return
        m.frozen = False
        if m.alive and m.registered:
            m.expiry_token = None
            for partition in m.owned:
                if not self.rebalancing or self.config.assignment == "cooperative":
                    self._resume(partition)
        elif m.alive:
            m.wants_join = True
            self._request_rebalance("rejoin")
        continuations, m.on_thaw = m.on_thaw, []
        for continuation in continuations:
            continuation()
        self._wake(m)
        self._state_changed()

    def _sample_lag(self) -> Generator[simpy.Event, Any, None]:
        interval = self.config.lag_interval
        while True:
            yield self.env.timeout(interval)
            now = self.env.now
            for partition in range(self.partitions):
                log_end = self.broker.high_watermark(self.topic, partition)
                committed = self.committed.get(partition, 0)
                self._lag.append(
                    now,
                    self.group_id,
                    self.topic,
                    partition,
                    max(0, log_end - committed),
                    committed,
                    log_end,
                )
