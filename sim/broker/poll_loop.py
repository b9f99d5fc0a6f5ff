"""The poll loop of a consumer-group member: fetch, hand records to the handler, commit.

One SimPy process per member incarnation. An idle member sleeps on an event woken by new data,
a new assignment, a due auto-commit or a fetch wait; it never polls in small steps. Records are
handed to the handler one at a time through callbacks (no process per record). A batch that
runs past ``max_poll_interval`` gets the member evicted by a watchdog timer (one per member).
See :mod:`sim.broker.group` for the whole model.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.broker.always import check_poll_loop
from sim.broker.group_state import INF, GroupState, Member
from sim.broker.log import Offset, PartitionId, Record

__all__ = ["PollLoop"]


class PollLoop:
    """Members' poll loops, fetching and processing."""

    def __init__(self, g: GroupState) -> None:
        self.g = g
        if g.ctx.always.on:
            check_poll_loop(self)

    def run(self, m: Member, incarnation: int) -> Generator[simpy.Event, Any, None]:
        """The poll loop of one member incarnation (a SimPy process)."""
        config = self.g.config
        while m.incarnation == incarnation:
            now = self.g.env.now
            if m.frozen:
                yield self.g._sleep(m)
                continue
            if config.commit == "auto" and now >= m.next_auto_commit:
                self.g._commit(m)
                m.next_auto_commit = now + config.auto_commit_interval
            if m.commit_requested:
                m.commit_requested = False
                self.g._commit(m)
            if m.stopping:
                self.g._leave(m)
                return
            if m.revoking:
                self.g._revoke_all(m)
            if not m.registered:
                if not m.wants_join:
                    m.wants_join = True
                    self.g._request_rebalance("rejoin")
                yield self.g._sleep(m)
                continue
            records = self._fetch(m)
            if not records:
                self._arm_idle_wakeups(m)
                yield self.g._sleep(m)
                continue
            m.busy = True  # from the poll that returned the records until they are processed
            m.batch_started = now
            self._arm_watchdog(m)
            latency = self.g.broker.sample_latency()
            for extra in m.fetch_delays:  # latency faults on the member's link to the broker
                latency += extra()
            yield self.g.env.timeout(latency)
            if m.incarnation != incarnation:
                return
            if config.commit == "before-processing":
                self.g._commit(m)
            pending = self._process(m, records)
            if pending is not None:
                yield pending
            if m.incarnation != incarnation:
                return
            if config.commit == "after-batch":
                self.g._commit(m)
            m.busy = False
            self.g._state_changed()

    def _arm_idle_wakeups(self, m: Member) -> None:
        for partition in m.owned:
            if partition not in m.watching:
                m.watching.add(partition)
                self.g._parts[partition].watch_data(self._data_callback(m, partition))
        if m.fetch_started is not None:
            self._arm_timer(m, m.fetch_started + self.g.config.fetch_max_wait)
        if self.g.config.commit == "auto" and any(
            self.g.committed.get(p) != pos for p, pos in m.positions.items()
        ):
            self._arm_timer(m, m.next_auto_commit)

    def _data_callback(self, m: Member, partition: PartitionId) -> Callable[[], None]:
        incarnation = m.incarnation

        def wake() -> None:
            if m.incarnation == incarnation:
                m.watching.discard(partition)
                self.g._wake(m)

        return wake

    def _arm_timer(self, m: Member, at: float) -> None:
        now = self.g.env.now
        if at >= m.timer_at and m.timer_at > now:
            return
        m.timer_at = at

        def fire() -> None:
            if m.timer_at == at:
                m.timer_at = INF
            self.g._wake(m)

        self.g._at(max(0.0, at - now), fire)

    def _fetch(self, m: Member) -> list[Record]:
        owned = m.owned
        if not owned:
            return []
        if self.g.config.fetch_min_bytes > 1 and not self._enough_bytes(m):
            return []
        m.fetch_started = None
        limit = self.g.config.max_poll_records
        out: list[Record] = []
        count = len(owned)
        parts = self.g._parts
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

    def _enough_bytes(self, m: Member) -> bool:
        total = 0
        for partition in m.owned:
            part = self.g._parts[partition]
            if part.available:
                total += part.log.bytes_between(self._checked_position(m, partition), part.hw)
        if total >= self.g.config.fetch_min_bytes:
            return True
        now = self.g.env.now
        if total == 0:
            m.fetch_started = None
            return False
        if m.fetch_started is None:
            m.fetch_started = now
        return now >= m.fetch_started + self.g.config.fetch_max_wait

    def _checked_position(self, m: Member, partition: PartitionId) -> Offset:
        position = m.positions[partition]
        log = self.g._parts[partition].log
        if log.log_start <= position <= log.end:
            return position
        reason = "below-log-start" if position < log.log_start else "beyond-log-end"
        target = self.g._reset_position(partition)
        self.g._skipped.append(
            self.g.env.now, self.g.group_id, self.g.topic, partition, position, target, reason
        )
        m.positions[partition] = target
        return target

    def _process(self, m: Member, records: list[Record]) -> simpy.Event | None:
        """Hand the records to the handler one at a time.

        Returns an event that fires after the last one, or None when the handler finished the
        whole batch synchronously.
        """
        finished = self.g.env.event()
        m.batch_done = finished
        incarnation = m.incarnation
        state = {"next": 0, "running": False, "ready": True, "finished": False, "returned": False}
        handler = self.g.handler
        size = len(records)

        def unprocessed() -> list[Record]:
            if state["finished"] or m.incarnation != incarnation:
                return []
            return records[max(0, state["next"] - 1) :]

        m.unprocessed = unprocessed

        def step() -> None:
            # ``step`` refers to itself (it re-arms on thaw), so this closure is a reference
            # cycle that only the cyclic collector frees: let go of the batch once it is done
            nonlocal records
            state["ready"] = True
            if state["running"]:
                return
            state["running"] = True
            while state["ready"] and m.incarnation == incarnation:
                if m.frozen:
                    m.on_thaw.append(step)
                    break
                index = state["next"]
                if index == size:
                    m.batch_done = None
                    state["finished"] = True
                    records = []
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
        self, m: Member, incarnation: int, record: Record, step: Callable[[], None]
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

    def _processed(self, m: Member, record: Record) -> None:
        partition = record.partition
        previous = self.g._processed_max.get(partition, -1)
        redelivered = record.offset <= previous
        if not redelivered:
            self.g._processed_max[partition] = record.offset
        now = self.g.env.now
        self.g._consumed.append(
            now,
            self.g.group_id,
            m.index,
            self.g.topic,
            partition,
            record.offset,
            now - record.timestamp,
            int(redelivered),
        )

    def _arm_watchdog(self, m: Member) -> None:
        deadline = m.batch_started + self.g.config.max_poll_interval
        if m.watchdog_at <= deadline:
            return
        m.watchdog_at = deadline
        incarnation = m.incarnation

        def check() -> None:
            if m.watchdog_at == deadline:
                m.watchdog_at = INF
            if m.incarnation != incarnation or not m.busy:
                return
            if self.g.env.now >= m.batch_started + self.g.config.max_poll_interval:
                if m.registered and not m.frozen:
                    self._evict_slow(m)
            else:
                self._arm_watchdog(m)

        self.g._at(deadline - self.g.env.now, check)

    def _evict_slow(self, m: Member) -> None:
        m.registered = False
        m.expiry_token = None
        for partition in m.owned:
            self.g._pause(partition, "max-poll-interval")
        self.g._request_rebalance("max-poll-interval")
        self.g._state_changed()
