"""Running an experiment: every point of the scenario, every pattern, every replication.

The work is a list of tasks, one per (point, pattern, replication), each small and independent
(:class:`sim.runner.Task`); they run on an executor (:mod:`sim.executors`: this process, worker
processes, or a Dask cluster), opened once for the experiment, and each finished run is written
to the run folder's store at once (:mod:`sim.outputs.store`), so an interrupted experiment keeps
every finished run and ``resume`` runs only what is missing. The results do not depend on the
order runs finish in, on the executor or its number of workers, or on whether the experiment
was interrupted and resumed: every run depends only on its task.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sim.config.experiments import AdaptiveReplications
from sim.config.model import Scenario
from sim.executors import Executor, ExecutorSpec, opened, resolve
from sim.metrics.stats import mean_ci
from sim.outputs import Manifest, RunStore
from sim.results import Results
from sim.runner import RunResult, Task
from sim.scenario import Point, points

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
    """The pattern names to run (all, or those named, each once: naming one twice does not
    run it twice), checked against the scenario."""
    names = scenario.pattern_names()
    chosen = list(dict.fromkeys(patterns)) if patterns else names
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
    executor: str | ExecutorSpec | Executor | None = None,
    out: Path | None = None,
    resume: bool = False,
    progress: Callable[[Progress], None] | None = None,
    baseline: str | None = None,
    check: bool = False,
) -> Results:
    """Run every point, pattern and replication of ``scenario``; with ``out``, store each run
    as it finishes (and with ``resume``, keep the runs already stored there). Adaptive
    replications (``replications: {min, max, target}``) run in rounds until every point's
    intervals are narrow enough. ``baseline`` names the pattern the paired differences are
    taken against (every pair, without one). ``executor`` says where the runs run (a spec,
    see :func:`sim.executors.parse_executor`, or an open :class:`Executor`, left open);
    ``workers`` alone is ``local:workers`` (default: one process per core available).
    ``check`` checks the invariants during every run (:mod:`sim.kernel.always`): the first
    broken one stops the experiment with :class:`~sim.kernel.always.InvariantBroken`, the runs
    already stored kept."""
    chosen = chosen_patterns(scenario, patterns)
    where = resolve(executor, workers)
    if baseline is not None and baseline not in chosen:
        raise UnknownPatternError(
            f"the baseline {baseline!r} is not among the patterns run ({', '.join(chosen)})"
        )
    names = scenario.pattern_names()
    all_points = points(scenario)
    store = RunStore(out, Manifest.of(scenario, chosen)) if out is not None else None
    finished = store.begin(resume) if store is not None else {}
    runs = {key: run for key, run in finished.items() if key[1] in chosen}
    wanted = {p.index: _scenario(p).first_replications for p in all_points}
    resumed = len(runs)
    with opened(where) as pool:
        while True:
            tasks = [
                Task(
                    _scenario(point), names.index(name), replication, point.index, point.key, check
                )
                for point in all_points
                for name in chosen
                for replication in range(wanted[point.index])
                if (point.index, name, replication) not in runs
            ]
            total = len(chosen) * sum(wanted.values())
            done = total - len(tasks)
            if progress is not None:
                progress(Progress(done, total, resumed, None))
            for _, run in pool.run(tasks):
                if store is not None:
                    store.save(run)
                runs[(run.point, run.pattern, run.replication)] = run
                done += 1
                if progress is not None:
                    progress(Progress(done, total, resumed, run))
            grown = False
            for point in all_points:
                more = _replications_needed(_scenario(point), point.index, chosen, runs)
                if more > wanted[point.index]:
                    wanted[point.index] = more
                    grown = True
            if not grown:
                break
    kept = [run for key, run in runs.items() if key[2] < wanted[key[0]]]
    return Results.build(scenario, chosen, kept, baseline=baseline)


def _scenario(point: Point) -> Scenario:
    assert point.scenario is not None
    return point.scenario


def _replications_needed(
    scenario: Scenario, point: int, patterns: list[str], runs: dict[tuple[int, str, int], RunResult]
) -> int:
    """How many replications the point needs: the count as it is when fixed, or when every
    named metric's interval is within the target; otherwise what the current half-widths
    predict (at least one more, at most ``max``)."""
    plan = scenario.replications
    if not isinstance(plan, AdaptiveReplications):
        return plan
    have = min(sum(1 for key in runs if key[0] == point and key[1] == name) for name in patterns)
    if have >= plan.max:
        return have
    metrics = plan.metrics or [slo.metric for slo in scenario.slo] or ["latency_mean"]
    worst = 0.0
    for name in patterns:
        for metric in metrics:
            values = [
                runs[(point, name, r)].metrics.get(metric, math.nan)
                for r in range(have)
                if (point, name, r) in runs
            ]
            mean, low, high, n = mean_ci(values)
            if n < 2 or not math.isfinite(low):
                continue  # not measured, or "never": more replications cannot narrow it
            half = (high - low) / 2.0
            relative = 0.0 if half == 0.0 else (math.inf if mean == 0.0 else half / abs(mean))
            worst = max(worst, relative)
    if worst <= plan.target:
        return have
    predicted = have * (worst / plan.target) ** 2 if math.isfinite(worst) else plan.max
    return int(min(plan.max, max(have + 1, math.ceil(predicted))))
