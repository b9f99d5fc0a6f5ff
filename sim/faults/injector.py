"""The fault schedule of one run: a plain loop over the faults and the components they reach.

Before the run, :meth:`FaultInjector.plan` resolves every fault's target in the pattern's
topology and keeps the components that can suffer it; a fault that reaches none is *not
applicable* to this pattern (listed in :attr:`FaultInjector.not_applicable`, never silently
shaded). :meth:`FaultInjector.start` then runs one small SimPy process per applicable fault
that begins before the load ends: apply at the start of each of its windows (one, or the
recurring windows of a ``schedule``, :mod:`sim.faults.schedule`), undo at its end. Faults are
healed at the end of the load at the latest, so the drain measures what the pattern leaves
behind. Every window is recorded in the ``faults`` table (``kind, target, start, end,
applied``): applied ones with the window they had, the others with ``applied`` 0; a window
its coin (``window_probability``) skipped is not recorded.
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass
from typing import Any

import simpy

from sim.faults.fault import Fault, FaultRun
from sim.faults.topology import Topology
from sim.kernel.context import SimContext

__all__ = ["FaultInjector", "Planned"]


@dataclass(frozen=True)
class Planned:
    """One fault of the scenario as it applies to one pattern."""

    index: int
    fault: Fault
    parts: tuple[Any, ...]

    @property
    def applicable(self) -> bool:
        return bool(self.parts)


class FaultInjector:
    """Runs the fault schedule of a scenario against one pattern's topology."""

    def __init__(
        self, ctx: SimContext, topology: Topology, faults: Sequence[Any], heal_by: float
    ) -> None:
        self.ctx = ctx
        self.heal_by = heal_by
        self.run = FaultRun(ctx)
        self.plan = [
            Planned(
                i,
                fault,
                tuple(p for p in topology.resolve(fault.target) if fault.accepts(p))
                if fault.reaches(topology)
                else (),
            )
            for i, fault in enumerate(faults)
        ]
        self.windows = [fault.windows(heal_by, ctx.streams, i) for i, fault in enumerate(faults)]
        """The windows of each fault (the same in every pattern of a replication)."""
        self._table = ctx.recorder.table(
            "faults", {"kind": "s", "target": "s", "start": "d", "end": "d", "applied": "q"}
        )
        for planned in self.plan:  # recorded too: never silently left out
            fault = planned.fault
            if not planned.applicable or fault.start >= heal_by:
                for start, end in self.windows[planned.index]:
                    self._table.append(fault.kind, str(fault.target), start, max(start, end), 0)

    @property
    def not_applicable(self) -> list[Planned]:
        """Faults that reach no component of this pattern."""
        return [planned for planned in self.plan if not planned.applicable]

    def start(self) -> None:
        """Start one process per applicable fault that begins before the load ends."""
        for planned in self.plan:
            if planned.applicable and planned.fault.start < self.heal_by:
                self.ctx.env.process(self._run(planned))

    def _run(self, planned: Planned) -> Generator[simpy.Event, Any, None]:
        env = self.ctx.env
        fault = planned.fault
        for start, end in self.windows[planned.index]:
            yield env.timeout(max(0.0, start - env.now))
            undo = fault.apply(list(planned.parts), self.run)
            began = env.now
            yield env.timeout(max(0.0, end - env.now))
            undo()
            self._table.append(fault.kind, str(fault.target), began, env.now, 1)
