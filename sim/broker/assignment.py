"""Partition assignors of a consumer group (pure functions, one topic).

- :func:`range_assign` is Kafka's ``RangeAssignor`` for one topic: members in order, each gets a
  contiguous range, the first ``partitions % members`` get one more. It ignores who owned what,
  which is why the eager protocol revokes everything first [K-CONS].
- :func:`sticky_assign` is the balance rule of ``CooperativeStickyAssignor``: every member ends
  with ``floor`` or ``ceil`` of partitions/members, keeping as many of the partitions it owns as
  that allows, so a member leaving moves only its own partitions [K-CONS, STATIC].

Members are identified by their index in the group; the member order stands in for Kafka's
member-id order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sim.broker.log import PartitionId

__all__ = ["range_assign", "sticky_assign"]


def range_assign(members: Sequence[int], partitions: int) -> dict[int, list[PartitionId]]:
    """Kafka's RangeAssignor over one topic."""
    ordered = sorted(members)
    result: dict[int, list[PartitionId]] = {member: [] for member in ordered}
    if not ordered:
        return result
    per, extra = divmod(partitions, len(ordered))
    start = 0
    for position, member in enumerate(ordered):
        count = per + (1 if position < extra else 0)
        result[member] = list(range(start, start + count))
        start += count
    return result


def sticky_assign(
    members: Sequence[int], partitions: int, owned: Mapping[int, Sequence[PartitionId]]
) -> dict[int, list[PartitionId]]:
    """A balanced assignment that keeps each member's current partitions where it can."""
    ordered = sorted(members)
    result: dict[int, list[PartitionId]] = {member: [] for member in ordered}
    if not ordered:
        return result
    floor, extra = divmod(partitions, len(ordered))
    taken: set[PartitionId] = set()
    for member in ordered:
        mine = sorted(p for p in owned.get(member, ()) if 0 <= p < partitions and p not in taken)
        keep = mine[:floor]
        if len(mine) > floor and extra > 0:
            keep.append(mine[floor])
            extra -= 1
        result[member] = keep
        taken.update(keep)
    for partition in range(partitions):
        if partition in taken:
            continue
        under_floor = [m for m in ordered if len(result[m]) < floor]
        if under_floor:
            chosen = min(under_floor, key=lambda m: (len(result[m]), m))
        else:
            at_floor = [m for m in ordered if len(result[m]) == floor]
            if at_floor and extra > 0:
                chosen = at_floor[0]
                extra -= 1
            else:
                chosen = min(ordered, key=lambda m: (len(result[m]), m))
        result[chosen].append(partition)
        taken.add(partition)
    for member in ordered:
        result[member].sort()
    return result
