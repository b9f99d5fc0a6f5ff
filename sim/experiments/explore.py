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

The budget can be shared among several independent searches (``searches``), each with its
own seed (:func:`search_seed`; the first keeps the exploration's) and its own share of the
schedules; they run at once on an executor (:mod:`sim.executors`), each search a call of
:func:`search` somewhere, and the counterexample is the smallest they found: the fewest faults,
then the lightest load, then the first search. A search is a chain of steps, each depending on
the last one's outcome, so one search cannot be spread out; many can.

Deterministic for a given seed and number of searches, on any executor (hypothesis draws from
the search's seed; every simulation is seeded by the scenario). With a database folder,
hypothesis keeps the examples each search found failing there (under a key of its own) and
replays them first, so a second exploration starts from the last counterexample; with searches
on other machines the folder must be on a file system they share. A search's budget bounds the
schedules it generates; shrinking may run up to ``2 × budget`` more, then stops improving
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
from sim.executors import Executor, ExecutorSpec, opened
from sim.experiments.schedules import (
    FaultSpace,
    describe,
    fault_space,
    scenario_with,
    schedules,
    with_pattern,
)
from sim.kernel.always import InvariantBroken
from sim.metrics.invariants import History, Violation, check, timeline
from sim.metrics.invariants import resolve as resolve_invariant
from sim.runner import RunResult, Task, run_one
from sim.scenario import resolved_dict

__all__ = [
    "Exploration",
    "Search",
    "Searched",
    "Try",
    "budgets",
    "explore",
    "scenario_with",
    "search",
    "search_seed",
    "smallest",
    "with_pattern",
]


@dataclass(frozen=True)
class Try:
    """One schedule the search ran."""

    number: int
    schedule: list[dict[str, Any]]
    load: float
    """Share of the scenario's load it ran under."""
    violations: int
    search: int = 1
    """The search that ran it (from 1); ``number`` counts within that search."""


@dataclass
class Exploration:
    """What a search found."""

    scenario: Scenario
    pattern: str
    invariant: str
    space: FaultSpace
    searches: int = 1
    """Independent searches that shared the budget."""
    tries: list[Try] = field(default_factory=list)
    counterexample: Scenario | None = None
    """The minimal scenario that violates the invariant (None: none found in the budget)."""
    violations: list[Violation] = field(default_factory=list)
    history: History | None = None
    found_by: int | None = None
    """The search (from 1) whose counterexample this is."""

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
                (t.search, t.number, t.load, len(t.schedule), describe(t.schedule), t.violations)
                for t in self.tries
            ],
            columns=["search", "try", "load", "faults", "schedule", "violations"],
        )


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


@dataclass(frozen=True)
class Search:
    """One search of an exploration: everything it needs, so it can run anywhere."""

    scenario: Scenario
    pattern: int
    invariant: str
    kinds: list[str] | None
    max_faults: int
    budget: int
    seed: int
    """Its own seed (:func:`search_seed`)."""
    number: int = 1
    database: Path | None = None
    check_model: bool = False


@dataclass
class Searched:
    """What one search found: its tries, and its smallest violation (None: none)."""

    number: int
    tries: list[Try]
    minimal: dict[str, Any] | None = None
    """The schedule, load, scenario, violations and history of its counterexample."""
    broken: InvariantBroken | None = None


def search_seed(seed: int, number: int) -> int:
    """The seed of search ``number`` (from 1) of an exploration seeded ``seed``: the seed
    itself for the first, a hash of both for the others."""
    if number == 1:
        return seed
    digest = hashlib.sha256(f"patternsim explore {seed} search {number}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def budgets(budget: int, searches: int) -> list[int]:
    """``budget`` schedules shared out among ``searches`` searches, the first ones taking
    the remainder."""
    if not 1 <= searches <= budget:
        raise ValueError(
            f"{searches} searches need a budget of at least {searches} schedules (one each); "
            f"the budget is {budget}"
        )
    share, rest = divmod(budget, searches)
    return [share + (1 if k < rest else 0) for k in range(searches)]


def search(job: Search, progress: Callable[[Try], None] | None = None) -> Searched:
    """Run one search (see the module docstring); ``progress`` is told of every try."""
    scenario, index, invariant = job.scenario, job.pattern, job.invariant
    space = fault_space(scenario, index, job.kinds)
    found = Searched(job.number, [])
    if not space.targets:
        return found
    limit = 3 * job.budget
    last: dict[str, Any] = {}
    seen: dict[str, dict[str, Any] | None] = {}

    def attempt(schedule: list[dict[str, Any]], load: float = 1.0) -> bool:
        name = f"{load}|{describe(schedule)}"
        if name not in seen:
            trial = scenario_with(scenario, index, schedule, load)
            try:
                history = _history(run_one(Task(trial, 0, 0, check=job.check_model)), trial)
            except InvariantBroken as error:  # a model bug: stop the search, not shrink
                found.broken = error
                return False
            violations = check(invariant, history)
            tried = Try(len(found.tries) + 1, schedule, load, len(violations), job.number)
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
            last.update(outcome, schedule=schedule, load=load)
        return outcome is not None

    def property_(schedule: list[dict[str, Any]]) -> None:
        if found.broken is not None:
            return
        name = f"1.0|{describe(schedule)}"
        if name not in seen and len(found.tries) >= limit:
            return  # the search's budget is spent: stop improving
        if attempt(schedule):
            raise _Violated(describe(schedule))

    database = job.database
    test = given(schedules(space, job.max_faults))(property_)
    test = settings(
        max_examples=job.budget,
        database=DirectoryBasedExampleDatabase(str(database)) if database is not None else None,
        deadline=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
        report_multiple_bugs=False,
        print_blob=False,
    )(test)
    # what @seed does, but keeping the example database (@seed turns it off)
    test._hypothesis_internal_use_seed = job.seed  # type: ignore[attr-defined]
    # examples are kept per search: the scenario (defaults filled in), pattern, invariant, space
    label = scenario.pattern_names()[index]
    key = json.dumps(
        [resolved_dict(scenario), label, invariant, job.kinds, job.max_faults], sort_keys=True
    )
    if job.number > 1:
        key += f" search {job.number}"
    test._hypothesis_internal_database_key = hashlib.sha256(key.encode()).digest()  # type: ignore[attr-defined]
    with contextlib.suppress(_Violated), _no_shrink_clock():
        test()
    if found.broken is not None or not last:
        return found
    minimal = last["schedule"]
    for lighter in (0.5, 0.25):  # the same schedule under less load
        if not attempt(minimal, lighter):
            break
    found.minimal = dict(last)
    return found


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
    searches: int = 1,
    executor: str | ExecutorSpec | Executor | None = None,
    workers: int | None = None,
) -> Exploration:
    """Search fault schedules against ``pattern`` (a label or kind of the scenario) for a
    violation of ``invariant``; see the module docstring. ``searches`` independent searches
    share the budget and run on ``executor`` (``workers`` alone: ``local:workers``; one search
    runs in this process). ``check_model`` checks the model's own invariants during every run
    (:mod:`sim.kernel.always`): the first broken one stops the search with
    :class:`~sim.kernel.always.InvariantBroken`."""
    resolve_invariant(invariant)  # an unknown name fails before any run
    shares = budgets(budget, searches)
    labels = scenario.pattern_names()
    index = (
        labels.index(pattern)
        if pattern in labels
        else [p.kind for p in scenario.patterns].index(pattern)
    )
    space = fault_space(scenario, index, kinds)
    found = Exploration(scenario, labels[index], invariant, space, searches=searches)
    if not space.targets:
        return found
    jobs = [
        Search(
            scenario,
            index,
            invariant,
            kinds,
            max_faults,
            share,
            search_seed(seed, number),
            number,
            database,
            check_model,
        )
        for number, share in enumerate(shares, 1)
    ]
    results = _run_searches(jobs, progress, executor, workers)
    for result in results:
        found.tries.extend(result.tries)
    broken = [result.broken for result in results if result.broken is not None]
    if broken:
        raise broken[0]
    best = smallest(results)
    if best is not None:
        assert best.minimal is not None
        found.counterexample = best.minimal["scenario"]
        found.violations = best.minimal["violations"]
        found.history = best.minimal["history"]
        found.found_by = best.number
    return found


def smallest(results: list[Searched]) -> Searched | None:
    """The search whose counterexample is the smallest: the fewest faults, then the lightest
    load, then the first search (None: no search found one)."""
    found = [(r.minimal, r) for r in results if r.minimal is not None]
    if not found:
        return None
    return min(found, key=lambda m: (len(m[0]["schedule"]), m[0]["load"], m[1].number))[1]


def _run_searches(
    jobs: list[Search],
    progress: Callable[[Try], None] | None,
    executor: str | ExecutorSpec | Executor | None,
    workers: int | None,
) -> list[Searched]:
    """Every search's result, in search order; ``progress`` hears of each try as it is made
    (searches in this process) or of a search's tries when it ends (searches elsewhere)."""
    if len(jobs) == 1:
        return [search(jobs[0], progress)]
    with opened(executor, workers) as pool:
        if pool.in_process:
            results: list[Searched] = []
            for job in jobs:  # up to a broken model invariant, which ends the exploration
                results.append(search(job, progress))
                if results[-1].broken is not None:
                    break
            return results
        done: dict[int, Searched] = {}
        for index, result in pool.map(search, jobs):
            done[index] = result
            for tried in result.tries if progress is not None else ():
                progress(tried)  # type: ignore[misc]
    return [done[index] for index in range(len(jobs))]
