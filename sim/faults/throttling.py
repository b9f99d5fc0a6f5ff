"""The ``throttle`` fault: a database's provisioned capacity is scaled down for a window.

``{kind: throttle, target: db:billing, factor: 0.5, start: 60s, duration: 30s}`` halves the
read and write rates of ``billing``'s table for 30 s (what lowering provisioned capacity, or a
neighbour eating a shared limit, does); its burst bank keeps what it holds. It reaches only a
database that has ``capacity:``; in a pattern whose topology has no such database it is
reported as not applied.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import Field

from sim.config.model import Problem, Scenario
from sim.faults.checks import component_problem, problems
from sim.faults.components import Undo
from sim.faults.fault import FaultRun, LastingFault, register_fault
from sim.faults.targets import DatabaseTarget, Targets

__all__ = ["ThrottleFault", "Throttleable"]


@runtime_checkable
class Throttleable(Protocol):
    """Has provisioned capacity whose rates a fault can scale."""

    throttle: Any

    def scale_capacity(self, factor: float) -> Undo: ...


DatabaseOnly = Annotated[DatabaseTarget, Targets(DatabaseTarget)]


@register_fault
class ThrottleFault(LastingFault):
    """A database's provisioned read and write rates × ``factor`` for the window."""

    kind: Literal["throttle"]
    target: DatabaseOnly = Field(description="db:X, a database with capacity:")
    factor: float = Field(0.5, gt=0, le=1, description="what is left of the provisioned rates")
    needs: ClassVar[tuple[type, ...]] = (Throttleable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        found = component_problem(self.target, scenario)
        if found is None and scenario.databases.profile(self.target.name).capacity is None:
            found = f"db:{self.target.name} has no capacity: to throttle"
        return problems(found, self.target)

    def accepts(self, component: Any) -> bool:
        """Only a database that has provisioned capacity (the shared database of the
        shared-database pattern, say, may have none: the fault is then not applied there)."""
        return super().accepts(component) and component.throttle is not None

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        undos = [part.scale_capacity(self.factor) for part in parts]
        return lambda: [undo() for undo in undos]
