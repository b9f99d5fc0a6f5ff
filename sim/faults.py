"""The fault schedule: apply each fault to its components at ``start``, heal it after ``duration``.

Faults are healed at the end of the load at the latest (the drain runs fault-free, so final
divergence measures what the pattern leaves behind, not an outage still in progress). Each fault
is a small SimPy process (rare control flow, readable as a script). Overlapping crashes of one
component are counted, so the component restarts only when the last one heals. What was
actually applied is recorded in the ``faults`` table (``kind, target, start, end``) for the
report's shaded windows.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import simpy

from sim.config.model import CrashFault, ErrorFault, LatencyFault
from sim.context import SimContext
from sim.patterns.base import PatternModel

__all__ = ["FaultInjector"]

AnyFault = CrashFault | LatencyFault | ErrorFault


class FaultInjector:
    """Runs the fault schedule of a scenario against one pattern model."""

    def __init__(
        self, ctx: SimContext, model: PatternModel, faults: list[AnyFault], heal_by: float
    ) -> None:
        self.ctx = ctx
        self.model = model
        self.faults = list(faults)
        self.heal_by = heal_by
        self._crashes: dict[int, int] = {}
        self._table = ctx.recorder.table(
            "faults", {"kind": "O", "target": "O", "start": "d", "end": "d"}
        )

    def start(self) -> None:
        """Start one process per fault that begins before the load ends."""
        for fault in self.faults:
            if fault.start < self.heal_by and fault.duration > 0:
                self.ctx.env.process(self._run(fault))

    def _run(self, fault: AnyFault) -> Generator[simpy.Event, Any, None]:
        env = self.ctx.env
        yield env.timeout(fault.start)
        undo = self._apply(fault)
        began = env.now
        yield env.timeout(max(0.0, min(fault.start + fault.duration, self.heal_by) - env.now))
        undo()
        self._table.append(fault.kind, fault.target, began, env.now)

    def _apply(self, fault: AnyFault) -> Any:
        if fault.target.startswith("link:"):
            return self._apply_link(fault)
        objects = self.model.fault_objects(fault.target)
        if isinstance(fault, CrashFault):
            for item in objects:
                self._crashes[id(item)] = self._crashes.get(id(item), 0) + 1
                item.crash()

            def restart() -> None:
                for item in objects:
                    self._crashes[id(item)] -= 1
                    if self._crashes[id(item)] == 0:
                        item.restart()

            return restart
        if isinstance(fault, LatencyFault):
            sampler = fault.delay.sampler(self.ctx.stream(f"fault:{fault.target}:delay"))
            for item in objects:
                item.extra_delays.append(sampler)
            return lambda: [item.extra_delays.remove(sampler) for item in objects]
        probability = fault.probability
        for item in objects:
            item.error_probabilities.append(probability)
        return lambda: [item.error_probabilities.remove(probability) for item in objects]

    def _apply_link(self, fault: AnyFault) -> Any:
        assert isinstance(fault, LatencyFault)
        source, _, destination = fault.target[len("link:") :].partition("->")
        source, destination = self.model.link_node(source), self.model.link_node(destination)
        sampler = fault.delay.sampler(self.ctx.stream(f"fault:{fault.target}:delay"))
        self.model.network.add_delay(source, destination, sampler)
        return lambda: self.model.network.remove_delay(source, destination, sampler)
