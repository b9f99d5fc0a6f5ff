"""Explore: search fault schedules for one that breaks a pattern's invariant, and shrink it.

``explore(scenario, pattern, invariant)`` asks hypothesis for fault schedules from the
pattern's fault space (:mod:`sim.experiments.schedules`), runs each as one short replication of
that pattern alone (the scenario's load and seed; its own faults replaced by the schedule),
and checks the invariant on the run's history (:mod:`sim.metrics.invariants`). On the first
violation hypothesis shrinks the schedule — fewer faults, earlier starts, shorter windows,
simpler parameters — to one that still violates; the search then tries the minimal schedule
under less load (half, then a quarter of every phase's rate) and keeps the lightest load that
still violates. The answer is the minimal counterexample: a runnable scenario, the violating
key's timeline, and the log of every schedule tried.

Deterministic for a given seed (hypothesis draws from it; every simulation is seeded by the
scenario). With a database folder, hypothesis keeps the examples it found failing there and
replays them first, so a second search starts from the last counterexample. ``budget`` bounds
the schedules generated; shrinking may run up to ``2 × budget`` more, then stops improving
(that count bounds it, not hypothesis's wall-clock limit on shrinking, which would make the
counterexample depend on the machine's speed).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.database import DirectoryBasedExampleDatabase
from hypothesis.internal.conjecture import engine as _engine

from sim.config.model import Scenario
from sim.experiments.schedules import FaultSpace, describe, fault_space, schedules
from sim.kernel.always import InvariantBroken
from sim.metrics.invariants import History, Violation, check, resolve, timeline
from sim.runner import RunResult, Task, run_one
from sim.scenario import parse_scenario, resolved_dict
from sim.scenario.traces import anchored_traces

__all__ = ["Exploration", "Try", "explore", "scenario_with", "with_pattern"]


@dataclass(frozen=True)
class Try:
    """One schedule the search ran."""

    number: int
    schedule: list[dict[str, Any]]
    load: float
    """Share of the scenario's load it ran under."""
    violations: int


@dataclass
class Exploration:
    """What a search found."""

    scenario: Scenario
    pattern: str
    invariant: str
    space: FaultSpace
    tries: list[Try] = field(default_factory=list)
    counterexample: Scenario | None = None
    """The minimal scenario that violates the invariant (None: none found in the budget)."""
    violations: list[Violation] = field(default_factory=list)
    history: History | None = None

    @property
    def found(self) -> bool:
        return self.counterexample is not None

    @property
    def covered(self) -> set[tuple[str, str]]:
        """(kind, target) pairs some schedule used."""
        return {(f["kind"], f["target"]) for t in self.tries for f in t.schedule}

    def timeline(self) -> pd.DataFrame:
        """The first violating key's timeline (empty without a violation)."""
        if self.history is None or not self.violations:
            return pd.DataFrame(columns=["time", "event", "where", "version", "detail"])
        return timeline(self.history, self.violations[0].key)

    def log(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                (t.number, t.load, len(t.schedule), describe(t.schedule), t.violations)
                for t in self.tries
            ],
            columns=["try", "load", "faults", "schedule", "violations"],
        )


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


def _history(run: RunResult, scenario: Scenario) -> History:
    tables = run.tables
    return History(
        tables["commits"],
        tables["applies"],
        run.requests,
        scenario.data.copies,
        scenario.warmup,
        tables["pending"],
        tables.get("undone"),
        tables.get("reverts"),
        tables.get("poll_positions"),
        tables.get("row_stamps"),
        scenario.data.copy_scopes(),
    )


class _Violated(AssertionError):
    pass


@contextlib.contextmanager
def _no_shrink_clock() -> Iterator[None]:
    """Hypothesis gives up shrinking after five minutes of wall-clock time, so on a slower or
    busier machine the same seed would shrink less; the search's own budget bounds the
    shrinking instead (``MAX_SHRINKING_SECONDS`` is hypothesis's module constant for it)."""
    saved = _engine.MAX_SHRINKING_SECONDS
    _engine.MAX_SHRINKING_SECONDS = 10**12
    try:
        yield
    finally:
        _engine.MAX_SHRINKING_SECONDS = saved


def explore(
    scenario: Scenario,
    pattern: str,
    invariant: str,
    *,
    budget: int = 100,
    kinds: list[str] | None = None,
    max_faults: int = 3,
    seed: int = 0,
    database: Path | None = None,
    progress: Callable[[Try], None] | None = None,
    check_model: bool = False,
) -> Exploration:
    """Search fault schedules against ``pattern`` (a label or kind of the scenario) for a
    violation of ``invariant``; see the module docstring. ``check_model`` checks the model's own
    invariants during every run (:mod:`sim.kernel.always`):
    the first broken one stops the search with
    :class:`~sim.kernel.always.InvariantBroken`."""
    resolve(invariant)  # an unknown name fails before any run
    labels = scenario.pattern_names()
    index = (
        labels.index(pattern)
        if pattern in labels
        else [p.kind for p in scenario.patterns].index(pattern)
    )
    space = fault_space(scenario, index, kinds)
    found = Exploration(scenario, labels[index], invariant, space)
    if not space.targets:
        return found
    limit = 3 * budget
    last: dict[str, Any] = {}
    broken: list[InvariantBroken] = []
    seen: dict[str, dict[str, Any] | None] = {}

    def attempt(schedule: list[dict[str, Any]], load: float = 1.0) -> bool:
        name = f"{load}|{describe(schedule)}"
        if name not in seen:
            trial = scenario_with(scenario, index, schedule, load)
            try:
                history = _history(run_one(Task(trial, 0, 0, check=check_model)), trial)
            except InvariantBroken as error:  # a model bug: stop the search, not shrink
                broken.append(error)
                return False
            violations = check(invariant, history)
            tried = Try(len(found.tries) + 1, schedule, load, len(violations))
            found.tries.append(tried)
            if progress is not None:
                progress(tried)
            seen[name] = (
                {"scenario": trial, "violations": violations, "history": history}
                if violations
                else None
            )
        outcome = seen[name]
        if outcome is not None:
            last.update(outcome, schedule=schedule)
        return outcome is not None

    def property_(schedule: list[dict[str, Any]]) -> None:
        if broken:
            return
        name = f"1.0|{describe(schedule)}"
        if name not in seen and len(found.tries) >= limit:
            return  # the search's budget is spent: stop improving
        if attempt(schedule):
            raise _Violated(describe(schedule))

    test = given(schedules(space, max_faults))(property_)
    test = settings(
        max_examples=budget,
        database=DirectoryBasedExampleDatabase(str(database)) if database is not None else None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
    )(test)
    # what @seed does, but keeping the example database (@seed turns it off)
    test._hypothesis_internal_use_seed = seed  # type: ignore[attr-defined]
    # examples are kept per search: the scenario (defaults filled in), pattern, invariant, space
    key = json.dumps(
        [resolved_dict(scenario), labels[index], invariant, kinds, max_faults], sort_keys=True
    )
    test._hypothesis_internal_database_key = hashlib.sha256(key.encode()).digest()  # type: ignore[attr-defined]
    with contextlib.suppress(_Violated), _no_shrink_clock():
        test()
    if broken:
        raise broken[0]
    if not last:
        return found
    minimal = last["schedule"]
    for lighter in (0.5, 0.25):  # the same schedule under less load
        if not attempt(minimal, lighter):
            break
    found.counterexample = last["scenario"]
    found.violations = last["violations"]
    found.history = last["history"]
    return found
