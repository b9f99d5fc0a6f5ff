"""The group coordinator: rebalance rounds, assignment, revocation.

A generator process that waits for triggers (session expiry, a member leaving or exceeding
``max_poll_interval``, a member joining). A round lasts ``rebalance_time`` and ends only when
every registered member has finished its current batch (Kafka's join barrier, bounded in Kafka
by the rebalance timeout, here by the member's own eviction). Eager rounds revoke everything;
cooperative ones move only what must move, in two rounds. See :mod:`sim.infra.consumer`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.infra.assignment import range_assign, sticky_assign
from sim.infra.consumer_state import GroupState, Member
from sim.infra.log import PartitionId

__all__ = ["Coordinator"]


class Coordinator(GroupState):
    """Rebalances of a consumer group."""

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

    def _ready(self, m: Member) -> bool:
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

    def _drop(self, m: Member, partition: PartitionId) -> None:
        if self.config.commit == "auto" and m.alive and m.registered:
            position = m.positions.get(partition)
            if position is not None and m.epochs.get(partition) == self._assign_epoch[partition]:
                self.committed[partition] = position
        m.positions.pop(partition, None)
        m.watching.discard(partition)
