"""A consumer-group member as a fault target: the process that hosts it crashes, its
connection to the broker is cut or slowed (:mod:`sim.faults`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from sim.broker.group_state import Member
from sim.config.distributions import Sampler

__all__ = ["MemberHandle", "MemberLink"]


class _Members(Protocol):
    """What a member handle needs of its group (:class:`sim.broker.group.ConsumerGroup`)."""

    def member(self, index: int) -> Member: ...

    def crash_member(self, index: int) -> None: ...

    def restart_member(self, index: int) -> None: ...

    def isolate_member(self, index: int) -> None: ...

    def reconnect_member(self, index: int) -> None: ...


class MemberLink:
    """A member's connection to the broker, as a fault target: a partition cuts it (the
    member is isolated), a latency fault delays its fetches."""

    __slots__ = ("group", "index")

    def __init__(self, group: _Members, index: int) -> None:
        self.group = group
        self.index = index

    def cut(self) -> Callable[[], None]:
        self.group.isolate_member(self.index)
        return lambda: self.group.reconnect_member(self.index)

    def add_delay(self, sampler: Sampler) -> None:
        self.group.member(self.index).fetch_delays.append(sampler)

    def remove_delay(self, sampler: Sampler) -> None:
        self.group.member(self.index).fetch_delays.remove(sampler)


class MemberHandle:
    """One member of a group as a crashable component (it runs inside a service instance)."""

    __slots__ = ("group", "index")

    def __init__(self, group: _Members, index: int) -> None:
        self.group = group
        self.index = index

    def crash(self) -> None:
        self.group.crash_member(self.index)

    def restart(self) -> None:
        self.group.restart_member(self.index)
