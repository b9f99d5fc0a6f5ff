"""The space of fault schedules a search explores for one pattern, and a hypothesis strategy
that draws (and shrinks) schedules from it.

**The space.** Fault kinds come from the registry (:data:`sim.kernel.registry.FAULTS`), so a
new kind is explored as soon as it is registered. An operator's deliberate action (``rewind``,
an offset reset, which skips records when the group lags further than the reset reaches back)
is not a failure: it is tried only when named in ``kinds``, and is listed as left out
otherwise. Targets come from the pattern's elaborated topology: every service, instance, database, link between two services (and to the broker),
the broker and its first partitions, consumer group and connector is tried as a target of
every kind, and kept when the fault reaches a component of this pattern that can suffer it.
A kind whose settings need a value this module cannot draw (a field without a default that is
not in :data:`PARAMETERS`) is left out and said so.

**A schedule** is a list of one to ``max_faults`` faults, each a kind, a target, a start within
the load (in tenths of a second after the warm-up), a duration (tenths of a second, within the
load) for a lasting fault, and its parameters. Hypothesis shrinks lists toward fewer faults,
integers toward their lower bound and ``sampled_from`` toward its first choice, so a
counterexample shrinks to fewer faults, earlier starts, shorter windows and the first value of
each parameter.

**A trial scenario** (:func:`scenario_with`) is the scenario with one pattern, one replication
and a schedule as its faults, at a share of its load: what a search runs for each schedule.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st
from pydantic import ValidationError

from sim.config.model import Scenario
from sim.faults import FaultInjector
from sim.faults.fault import InstantFault
from sim.kernel.context import SimContext
from sim.kernel.registry import FAULTS
from sim.metrics.requests import RequestLog
from sim.patterns.entities import build_model
from sim.scenario import parse_scenario, resolved_dict
from sim.scenario.traces import anchored_traces
from sim.workload import Requests

__all__ = [
    "PARAMETERS",
    "FaultSpace",
    "describe",
    "fault_space",
    "scenario_with",
    "schedules",
    "with_pattern",
]

PARAMETERS: dict[str, tuple[Any, ...]] = {
    "delay": (0.1, 0.01, 1.0, 5.0),
    "probability": (1.0, 0.5, 0.1),
    "factor": (0.1, 0.5),
    "by": (10.0, 60.0),
    "offset": (-5.0, -1.0, 5.0),
    "rate": (10.0, 100.0),
}
"""Values drawn for a fault setting that has no default, by name (the first is the simplest)."""


@dataclass(frozen=True)
class FaultSpace:
    """What a search may schedule against one pattern."""

    targets: dict[str, list[str]]
    """Per fault kind, the targets it reaches in this pattern."""
    params: dict[str, dict[str, tuple[Any, ...]]]
    """Per fault kind, the values of its settings that have no default."""
    instant: frozenset[str]
    low: float
    """Earliest start (the warm-up)."""
    high: float
    """End of the load: faults start before it."""
    left_out: dict[str, str] = field(default_factory=dict)
    """Kinds not explored, and why."""

    @property
    def size(self) -> int:
        """(kind, target) combinations."""
        return sum(len(targets) for targets in self.targets.values())


def _candidates(scenario: Scenario, groups: list[str], connectors: list[str]) -> list[str]:
    services = list(scenario.services)
    found = [f"service:{name}" for name in services]
    for name, config in scenario.services.items():
        found += [f"instance:{name}/{index}" for index in range(min(config.instances, 4))]
    found += [f"db:{name}" for name in [*services, "shared"]]
    ends = [*services, "broker"]
    found += [f"link:{a}->{b}" for a in ends for b in ends if a != b]
    partitions = min(scenario.broker.partitions, 3)
    found += ["broker", *[f"broker:partition/{p}" for p in range(partitions)]]
    found += [f"consumer:{group}" for group in groups]
    found += [f"connector:{name}" for name in connectors]
    return found


def fault_space(scenario: Scenario, pattern: int, kinds: list[str] | None = None) -> FaultSpace:
    """The kinds and targets that reach pattern ``pattern`` of ``scenario`` (all registered
    kinds, or ``kinds``)."""
    ctx = SimContext.create(scenario.seed)
    empty = Requests(
        np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    )
    log = RequestLog(empty, scenario.workload.timeout, list(scenario.services))
    spec = scenario.patterns[pattern]
    topology = build_model(ctx, scenario, spec, log).elaborate()
    candidates = _candidates(scenario, topology.group_names(), topology.connector_names())
    low = scenario.warmup
    high = scenario.workload.load_duration
    targets: dict[str, list[str]] = {}
    params: dict[str, dict[str, tuple[Any, ...]]] = {}
    instant: set[str] = set()
    left_out: dict[str, str] = {}
    for kind in kinds if kinds is not None else FAULTS.kinds():
        cls = FAULTS.get(kind)
        if kinds is None and cls.operator_action:
            left_out[kind] = "an operator's action, not a failure: explored only when named"
            continue
        needed = {
            name: info
            for name, info in cls.model_fields.items()
            if info.is_required() and name not in ("kind", "target", "start", "duration")
        }
        missing = [name for name in needed if name not in PARAMETERS]
        if missing:
            left_out[kind] = f"needs {', '.join(missing)}, which the search cannot draw"
            continue
        chosen = {name: PARAMETERS[name] for name in needed}
        first = {name: values[0] for name, values in chosen.items()}
        if not issubclass(cls, InstantFault):  # the shortest window a schedule draws
            first["duration"] = 0.1
        reachable = []
        for text in candidates:
            try:
                fault = cls.model_validate({"kind": kind, "target": text, "start": low, **first})
            except ValidationError:
                continue
            if fault.problems(scenario):
                continue
            injector = FaultInjector(SimContext.create(0), topology, [fault], heal_by=high)
            if not injector.not_applicable:
                reachable.append(text)
        if not reachable:
            left_out[kind] = "reaches no component of this pattern"
            continue
        targets[kind], params[kind] = reachable, chosen
        if issubclass(cls, InstantFault):
            instant.add(kind)
    return FaultSpace(targets, params, frozenset(instant), low, high, left_out)


def _tenths(seconds: float) -> int:
    return max(1, int(seconds * 10))


@st.composite
def _fault(draw: st.DrawFn, space: FaultSpace) -> dict[str, Any]:
    kind = draw(st.sampled_from(sorted(space.targets)))
    target = draw(st.sampled_from(space.targets[kind]))
    span = _tenths(space.high - space.low)
    start = space.low + draw(st.integers(0, span - 1)) / 10
    fault: dict[str, Any] = {"kind": kind, "target": target, "start": round(start, 1)}
    if kind not in space.instant:
        left = _tenths(space.high - start)
        fault["duration"] = draw(st.integers(1, max(1, left))) / 10
    for name, values in space.params[kind].items():
        fault[name] = draw(st.sampled_from(values))
    return fault


def schedules(space: FaultSpace, max_faults: int) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Fault schedules of up to ``max_faults`` faults from ``space`` (none first: a pattern
    that breaks its invariant on its own needs no fault)."""
    return st.lists(_fault(space), min_size=0, max_size=max_faults)


def describe(schedule: list[dict[str, Any]]) -> str:
    """A schedule in one line (for logs)."""
    return json.dumps(schedule, separators=(",", ":"), sort_keys=True)


def scenario_with(
    scenario: Scenario, pattern: int, schedule: list[dict[str, Any]], load: float = 1.0
) -> Scenario:
    """``scenario`` with only pattern ``pattern``, one replication, ``schedule`` as its faults
    and every phase's rate scaled by ``load`` (no SLOs, decision, capacity or sweep: a
    counterexample stands alone); closed users are scaled by ``load`` too, traces are not."""
    data = anchored_traces(scenario, resolved_dict(scenario))
    data["patterns"] = [data["patterns"][pattern]]
    data["replications"] = 1
    data["faults"] = schedule
    for key in ("slo", "decision", "capacity", "sweep"):
        data.pop(key, None)
    if load != 1.0:
        for phase in data["workload"]["phases"]:
            for key in ("rate", "ramp_to"):
                if phase.get(key) is not None:
                    phase[key] *= load
            if phase.get("spike") is not None:
                phase["spike"]["rate"] *= load
            if phase.get("closed") is not None:  # fewer users; a trace plays as recorded
                users = phase["closed"]["users"]
                phase["closed"]["users"] = max(1, round(users * load))
    return parse_scenario(json.dumps(data), "<explore>")


def with_pattern(scenario: Scenario, kind: str) -> Scenario:
    """``scenario`` with one more pattern: ``kind`` with its default settings."""
    data = anchored_traces(scenario, resolved_dict(scenario))
    data["patterns"].append({"kind": kind})
    return parse_scenario(json.dumps(data), "<explore>")
