"""What a component must offer for a fault to act on it: small structural protocols.

Components (:mod:`sim.infra`, :mod:`sim.broker`, :mod:`sim.connectors`) implement these by
having the methods; nothing imports this module to do so. A fault class names the protocols
its targets must satisfy, and the elaboration step keeps only the components that do, so a
fault that cannot act on a pattern is known before the run starts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from sim.config.distributions import Sampler

__all__ = [
    "Crashable",
    "Cuttable",
    "Erroring",
    "GroupMembers",
    "LeaderLosable",
    "Rewindable",
    "Slowable",
    "Stallable",
    "Undo",
]

Undo = Callable[[], Any]
"""What ends a fault's effect."""


@runtime_checkable
class Crashable(Protocol):
    """Goes down at once, losing work in flight; comes back empty."""

    def crash(self) -> None: ...

    def restart(self) -> None: ...


@runtime_checkable
class Slowable(Protocol):
    """Adds an extra delay to every unit of work while a fault lasts."""

    def add_delay(self, sampler: Sampler) -> None: ...

    def remove_delay(self, sampler: Sampler) -> None: ...


@runtime_checkable
class Erroring(Protocol):
    """Fails arriving work fast with a probability while a fault lasts."""

    def add_error(self, probability: float) -> None: ...

    def remove_error(self, probability: float) -> None: ...


@runtime_checkable
class Cuttable(Protocol):
    """A connection that a partition can cut; ``cut()`` returns the heal."""

    def cut(self) -> Undo: ...


@runtime_checkable
class Stallable(Protocol):
    """Stops making progress without dying, then goes on where it was."""

    def stall(self) -> None: ...

    def resume(self) -> None: ...


@runtime_checkable
class Rewindable(Protocol):
    """A consumer group that can seek back by a duration and reprocess."""

    def rewind_by(self, duration: float) -> None: ...


@runtime_checkable
class GroupMembers(Protocol):
    """A consumer group whose members can crash, restart and freeze."""

    @property
    def size(self) -> int: ...

    def crash_member(self, index: int) -> None: ...

    def restart_member(self, index: int) -> None: ...

    def pause_member(self, index: int, duration: float) -> None: ...


@runtime_checkable
class LeaderLosable(Protocol):
    """A broker cluster whose brokers and partition leaders can die."""

    def fail_broker(self, broker_id: int) -> None: ...

    def recover_broker(self, broker_id: int) -> None: ...

    def fail_leader(self, topic: str, index: int) -> int | None: ...

    def recover_replica(self, topic: str, index: int, broker_id: int) -> None: ...

    def topic_names(self) -> list[str]: ...
