"""Runs: one (pattern, replication) on a fresh SimPy environment, and many on an executor.

A task is ``(scenario, pattern index, replication)`` and returns a :class:`RunResult` with the
run's frames and metrics. Each replication's random streams come from the scenario seed and
the replication number alone (see :mod:`sim.rng`), so results do not depend on the pattern,
on the order tasks run in, or on the number of worker processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_all_start_methods, get_context

import pandas as pd

from sim.config.model import Scenario
from sim.context import SimContext
from sim.faults import FaultInjector
from sim.metrics.consistency import propagation
from sim.metrics.requests import RequestLog
from sim.metrics.summarize import replication_metrics
from sim.patterns import model_class
from sim.workload import draw_requests, schedule_arrivals

__all__ = ["RunResult", "Task", "run_many", "run_one"]


@dataclass(frozen=True)
class Task:
    """One simulation to run."""

    scenario: Scenario
    pattern: int
    replication: int


@dataclass
class RunResult:
    """What one run returns: its metrics and tidy frames."""

    pattern: str
    replication: int
    metrics: dict[str, float]
    requests: pd.DataFrame
    propagation: pd.DataFrame
    faults: pd.DataFrame
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)


def run_one(task: Task) -> RunResult:
    """Simulate one pattern for one replication, through the load and the drain."""
    scenario = task.scenario
    spec = scenario.patterns[task.pattern]
    label = scenario.pattern_names()[task.pattern]
    ctx = SimContext.create(scenario.seed, task.replication)
    workload = scenario.workload
    load_end = workload.load_duration
    requests = draw_requests(workload, scenario.data, ctx.streams)
    log = RequestLog(requests, workload.timeout, list(scenario.services))
    model = model_class(spec.kind)(ctx, scenario, spec, log)
    schedule_arrivals(ctx.env, requests.times, model.arrive)
    FaultInjector(ctx, model, list(scenario.faults), heal_by=load_end).start()
    ctx.env.run(until=load_end + scenario.drain)
    log.close(ctx.env.now)
    frames = ctx.recorder.frames()
    commits, applies = frames.pop("commits"), frames.pop("applies")
    faults = frames.pop("faults")
    request_frame = log.frame()
    spread = propagation(commits, applies, model.replicas)
    metrics = replication_metrics(
        request_frame,
        spread,
        commits,
        applies,
        model.replicas,
        scenario.warmup,
        load_end,
        model.gauges(),
    )
    frames["commits"], frames["applies"] = commits, applies
    return RunResult(label, task.replication, metrics, request_frame, spread, faults, frames)


def run_many(
    tasks: Sequence[Task],
    workers: int = 1,
    on_result: Callable[[RunResult], None] | None = None,
) -> list[RunResult]:
    """Run tasks, in worker processes when ``workers > 1``; results come back in task order."""
    results: list[RunResult] = []
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            result = run_one(task)
            if on_result is not None:
                on_result(result)
            results.append(result)
        return results
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context(method)) as pool:
        for result in pool.map(run_one, tasks):
            if on_result is not None:
                on_result(result)
            results.append(result)
    return results


def default_workers() -> int:
    """Worker processes to use by default: the cores available."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
