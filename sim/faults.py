"""The fault schedule: apply each fault to its components at ``start``, heal it after ``duration``.

Faults are healed at the end of the load at the latest (the drain runs fault-free, so final
divergence measures what the pattern leaves behind, not an outage still in progress). Each fault
is a small SimPy process (rare control flow, readable as a script). Overlapping crashes of one
component are counted, so the component restarts only when the last one heals. What was
actually applied is recorded in the ``faults`` table (``kind, target, start, end``) for the
report's shaded windows; a fault whose target does not exist in a pattern (a connector in a
pattern without one) is not applied there and not recorded.

Kinds and what they do: ``crash``, ``latency`` and ``error`` act on service instances and
databases (see :mod:`sim.infra.service`, :mod:`sim.infra.database`) and ``latency`` on network
links; ``partition`` drops every message between two parties; ``connector-crash`` and
``connector-stall`` stop a connector (a crash resumes from its last flushed offset, a stall
where it was); ``rewind`` seeks a consumer group back; ``broker-leader-loss``,
``consumer-crash`` and ``consumer-pause`` act on the broker and its consumer groups
(:mod:`sim.infra.broker`, :mod:`sim.infra.consumer`). A broker or consumer fault with duration 0
lasts until the load ends.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.config.broker import BrokerLeaderLossFault, ConsumerCrashFault, ConsumerPauseFault
from sim.config.faults import (
    ConnectorCrashFault,
    ConnectorStallFault,
    CrashFault,
    ErrorFault,
    LatencyFault,
    PartitionFault,
    RewindFault,
)
from sim.context import SimContext
from sim.patterns.base import PatternModel

__all__ = ["FaultInjector"]

Undo = Callable[[], Any]


class FaultInjector:
    """Runs the fault schedule of a scenario against one pattern model."""

    def __init__(
        self, ctx: SimContext, model: PatternModel, faults: list[Any], heal_by: float
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
            lasting = fault.duration > 0 or isinstance(
                fault, RewindFault | BrokerLeaderLossFault | ConsumerCrashFault
            )
            if fault.start < self.heal_by and lasting:
                self.ctx.env.process(self._run(fault))

    def _run(self, fault: Any) -> Generator[simpy.Event, Any, None]:
        env = self.ctx.env
        yield env.timeout(fault.start)
        undo = self._apply(fault)
        if undo is None:
            return
        began = env.now
        end = fault.start + fault.duration if fault.duration > 0 else self.heal_by
        if isinstance(fault, RewindFault):
            end = fault.start
        yield env.timeout(max(0.0, min(end, self.heal_by) - env.now))
        undo()
        self._table.append(fault.kind, fault.target, began, env.now)

    def _apply(self, fault: Any) -> Undo | None:
        model = self.model
        if isinstance(fault, PartitionFault):
            return model.partition(fault.target[len("link:") :])
        if isinstance(fault, ConnectorCrashFault | ConnectorStallFault):
            connector = model.connector(fault.target.split(":", 1)[1])
            if connector is None:
                return None
            if isinstance(fault, ConnectorCrashFault):
                return self._crash([connector])
            connector.stall()
            return connector.resume
        if isinstance(fault, RewindFault | ConsumerCrashFault | ConsumerPauseFault):
            return self._consumer_fault(fault)
        if isinstance(fault, BrokerLeaderLossFault):
            return model.lose_leader(fault)
        if fault.target.startswith("link:"):
            return self._apply_link(fault)
        return self._apply_to_components(fault, model.fault_objects(fault.target))

    def _apply_to_components(self, fault: Any, objects: list[Any]) -> Undo | None:
        if not objects:
            return None
        if isinstance(fault, CrashFault):
            return self._crash(objects)
        if isinstance(fault, LatencyFault):
            sampler = fault.delay.sampler(self.ctx.stream(f"fault:{fault.target}:delay"))
            for item in objects:
                item.extra_delays.append(sampler)
            return lambda: [item.extra_delays.remove(sampler) for item in objects]
        assert isinstance(fault, ErrorFault)
        probability = fault.probability
        for item in objects:
            item.error_probabilities.append(probability)
        return lambda: [item.error_probabilities.remove(probability) for item in objects]

    def _crash(self, objects: list[Any]) -> Undo:
        for item in objects:
            self._crashes[id(item)] = self._crashes.get(id(item), 0) + 1
            if self._crashes[id(item)] == 1:
                item.crash()

        def restart() -> None:
            for item in objects:
                self._crashes[id(item)] -= 1
                if self._crashes[id(item)] == 0:
                    item.restart()

        return restart

    def _consumer_fault(self, fault: Any) -> Undo | None:
        group = self.model.consumer_group(fault.target.split(":", 1)[1])
        if group is None:
            return None
        if isinstance(fault, RewindFault):
            group.rewind_by(fault.by)
            return lambda: None
        if isinstance(fault, ConsumerPauseFault):
            group.pause_member(fault.member % len(group.members), fault.duration)
            return lambda: None
        member = fault.member % len(group.members)
        group.crash_member(member)
        return lambda: group.restart_member(member)

    def _apply_link(self, fault: Any) -> Undo:
        assert isinstance(fault, LatencyFault)
        source, _, destination = fault.target[len("link:") :].partition("->")
        source, destination = self.model.link_node(source), self.model.link_node(destination)
        sampler = fault.delay.sampler(self.ctx.stream(f"fault:{fault.target}:delay"))
        self.model.network.add_delay(source, destination, sampler)
        return lambda: self.model.network.remove_delay(source, destination, sampler)
