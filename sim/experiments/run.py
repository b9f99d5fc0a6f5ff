"""Running an experiment: every point of the scenario, every pattern, every replication.

The work is a list of tasks, one per (point, pattern, replication), each small and independent
(:class:`sim.runner.Task`); they run on the executor of :func:`sim.runner.execute`, and each
finished run is written to the run folder's store at once (:mod:`sim.outputs.store`), so an
interrupted experiment keeps every finished run and ``resume`` runs only what is missing. The
results do not depend on the order runs finish in, on the number of workers, or on whether
the experiment was interrupted and resumed: every run depends only on its task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.config.model import Scenario
from sim.outputs import Manifest, RunStore
from sim.results import Results
from sim.runner import RunResult, Task, default_workers, execute
from sim.scenario import points

__all__ = ["Progress", "UnknownPatternError", "run_experiment"]


class UnknownPatternError(ValueError):
    """A pattern name that the scenario does not define."""


@dataclass(frozen=True)
class Progress:
    """How far an experiment is: ``done`` of ``total`` runs, the last one finished."""

    done: int
    total: int
    resumed: int
    """Runs found finished in the folder and not run again."""
    last: RunResult | None


def chosen_patterns(scenario: Scenario, patterns: Sequence[str] | None) -> list[str]:
    """The pattern names to run (all, or those named), checked against the scenario."""
    names = scenario.pattern_names()
    chosen = list(patterns) if patterns else names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise UnknownPatternError(
            f"no pattern called {', '.join(unknown)} in this scenario (it has {', '.join(names)})"
        )
    return chosen


def run_experiment(
    scenario: Scenario,
    *,
    patterns: Sequence[str] | None = None,
    workers: int | None = None,
    out: Path | None = None,
    resume: bool = False,
    progress: Callable[[Progress], None] | None = None,
) -> Results:
    """Run every point, pattern and replication of ``scenario``; with ``out``, store each run
    as it finishes (and with ``resume``, keep the runs already stored there)."""
    chosen = chosen_patterns(scenario, patterns)
    names = scenario.pattern_names()
    store = RunStore(out, Manifest.of(scenario, chosen)) if out is not None else None
    finished = store.begin(resume) if store is not None else {}
    tasks = []
    for point in points(scenario):
        at = point.scenario
        assert at is not None
        for name in chosen:
            for replication in range(at.replications):
                if (point.index, name, replication) not in finished:
                    tasks.append(Task(at, names.index(name), replication, point.index, point.key))
    runs = [
        run for key, run in finished.items() if key[1] in chosen and key[0] < len(points(scenario))
    ]
    total = len(runs) + len(tasks)
    if progress is not None:
        progress(Progress(len(runs), total, len(runs), None))
    count = default_workers() if workers is None else workers
    for _, run in execute(tasks, workers=min(count, max(len(tasks), 1))):
        if store is not None:
            store.save(run)
        runs.append(run)
        if progress is not None:
            progress(Progress(len(runs), total, total - len(tasks), run))
    return Results.build(scenario, chosen, runs)
