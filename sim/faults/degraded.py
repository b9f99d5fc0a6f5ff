"""Faults that degrade a service, an instance or a database without killing it: ``slowdown``,
``hang``, ``unavailable`` and ``clock-skew`` (names from Chaos Mesh, Toxiproxy and Gremlin,
``conventions.md``). The components keep them in :class:`sim.infra.injected.Injected`.

- ``slowdown`` (Chaos Mesh StressChaos, Gremlin CPU): every unit of work that *starts* in the
  window takes its drawn service time (a query its drawn query time) × ``factor``; the draw is
  the same as without the fault, scaled. Work already in service keeps the time it had.
- ``hang`` (Toxiproxy ``timeout`` with no timeout): requests are accepted and take a slot (a
  query a connection and its row lock) but nothing started or finishing in the window
  answers; callers' timeouts fire (``timeout``, not ``error``). When the window ends every
  held request fails with ``reset``, as a killed connection, and frees what it held; requests
  queued behind them then run. Work past its service time when the hang begins (waiting on
  its database, say) goes on.
- ``unavailable`` (Chaos Mesh pod-failure): arrivals are refused at once (connection refused,
  a ``connect-failure`` for retry policies) for the window; requests already accepted go on,
  and nothing is lost or forgotten (unlike ``crash``, which fails work in flight).
- ``clock-skew`` (Chaos Mesh TimeChaos): the component's clock is ``offset`` ahead (negative:
  behind) for the window. Clocks are read where timestamps are taken: the stamp of a row
  (``updated_at``, the database's ``now()`` shifted by the writing service's skew) and a
  poller's ``CURRENT_TIMESTAMP`` (:mod:`sim.connectors.jdbc`); so it changes what a polling
  connector in a timestamp mode selects and nothing else the model measures.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import Field, field_validator

from sim.config.model import Problem, Scenario
from sim.config.types import Duration
from sim.faults.checks import component_problem, problems
from sim.faults.components import Undo
from sim.faults.fault import FaultRun, LastingFault, register_fault
from sim.faults.targets import DatabaseTarget, InstanceTarget, ServiceTarget, Targets

__all__ = [
    "ClockSkewFault",
    "HangFault",
    "Hangable",
    "Refusable",
    "Skewable",
    "SlowdownFault",
    "Stressable",
    "UnavailableFault",
]

ComponentTarget = Annotated[
    ServiceTarget | InstanceTarget | DatabaseTarget,
    Targets(ServiceTarget, InstanceTarget, DatabaseTarget),
]


@runtime_checkable
class Stressable(Protocol):
    """Scales the time of the work it starts."""

    def slow_down(self, factor: float) -> Undo: ...


@runtime_checkable
class Hangable(Protocol):
    """Accepts work and holds it unanswered; ``hang()`` returns the end of the hang."""

    def hang(self) -> Undo: ...


@runtime_checkable
class Refusable(Protocol):
    """Refuses arriving work while keeping what it has."""

    def refuse(self) -> Undo: ...


@runtime_checkable
class Skewable(Protocol):
    """Has a clock that can be set off."""

    def skew_clock(self, offset: float) -> Undo: ...


class _ComponentFault(LastingFault):
    target: ComponentTarget = Field(description="service:X, instance:X/N or db:X")

    def problems(self, scenario: Scenario) -> list[Problem]:
        return problems(component_problem(self.target, scenario), self.target)


def _each(undos: list[Undo]) -> Undo:
    return lambda: [undo() for undo in undos]


@register_fault
class SlowdownFault(_ComponentFault):
    """Service time (a query's time, for a database) × ``factor`` for the window."""

    kind: Literal["slowdown"]
    factor: float = Field(
        gt=0, le=1000, description="service-time multiplier: 3 makes each request 3× as long"
    )
    needs: ClassVar[tuple[type, ...]] = (Stressable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return _each([part.slow_down(self.factor) for part in parts])


@register_fault
class HangFault(_ComponentFault):
    """Accepts requests and never answers them; at the end they fail with ``reset``."""

    kind: Literal["hang"]
    needs: ClassVar[tuple[type, ...]] = (Hangable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return _each([part.hang() for part in parts])


@register_fault
class UnavailableFault(_ComponentFault):
    """Refuses arrivals fast for the window; accepted work goes on, nothing is lost."""

    kind: Literal["unavailable"]
    needs: ClassVar[tuple[type, ...]] = (Refusable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return _each([part.refuse() for part in parts])


@register_fault
class ClockSkewFault(_ComponentFault):
    """The component's clock is ``offset`` ahead (negative: behind) for the window."""

    kind: Literal["clock-skew"]
    offset: Duration = Field(description="how far its clock is ahead; -5s: 5 s behind")
    needs: ClassVar[tuple[type, ...]] = (Skewable,)

    @field_validator("offset")
    @classmethod
    def _not_zero(cls, value: float) -> float:
        if value == 0:
            raise ValueError("a clock-skew needs an offset other than 0, e.g. -5s or 2s")
        return value

    def reaches(self, topology: Any) -> bool:
        """Only a pattern that reads the stamps this clock gives: a poller in a timestamp
        mode reading the database, or the rows its services write there; elsewhere a skewed
        clock changes nothing the model observes, and the fault is not applicable."""
        target = self.target
        if isinstance(target, DatabaseTarget):
            return bool(topology.clock_read(database=target.name))
        return bool(topology.clock_read(service=target.service))

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return _each([part.skew_clock(self.offset) for part in parts])
