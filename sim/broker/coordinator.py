"""The group coordinator: rebalance rounds, assignment, revocation.

A generator process that waits for triggers (session expiry, a member leaving or exceeding
``max_poll_interval``, a member joining). A round lasts ``rebalance_time`` and ends only when
every registered member has finished its current batch (Kafka's join barrier, bounded in Kafka
by the rebalance timeout, here by the member's own eviction). Eager rounds revoke everything;
cooperative ones move only what must move, in two rounds. See :mod:`sim.broker.group`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.broker.assignment import range_assign, sticky_assign
from sim.broker.group_state import GroupState, Member
from sim.broker.log import PartitionId

__all__ = ["Coordinator"]


class Coordinator:
    """Rebalances of a consumer group."""

    def __init__(self, g: GroupState) -> None:
        self.g = g

    def run(self) -> Generator[simpy.Event, Any, None]:
        """The coordinator's process: one rebalance after another, as triggers come."""
        while True:
            if not self.g._pending_reasons:
                self.g._trigger = self.g.env.event()
                yield self.g._trigger
            start = self.g.env.now
            self.g.rebalancing = True
            if self.g.config.assignment == "eager":
                yield from self._eager_round()
            else:
                yield from self._cooperative_rounds()
            reasons = ",".join(sorted(set(self.g._pending_reasons))) or "join"
            self.g._pending_reasons = []
            self.g.rebalancing = False
            end = self.g.env.now
            self.g._rebalances.append(
                self.g.group_id,
                start,
                end,
                end - start,
                reasons,
                self.g.config.assignment,
                len(self._joining()),
                self.g._last_moved,
            )

    def _eager_round(self) -> Generator[simpy.Event, Any, None]:
        for m in self.g.members:
            if m.alive and m.registered:
                m.revoking = True
                self.g._wake(m)
        for partition in range(self.g.partitions):
            self.g._pause(partition, "rebalance")
        yield self.g.env.timeout(self.g.config.rebalance_time)
        yield from self._barrier()
        before = dict(self.g.owner)
        self.apply(range_assign(self._joining(), self.g.partitions))
        self.g._last_moved = sum(
            1 for p in range(self.g.partitions) if before[p] != self.g.owner[p]
        )

    def _cooperative_rounds(self) -> Generator[simpy.Event, Any, None]:
        yield self.g.env.timeout(self.g.config.rebalance_time)
        yield from self._barrier()
        joining = self._joining()
        owned = {i: list(self.g.members[i].owned) for i in joining if self.g.members[i].registered}
        target = sticky_assign(joining, self.g.partitions, owned)
        moved: list[PartitionId] = []
        for member, partitions in target.items():
            for partition in partitions:
                current = self.g.owner.get(partition)
                if current is not None and current != member and current in owned:
                    moved.append(partition)
        first = {m: [p for p in ps if p not in moved] for m, ps in target.items()}
        self.apply(first, keep_positions=True)
        self.g._last_moved = len(moved) + sum(
            1 for p in range(self.g.partitions) if p not in moved and self._was_orphan(p, owned)
        )
        if moved:
            for partition in moved:
                self.g._pause(partition, "rebalance")
            yield self.g.env.timeout(self.g.config.rebalance_time)
            yield from self._barrier()
            joining = self._joining()
            now_owned = {i: list(self.g.members[i].owned) for i in joining}
            self.apply(sticky_assign(joining, self.g.partitions, now_owned), keep_positions=True)

    def _was_orphan(self, partition: PartitionId, owned: dict[int, list[PartitionId]]) -> bool:
        return not any(partition in ps for ps in owned.values())

    def _ready(self, m: Member) -> bool:
        if not m.registered:
            return True
        return m.alive and not m.frozen and not m.busy and m.expiry_token is None

    def _barrier(self) -> Generator[simpy.Event, Any, None]:
        while not all(self._ready(m) for m in self.g.members):
            self.g._changed = self.g.env.event()
            yield self.g._changed

    def _joining(self) -> list[int]:
        return [
            m.index
            for m in self.g.members
            if m.alive and not m.frozen and (m.registered or m.wants_join)
        ]

    def apply(self, assignment: dict[int, list[PartitionId]], keep_positions: bool = False) -> None:
        """Install an assignment: owners, epochs, positions; resume the partitions that flow."""
        self.g.generation += 1
        for m in self.g.members:
            if m.revoking and m.alive:
                self.g._revoke_all(m)
        assigned: set[PartitionId] = set()
        for index, partitions in assignment.items():
            m = self.g.members[index]
            m.registered, m.wants_join = True, False
            kept = set(m.owned) if keep_positions else set()
            for partition in m.owned:
                if partition not in partitions:
                    self._drop(m, partition)
            for partition in partitions:
                if partition not in kept:
                    self.g._assign_epoch[partition] += 1
                    m.epochs[partition] = self.g._assign_epoch[partition]
                    m.positions[partition] = self.g._committed_or_reset(partition)
            m.owned = list(partitions)
            assigned.update(partitions)
            self.g._wake(m)
        for m in self.g.members:
            if m.index not in assignment:
                for partition in list(m.owned):
                    self._drop(m, partition)
                m.owned = []
        for partition in range(self.g.partitions):
            owner = next((i for i, ps in assignment.items() if partition in ps), None)
            self.g.owner[partition] = owner
            if owner is not None and not self.g.members[owner].frozen:
                self.g._resume(partition)

    def _drop(self, m: Member, partition: PartitionId) -> None:
        if self.g.config.commit == "auto" and m.alive and m.registered:
            position = m.positions.get(partition)
            if position is not None and m.epochs.get(partition) == self.g._assign_epoch[partition]:
                self.g.committed[partition] = position
        m.positions.pop(partition, None)
        m.watching.discard(partition)
