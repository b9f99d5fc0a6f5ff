"""What every fault kind is: a settings model with a typed target, a window and an effect.

A fault class (one per ``kind``, registered with :func:`register_fault`) declares:

- ``target``: a typed target (:mod:`sim.faults.targets`), parsed once from the scenario;
- ``needs``: the protocols a component must implement to suffer it
  (:mod:`sim.faults.components`);
- its windows: a *lasting* fault (:class:`LastingFault`) begins at ``start`` and ends after
  ``duration``, or when the load ends if ``duration`` is left out (every fault is healed by the
  end of the load, so the drain shows what the pattern leaves behind); with ``schedule`` it
  recurs, and ``window_probability`` is a coin per window (:mod:`sim.faults.schedule`); an
  *instant* fault (:class:`InstantFault`) acts once at ``start``;
- ``apply(parts, run) -> undo``: act on the components the target reached; ``undo()`` ends it;
- ``problems(scenario)``: whole-file checks of the target (a service that does not exist).

Overlapping crashes of one component are counted by :class:`FaultRun`, so the component
restarts only when the last of them heals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

from pydantic import Field, field_validator, model_validator
from pydantic.json_schema import SkipJsonSchema

from sim.config.model import FaultSettings, Problem, Scenario
from sim.config.types import NonNegativeDuration, Probability
from sim.faults.components import Crashable, Undo
from sim.faults.schedule import Schedule, Window, recurring_windows
from sim.kernel.context import SimContext
from sim.kernel.registry import FAULTS, kind_of
from sim.kernel.rng import Streams

__all__ = ["Fault", "FaultRun", "InstantFault", "LastingFault", "register_fault"]

F = TypeVar("F", bound=type["Fault"])

MAX_WINDOWS = 10_000
"""The most windows a recurring fault may open during the load."""


@dataclass
class FaultRun:
    """What the faults of one run share: the context and the crash counts."""

    ctx: SimContext
    _crashes: dict[int, int] = field(default_factory=dict)

    def crash(self, parts: list[Crashable]) -> Undo:
        """Crash every part (unless already down); the undo restarts each when its last crash
        heals."""
        for part in parts:
            count = self._crashes.get(id(part), 0) + 1
            self._crashes[id(part)] = count
            if count == 1:
                part.crash()

        def restart() -> None:
            for part in parts:
                self._crashes[id(part)] -= 1
                if self._crashes[id(part)] == 0:
                    part.restart()

        return restart


class Fault(FaultSettings):
    """Base of the fault classes."""

    needs: ClassVar[tuple[type, ...]] = ()
    """Protocols a component must implement for this fault to act on it."""
    what: ClassVar[str] = "component"
    """What the fault acts on, in words (for "not applicable" messages)."""
    operator_action: ClassVar[bool] = False
    """An operator's deliberate action (an offset reset), not a failure: a search of fault
    schedules tries it only when asked for by name."""

    target: Any

    def window(self, heal_by: float) -> tuple[float, float]:
        """``(start, end)`` of the fault's effect, healed by ``heal_by`` at the latest."""
        raise NotImplementedError

    def windows(self, heal_by: float, streams: Streams, index: int) -> list[Window]:
        """Every window of the fault in one replication (``streams``), as fault ``index`` of
        the scenario: the same for every pattern."""
        return [self.window(heal_by)]

    def accepts(self, component: Any) -> bool:
        """Whether this fault can act on ``component``."""
        return all(isinstance(component, protocol) for protocol in self.needs)

    def reaches(self, topology: Any) -> bool:
        """Whether the pattern (its :class:`~sim.faults.topology.Topology`) has anything
        this fault's effect can change; every component it names can suffer it, but a fault
        whose effect nothing observes (a clock nobody reads) is not applicable."""
        return True

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        """Act on ``parts`` (every one :meth:`accepts`); the returned undo ends the effect."""
        raise NotImplementedError


class LastingFault(Fault):
    """A fault with a window: from ``start`` for ``duration`` (or until the load ends)."""

    duration: NonNegativeDuration | None = Field(
        None, description="how long it lasts; leave it out to last until the load ends"
    )
    schedule: Schedule | None = Field(
        None,
        description="recurring windows from start until the load ends: {every: 10m, "
        "duration: 30s, jitter: 5s} (Chaos Mesh Schedule)",
    )
    window_probability: Probability | None = Field(
        None,
        description="a coin per window: each window happens with this probability (null: "
        "every window happens)",
    )
    probability: SkipJsonSchema[None] = Field(None, exclude=True)
    """Refused with a pointer to ``window_probability`` (only ``error`` has a per-request
    ``probability``)."""

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise ValueError(
                "a fault's duration must be above 0; leave duration out for a fault that "
                "lasts until the load ends"
            )
        return value

    @field_validator("probability", mode="before")
    @classmethod
    def _not_per_request(cls, value: object) -> object:
        raise ValueError(
            "probability is the per-request failure chance of an error fault; for a coin "
            "that decides whether each window of this fault happens, write "
            f"window_probability: {value}"
        )

    @model_validator(mode="after")
    def _one_length(self) -> LastingFault:
        schedule = self.schedule
        if schedule is None:
            return self
        if schedule.duration is not None and "duration" in self.model_fields_set:
            raise ValueError(
                "give the length of each window once: as duration or as schedule.duration"
            )
        length = schedule.duration if schedule.duration is not None else self.duration
        if length is None:
            raise ValueError("a schedule needs the length of each window: schedule.duration")
        if length + schedule.jitter > schedule.every:
            raise ValueError(
                f"the windows of one fault would overlap: duration + jitter ({length:g}s + "
                f"{schedule.jitter:g}s) must not exceed schedule.every ({schedule.every:g}s)"
            )
        return self

    def window_problems(self, scenario: Scenario) -> list[Problem]:
        schedule = self.schedule
        if schedule is None:
            return []
        count = math.ceil(max(0.0, scenario.workload.load_duration - self.start) / schedule.every)
        if count <= MAX_WINDOWS:
            return []
        return [
            (
                ("schedule", "every"),
                f"the schedule opens {count:,} windows before the load ends; at most "
                f"{MAX_WINDOWS:,}: make every longer",
                schedule.every,
            )
        ]

    @property
    def length(self) -> float | None:
        """How long each window lasts (None: until the load ends)."""
        schedule = self.schedule
        if schedule is not None and schedule.duration is not None:
            return schedule.duration
        return self.duration

    def window(self, heal_by: float) -> tuple[float, float]:
        """The first nominal window (without jitter or coin)."""
        length = self.length
        end = heal_by if length is None else self.start + length
        return self.start, min(end, heal_by)

    def windows(self, heal_by: float, streams: Streams, index: int) -> list[Window]:
        return recurring_windows(
            self.start,
            self.length,
            self.schedule,
            self.window_probability,
            heal_by,
            streams,
            index,
        )


class InstantFault(Fault):
    """A fault that acts once, at ``start``."""

    def window(self, heal_by: float) -> tuple[float, float]:
        return self.start, self.start


def register_fault(cls: F) -> F:
    """Add a fault class to the registry under its ``kind`` (usable as a decorator)."""
    FAULTS.register(kind_of(cls), cls)
    return cls
