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
  the group need not be stopped: this is what a consumer's own ``seek`` does.

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

from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.config.broker import BrokerConfig
from sim.context import SimContext
from sim.infra.assignment import range_assign, sticky_assign
from sim.infra.broker import Broker
from sim.infra.log import Offset, PartitionId, Record

__all__ = ["ConsumerGroup", "Handler"]

Handler = Callable[[Record, Callable[[], None]], None]
_INF = float("inf")


def _instant(record: Record, done: Callable[[], None]) -> None:
    done()


class _Member:
    """One consumer of the group (one ``KafkaConsumer``)."""

    def __init__(self, index: int) -> None:
        self.index = index
        self.alive = True
        self.incarnation = 0
        self.registered = True
        self.wants_join = False
        self.expiry_token: int | None = None
        self.frozen = False
        self.freeze_token = 0
        self.revoking = False
        self.busy = False
        self.batch_started = 0.0
        self.watchdog_at = _INF
        self.owned: list[PartitionId] = []
        self.epochs: dict[PartitionId, int] = {}
        self.positions: dict[PartitionId, Offset] = {}
        self.rotate = 0
        self.next_auto_commit = 0.0
        self.timer_at = _INF
        self.fetch_started: float | None = None
        self.watching: set[PartitionId] = set()
        self.wakeup: simpy.Event | None = None
        self.batch_done: simpy.Event | None = None
        self.on_thaw: list[Callable[[], None]] = []


class ConsumerGroup:
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
        self.members = [_Member(i) for i in range(members)]
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

    # --- fault hooks and public controls ------------------------------------------------------

    def member(self, index: int) -> _Member:
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
        """The member closes cleanly: commits (with auto-commit) and leaves: a rebalance at once."""
        m = self.member(index)
        if not m.alive:
            return
        if self.config.commit == "auto":
            self._commit(m)
        self._stop(m, "leave")
        if m.registered:
            m.registered = False
            m.expiry_token = None
            self._request_rebalance("leave")

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
        """Every live member commits its current positions now (``commitSync``)."""
        for m in self.members:
            self._commit(m)

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

    # --- member life cycle --------------------------------------------------------------------

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        self.env.timeout(delay).callbacks.append(lambda _event: action())

    def _stop(self, m: _Member, cause: str) -> None:
        m.alive = False
        m.incarnation += 1
        m.busy = False
        m.revoking = False
        m.positions = {}
        m.watching.clear()
        for partition in m.owned:
            self._pause(partition, cause)
        for event in (m.wakeup, m.batch_done):
            if event is not None and not event.triggered:
                event.succeed()
        m.wakeup = m.batch_done = None
        self._state_changed()

    def _schedule_expiry(self, m: _Member, delay: float) -> None:
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

    def _thaw(self, m: _Member, token: int) -> None:
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

    def _evict_slow(self, m: _Member) -> None:
        m.registered = False
        m.expiry_token = None
        for partition in m.owned:
            self._pause(partition, "max-poll-interval")
        self._request_rebalance("max-poll-interval")
        self._state_changed()

    def _arm_watchdog(self, m: _Member) -> None:
        deadline = m.batch_started + self.config.max_poll_interval
        if m.watchdog_at <= deadline:
            return
        m.watchdog_at = deadline
        incarnation = m.incarnation

        def check() -> None:
            if m.watchdog_at == deadline:
                m.watchdog_at = _INF
            if m.incarnation != incarnation or not m.busy:
                return
            if self.env.now >= m.batch_started + self.config.max_poll_interval:
                if m.registered and not m.frozen:
                    self._evict_slow(m)
            else:
                self._arm_watchdog(m)

        self._at(deadline - self.env.now, check)

    # --- poll loop ----------------------------------------------------------------------------

    def _wake(self, m: _Member) -> None:
        event = m.wakeup
        if event is not None and not event.triggered:
            m.wakeup = None
            event.succeed()

    def _sleep(self, m: _Member) -> simpy.Event:
        m.wakeup = self.env.event()
        return m.wakeup

    def _poll_loop(self, m: _Member, incarnation: int) -> Generator[simpy.Event, Any, None]:
        config = self.config
        while m.incarnation == incarnation:
            now = self.env.now
            if m.frozen:
                yield self._sleep(m)
                continue
            if config.commit == "auto" and now >= m.next_auto_commit:
                self._commit(m)
                m.next_auto_commit = now + config.auto_commit_interval
            if m.revoking:
                self._revoke_all(m)
            if not m.registered:
                if not m.wants_join:
                    m.wants_join = True
                    self._request_rebalance("rejoin")
                yield self._sleep(m)
                continue
            records = self._fetch(m)
            if not records:
                self._arm_idle_wakeups(m)
                yield self._sleep(m)
                continue
            yield self.env.timeout(self.broker.sample_latency())
            if m.incarnation != incarnation:
                return
            if config.commit == "before-processing":
                self._commit(m)
            pending = self._process(m, records)
            if pending is not None:
                yield pending
            if m.incarnation != incarnation:
                return
            if config.commit == "after-batch":
                self._commit(m)
            m.busy = False
            self._state_changed()

    def _arm_idle_wakeups(self, m: _Member) -> None:
        for partition in m.owned:
            if partition not in m.watching:
                m.watching.add(partition)
                self._parts[partition].watch_data(self._data_callback(m, partition))
        if m.fetch_started is not None:
            self._arm_timer(m, m.fetch_started + self.config.fetch_max_wait)
        if self.config.commit == "auto" and any(
            self.committed.get(p) != pos for p, pos in m.positions.items()
        ):
            self._arm_timer(m, m.next_auto_commit)

    def _data_callback(self, m: _Member, partition: PartitionId) -> Callable[[], None]:
        incarnation = m.incarnation

        def wake() -> None:
            if m.incarnation == incarnation:
                m.watching.discard(partition)
                self._wake(m)

        return wake

    def _arm_timer(self, m: _Member, at: float) -> None:
        now = self.env.now
        if at >= m.timer_at and m.timer_at > now:
            return
        m.timer_at = at

        def fire() -> None:
            if m.timer_at == at:
                m.timer_at = _INF
            self._wake(m)

        self._at(max(0.0, at - now), fire)

    def _fetch(self, m: _Member) -> list[Record]:
        owned = m.owned
        if not owned:
            return []
        if self.config.fetch_min_bytes > 1 and not self._enough_bytes(m):
            return []
        m.fetch_started = None
        limit = self.config.max_poll_records
        out: list[Record] = []
        count = len(owned)
        parts = self._parts
        for k in range(count):
            partition = owned[(m.rotate + k) % count]
            part = parts[partition]
            if not part.available:
                continue
            position = self._checked_position(m, partition)
            records = part.log.read(position, part.hw, limit - len(out))
            if records:
                out.extend(records)
                m.positions[partition] = records[-1].offset + 1
                if len(out) >= limit:
                    break
        m.rotate += 1
        return out

    def _enough_bytes(self, m: _Member) -> bool:
        total = 0
        for partition in m.owned:
            part = self._parts[partition]
            if part.available:
                total += part.log.bytes_between(self._checked_position(m, partition), part.hw)
        if total >= self.config.fetch_min_bytes:
            return True
        now = self.env.now
        if total == 0:
            m.fetch_started = None
            return False
        if m.fetch_started is None:
            m.fetch_started = now
        return now >= m.fetch_started + self.config.fetch_max_wait

    def _checked_position(self, m: _Member, partition: PartitionId) -> Offset:
        position = m.positions[partition]
        log = self._parts[partition].log
        if log.log_start <= position <= log.end:
            return position
        reason = "below-log-start" if position < log.log_start else "beyond-log-end"
        target = self._reset_position(partition)
        self._skipped.append(
            self.env.now, self.group_id, self.topic, partition, position, target, reason
        )
        m.positions[partition] = target
        return target

    def _reset_position(self, partition: PartitionId) -> Offset:
        if self.config.auto_offset_reset == "earliest":
            return self.broker.log_start(self.topic, partition)
        return self.broker.high_watermark(self.topic, partition)

    def _committed_or_reset(self, partition: PartitionId) -> Offset:
        committed = self.committed.get(partition)
        return committed if committed is not None else self._reset_position(partition)

    # --- processing ---------------------------------------------------------------------------

    def _process(self, m: _Member, records: list[Record]) -> simpy.Event | None:
        """Hand the records to the handler one at a time.

        Returns an event that fires after the last one, or None when the handler finished the
        whole batch synchronously.
        """
        finished = self.env.event()
        m.batch_done = finished
        m.busy = True
        m.batch_started = self.env.now
        self._arm_watchdog(m)
        incarnation = m.incarnation
        state = {"next": 0, "running": False, "ready": True, "finished": False, "returned": False}
        handler = self.handler

        def step() -> None:
            state["ready"] = True
            if state["running"]:
                return
            state["running"] = True
            while state["ready"] and m.incarnation == incarnation:
                if m.frozen:
                    m.on_thaw.append(step)
                    break
                index = state["next"]
                if index == len(records):
                    m.batch_done = None
                    state["finished"] = True
                    if not finished.triggered and state["returned"]:
                        finished.succeed()
                    break
                state["next"] = index + 1
                state["ready"] = False
                handler(records[index], self._done_callback(m, incarnation, records[index], step))
            state["running"] = False

        step()
        state["returned"] = True
        return None if state["finished"] else finished

    def _done_callback(
        self, m: _Member, incarnation: int, record: Record, step: Callable[[], None]
    ) -> Callable[[], None]:
        called = False

        def done() -> None:
            nonlocal called
            if called or m.incarnation != incarnation:
                return
            called = True
            self._processed(m, record)
            step()

        return done

    def _processed(self, m: _Member, record: Record) -> None:
        partition = record.partition
        previous = self._processed_max.get(partition, -1)
        redelivered = record.offset <= previous
        if not redelivered:
            self._processed_max[partition] = record.offset
        now = self.env.now
        self._consumed.append(
            now,
            self.group_id,
            m.index,
            self.topic,
            partition,
            record.offset,
            now - record.timestamp,
            int(redelivered),
        )

    # --- commits ------------------------------------------------------------------------------

    def _commit(self, m: _Member) -> int:
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

    def _revoke_all(self, m: _Member) -> None:
        if self.config.commit == "auto":
            self._commit(m)
        m.owned, m.positions = [], {}
        m.watching.clear()
        m.revoking = False
        self._state_changed()

    # --- rebalancing --------------------------------------------------------------------------

    def _request_rebalance(self, reason: str) -> None:
        self._pending_reasons.append(reason)
        if not self._trigger.triggered:
            self._trigger.succeed()

    def _state_changed(self) -> None:
        if not self._changed.triggered:
            self._changed.succeed()

    def _ready(self, m: _Member) -> bool:
        if not m.registered:
            return True
        return m.alive and not m.frozen and not m.busy and m.expiry_token is None

    def _barrier(self) -> Generator[simpy.Event, Any, None]:
        while not all(self._ready(m) for m in self.members):
            self._changed = self.env.event()
            yield self._changed

    def _joining(self) -> list[int]:
        return [
            m.index
            for m in self.members
            if m.alive and not m.frozen and (m.registered or m.wants_join)
        ]

    def _coordinator(self) -> Generator[simpy.Event, Any, None]:
        while True:
            if not self._pending_reasons:
                self._trigger = self.env.event()
                yield self._trigger
            start = self.env.now
            self.rebalancing = True
            if self.config.assignment == "eager":
                yield from self._eager_round()
            else:
                yield from self._cooperative_rounds()
            reasons = ",".join(sorted(set(self._pending_reasons))) or "join"
            self._pending_reasons = []
            self.rebalancing = False
            end = self.env.now
            self._rebalances.append(
                self.group_id,
                start,
                end,
                end - start,
                reasons,
                self.config.assignment,
                len(self._joining()),
                self._last_moved,
            )

    def _eager_round(self) -> Generator[simpy.Event, Any, None]:
        for m in self.members:
            if m.alive and m.registered:
                m.revoking = True
                self._wake(m)
        for partition in range(self.partitions):
            self._pause(partition, "rebalance")
        yield self.env.timeout(self.config.rebalance_time)
        yield from self._barrier()
        before = dict(self.owner)
        self._apply(range_assign(self._joining(), self.partitions))
        self._last_moved = sum(1 for p in range(self.partitions) if before[p] != self.owner[p])

    def _cooperative_rounds(self) -> Generator[simpy.Event, Any, None]:
        yield self.env.timeout(self.config.rebalance_time)
        yield from self._barrier()
        joining = self._joining()
        owned = {i: list(self.members[i].owned) for i in joining if self.members[i].registered}
        target = sticky_assign(joining, self.partitions, owned)
        moved: list[PartitionId] = []
        for member, partitions in target.items():
            for partition in partitions:
                current = self.owner.get(partition)
                if current is not None and current != member and current in owned:
                    moved.append(partition)
        first = {m: [p for p in ps if p not in moved] for m, ps in target.items()}
        self._apply(first, keep_positions=True)
        self._last_moved = len(moved) + sum(
            1 for p in range(self.partitions) if p not in moved and self._was_orphan(p, owned)
        )
        if moved:
            for partition in moved:
                self._pause(partition, "rebalance")
            yield self.env.timeout(self.config.rebalance_time)
            yield from self._barrier()
            joining = self._joining()
            now_owned = {i: list(self.members[i].owned) for i in joining}
            self._apply(sticky_assign(joining, self.partitions, now_owned), keep_positions=True)

    def _was_orphan(self, partition: PartitionId, owned: dict[int, list[PartitionId]]) -> bool:
        return not any(partition in ps for ps in owned.values())

    def _apply(
        self, assignment: dict[int, list[PartitionId]], keep_positions: bool = False
    ) -> None:
        """Install an assignment: owners, epochs, positions; resume the partitions that flow."""
        self.generation += 1
        for m in self.members:
            if m.revoking and m.alive:
                self._revoke_all(m)
        assigned: set[PartitionId] = set()
        for index, partitions in assignment.items():
            m = self.members[index]
            m.registered, m.wants_join = True, False
            kept = set(m.owned) if keep_positions else set()
            for partition in m.owned:
                if partition not in partitions:
                    self._drop(m, partition)
            for partition in partitions:
                if partition not in kept:
                    self._assign_epoch[partition] += 1
                    m.epochs[partition] = self._assign_epoch[partition]
                    m.positions[partition] = self._committed_or_reset(partition)
            m.owned = list(partitions)
            assigned.update(partitions)
            self._wake(m)
        for m in self.members:
            if m.index not in assignment:
                for partition in list(m.owned):
                    self._drop(m, partition)
                m.owned = []
        for partition in range(self.partitions):
            owner = next((i for i, ps in assignment.items() if partition in ps), None)
            self.owner[partition] = owner
            if owner is not None and not self.members[owner].frozen:
                self._resume(partition)

    def _drop(self, m: _Member, partition: PartitionId) -> None:
        if self.config.commit == "auto" and m.alive and m.registered:
            position = m.positions.get(partition)
            if position is not None and m.epochs.get(partition) == self._assign_epoch[partition]:
                self.committed[partition] = position
        m.positions.pop(partition, None)
        m.watching.discard(partition)

    # --- pauses and lag -----------------------------------------------------------------------

    def _pause(self, partition: PartitionId, cause: str) -> None:
        if partition not in self._pause_start:
            self._pause_start[partition] = (self.env.now, cause)

    def _resume(self, partition: PartitionId) -> None:
        found = self._pause_start.pop(partition, None)
        if found is not None:
            start, cause = found
            self._pauses.append(self.group_id, self.topic, partition, start, self.env.now, cause)

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
