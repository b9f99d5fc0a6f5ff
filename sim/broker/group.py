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

The group is composed of its parts over one :class:`~sim.broker.group_state.GroupState`
(members, commits, pauses): a :class:`~sim.broker.coordinator.Coordinator` (rebalances), a
:class:`~sim.broker.poll_loop.PollLoop` (fetching and processing) and the assignors of
:mod:`sim.broker.assignment`; this module holds the public API. Nothing runs until
:meth:`ConsumerGroup.start`.

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

from sim.broker.assignment import range_assign
from sim.broker.cluster import Broker
from sim.broker.coordinator import Coordinator
from sim.broker.group_state import GroupState, Handler, Member
from sim.broker.log import Offset, PartitionId, Record
from sim.broker.members import MemberHandle, MemberLink
from sim.broker.poll_loop import PollLoop
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

__all__ = ["ConsumerGroup", "Handler"]


def _instant(record: Record, done: Any) -> None:
    done()


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
        self.state = GroupState(
            ctx,
            broker,
            topic,
            group_id,
            members,
            handler if handler is not None else _instant,
            config if config is not None else broker.config,
        )
        self.coordinator = Coordinator(self.state)
        self.polls = PollLoop(self.state)
        self.topic = topic
        self.group_id = group_id
        self._initial_assignment()

    def start(self) -> None:
        """Start the coordinator, the lag sampler and every member's poll loop."""
        g = self.state
        g.env.process(self.coordinator.run())
        g.env.process(self._sample_lag())
        for member in g.members:
            g.env.process(self.polls.run(member, member.incarnation))

    # -- what the group knows ----------------------------------------------------------------
    @property
    def members(self) -> list[Member]:
        return self.state.members

    @property
    def size(self) -> int:
        """Number of members."""
        return len(self.state.members)

    @property
    def committed(self) -> dict[PartitionId, Offset]:
        """Committed offset per partition."""
        return self.state.committed

    @property
    def owner(self) -> dict[PartitionId, int | None]:
        """The member owning each partition (None while unassigned)."""
        return self.state.owner

    @property
    def partitions(self) -> int:
        return self.state.partitions

    @property
    def generation(self) -> int:
        return self.state.generation

    def _initial_assignment(self) -> None:
        g = self.state
        for partition in range(g.partitions):
            g.committed[partition] = g._reset_position(partition)
        indices = [m.index for m in g.members]
        self.coordinator.apply(range_assign(indices, g.partitions))

    def member(self, index: int) -> Member:
        """The member at ``index`` (an error names the valid range)."""
        members = self.state.members
        if not 0 <= index < len(members):
            raise ValueError(
                f"group {self.group_id!r} has members 0..{len(members) - 1} (got {index})"
            )
        return members[index]

    def member_handle(self, index: int) -> MemberHandle:
        """Member ``index`` as a component a crash of its hosting instance takes down."""
        return MemberHandle(self, index)

    def member_link(self, index: int) -> MemberLink:
        """Member ``index``'s connection to the broker, as a fault target."""
        return MemberLink(self, index)

    # -- faults and control ------------------------------------------------------------------
    def crash_member(self, index: int) -> None:
        """The member dies: in-flight work is lost; the group notices after the session timeout."""
        g = self.state
        m = self.member(index)
        if not m.alive:
            return
        g._stop(m, "crash")
        if m.registered:
            phase = g._stream.uniform() * g.config.heartbeat_interval
            self._schedule_expiry(m, max(0.0, g.config.session_timeout - phase))

    def stop_member(self, index: int) -> None:
        """The member closes cleanly after its current batch: it commits (with auto-commit) and
        leaves the group, which rebalances at once (no session timeout)."""
        m = self.member(index)
        if not m.alive:
            return
        m.stopping = True
        if not m.busy:
            self.state._leave(m)

    def restart_member(self, index: int) -> None:
        """A stopped or crashed member starts again from the committed offsets."""
        g = self.state
        m = self.member(index)
        if m.alive:
            return
        m.alive = True
        m.incarnation += 1
        m.frozen = False
        if g.config.static_membership and m.registered:
            m.expiry_token = None
            m.owned = [p for p, owner in g.owner.items() if owner == m.index]
            m.positions = {p: g._committed_or_reset(p) for p in m.owned}
            for partition in m.owned:
                g._resume(partition)
        else:
            m.owned, m.positions = [], {}
            m.wants_join = True
            g._request_rebalance("join")
        g._state_changed()
        g.env.process(self.polls.run(m, m.incarnation))
        if m.isolated:
            self._freeze(m, "partition")

    def pause_member(self, index: int, duration: float) -> None:
        """The member freezes (no polls, no heartbeats) for ``duration``, then resumes."""
        m = self.member(index)
        if not m.alive or m.frozen or duration <= 0:
            return
        token = self._freeze(m, "pause")
        self.state._at(duration, lambda: self._thaw(m, token))

    def isolate_member(self, index: int) -> None:
        """The member is cut off the broker: it can neither fetch nor heartbeat, so the group
        notices after the session timeout, as for a frozen member; :meth:`reconnect_member`
        lets it go on (or rejoin, if it was evicted meanwhile)."""
        m = self.member(index)
        m.isolated += 1
        if m.isolated == 1 and m.alive and not m.frozen:
            self._freeze(m, "partition")

    def reconnect_member(self, index: int) -> None:
        """A cut between the member and the broker heals."""
        m = self.member(index)
        m.isolated = max(0, m.isolated - 1)
        if m.isolated == 0 and m.frozen:
            self._thaw(m, m.freeze_token)

    def _freeze(self, m: Member, cause: str) -> int:
        g = self.state
        m.frozen = True
        m.freeze_token += 1
        for partition in m.owned:
            g._pause(partition, cause)
        if m.registered:
            phase = g._stream.uniform() * g.config.heartbeat_interval
            self._schedule_expiry(m, max(0.0, g.config.session_timeout - phase))
        return m.freeze_token

    def commit(self) -> None:
        """Every live member commits its positions at its next poll, after its current batch
        (``commitSync`` from the poll loop)."""
        g = self.state
        for m in g.members:
            if m.alive:
                m.commit_requested = True
                if not m.busy:
                    g._wake(m)

    def seek_to_time(self, timestamp: float) -> None:
        """Move every partition to the earliest offset with a timestamp at or after ``timestamp``."""
        g = self.state
        offsets = g.broker.offsets_for_times(g.topic, timestamp)
        for partition, offset in offsets.items():
            target = offset if offset is not None else g.broker.high_watermark(g.topic, partition)
            g.committed[partition] = target
            owner = g.owner.get(partition)
            if owner is not None:
                member = g.members[owner]
                if partition in member.positions:
                    member.positions[partition] = target
        for member in g.members:
            g._wake(member)

    def rewind_by(self, duration: float) -> None:
        """Seek back by ``duration`` from now (``--reset-offsets --by-duration``)."""
        self.seek_to_time(self.state.env.now - duration)

    def positions(self) -> dict[PartitionId, Offset]:
        """Where consumption goes on, per partition: the owning member's position, or the
        committed offset while the partition has no owner."""
        g = self.state
        found: dict[PartitionId, Offset] = {}
        for partition in range(g.partitions):
            owner = g.owner.get(partition)
            member = g.members[owner] if owner is not None else None
            if member is not None and member.alive and partition in member.positions:
                found[partition] = member.positions[partition]
            else:
                found[partition] = g.committed.get(partition, 0)
        return found

    def in_hand(self) -> list[Record]:
        """Records fetched by live members and not processed yet."""
        return [r for m in self.state.members if m.alive for r in m.unprocessed()]

    def caught_up(self) -> bool:
        """No rebalance, every partition owned by a working member that has fetched up to the
        high watermark, and no batch still being processed."""
        g = self.state
        if g.rebalancing:
            return False
        for partition in range(g.partitions):
            owner = g.owner.get(partition)
            if owner is None:
                return False
            m = g.members[owner]
            if not m.alive or m.frozen or m.busy or not m.registered:
                return False
            if m.positions.get(partition, -1) < g.broker.high_watermark(g.topic, partition):
                return False
        return True

    def lag(self) -> dict[PartitionId, int]:
        """Log end minus committed offset, per partition, now."""
        g = self.state
        return {
            p: max(0, g.broker.high_watermark(g.topic, p) - g.committed.get(p, 0))
            for p in range(g.partitions)
        }

    # -- internals ---------------------------------------------------------------------------
    def _schedule_expiry(self, m: Member, delay: float) -> None:
        g = self.state
        g._tokens += 1
        expected = m.expiry_token = g._tokens

        def expire() -> None:
            if m.expiry_token != expected:
                return
            m.expiry_token = None
            m.registered = False
            g._request_rebalance("session-timeout")
            g._state_changed()

        g._at(delay, expire)

    def _thaw(self, m: Member, token: int) -> None:
        g = self.state
        if not m.frozen or m.freeze_token != token or m.isolated:
            return  # (a pause that ends while the member is cut off: it stays frozen)
        m.frozen = False
        if m.alive and m.registered:
            m.expiry_token = None
            for partition in m.owned:
                if not g.rebalancing or g.config.assignment == "cooperative":
                    g._resume(partition)
        elif m.alive:
            m.wants_join = True
            g._request_rebalance("rejoin")
        continuations, m.on_thaw = m.on_thaw, []
        for continuation in continuations:
            continuation()
        g._wake(m)
        g._state_changed()

    def _sample_lag(self) -> Generator[simpy.Event, Any, None]:
        g = self.state
        interval = g.config.lag_interval
        while True:
            yield g.env.timeout(interval)
            now = g.env.now
            for partition in range(g.partitions):
                log_end = g.broker.high_watermark(g.topic, partition)
                committed = g.committed.get(partition, 0)
                g._lag.append(
                    now,
                    g.group_id,
                    g.topic,
                    partition,
                    max(0, log_end - committed),
                    committed,
                    log_end,
                )
