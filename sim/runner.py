"""Runs: one (pattern, replication) on a fresh SimPy environment (many: :mod:`sim.executors`).

A task is ``(scenario, pattern index, replication)`` and returns a :class:`RunResult` with the
run's frames and metrics. Each replication's random streams come from the scenario seed and
the replication number alone (see :mod:`sim.kernel.rng`), so results do not depend on the
pattern, on the order tasks run in, or on the number of worker processes.

One run constructs the pattern model, elaborates its topology (which resolves every fault
target: a fault that reaches nothing is listed in :attr:`RunResult.not_applicable`), starts
its components, schedules the arrivals (and starts the closed phases' users, telling them
of every answer through the request log) and the faults, and runs through the load and the
drain. At the end it checks the model: a slot leaked by a job (:mod:`sim.infra.service`) or a
gauge the model reports without declaring it (:mod:`sim.metrics.catalog`) is a
:class:`ModelError`. With invariant checks on (:attr:`Task.check`, or the environment variable
of :mod:`sim.kernel.always`) the components check their state as the run goes, and the first
broken invariant stops the run with :class:`~sim.kernel.always.InvariantBroken`, naming the
pattern.
"""

from __future__ import annotations

import gc
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.config.data import DataConfig
from sim.config.model import Drain, Scenario
from sim.faults import FaultInjector
from sim.infra.occupancy import Meter
from sim.kernel.always import InvariantBroken, requested
from sim.kernel.collector import collector_out_of_the_way
from sim.kernel.context import SimContext
from sim.kernel.draws import RequestDraws
from sim.kernel.recorder import Recorder
from sim.metrics.compensation import kept_commits
from sim.metrics.consistency import propagation
from sim.metrics.gauges import attempt_metrics, occupancy_metrics, wait_metrics
from sim.metrics.pairs import Pairs, as_pairs
from sim.metrics.requests import RequestLog
from sim.metrics.summarize import copy_table, replication_metrics
from sim.patterns import PatternModel
from sim.patterns.contract import ModelError, checked_gauges
from sim.patterns.entities import EntityModels, build_model
from sim.workload import ClosedUsers, Requests, draw_requests, schedule_arrivals

__all__ = [
    "ModelError",
    "RunResult",
    "Task",
    "not_applicable",
    "run_one",
]


@dataclass(frozen=True)
class Task:
    """One simulation to run: a pattern of a scenario (at a sweep point) for one replication."""

    scenario: Scenario
    pattern: int
    replication: int
    point: int = 0
    """The index of the sweep point (0 without a sweep)."""
    stream: int = 0
    """The key of the point's random streams (:mod:`sim.scenario.points`)."""
    check: bool = False
    """Check the invariants during the run (:mod:`sim.kernel.always`); they change no figure."""


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
    not_applicable: list[str] = field(default_factory=list)
    """The faults (``kind target``) that reach no component of this pattern."""
    point: int = 0
    """The index of the sweep point it ran at."""


def run_one(task: Task) -> RunResult:
    """Simulate one pattern for one replication, through the load and the drain (raises
    :class:`~sim.kernel.always.InvariantBroken`, with checks on, at a broken invariant)."""
    label = task.scenario.pattern_names()[task.pattern]
    try:
        return _run_one(task, label)
    except InvariantBroken as broken:
        raise broken.named(label) from None


@dataclass
class _Simulated:
    """What the metrics need from a finished run, once its model is gone: the recorder and the
    request log until the frames are built from them (:func:`_collected`)."""

    recorder: Recorder | None
    log: RequestLog | None
    gauges: dict[str, float]
    frames: dict[str, pd.DataFrame]
    drain: tuple[float, bool]
    replicas: list[str]
    scopes: list[tuple[int, int]] | None
    pending: dict[int, Pairs]
    counts: dict[str, float]
    occupancy: dict[str, tuple[float, float, float]]
    skipped: list[str]
    requests: pd.DataFrame = field(default_factory=pd.DataFrame)


def _run_one(task: Task, label: str) -> RunResult:
    with collector_out_of_the_way():
        done = _simulate(task, label)
        # the model and its topology are garbage now, held in cycles (the clock's queue, the
        # components' callbacks): free them before the frames are built, so that the frames
        # and the metrics reuse the memory the model's state held
        gc.collect()
        _collected(done)
    return _summarised(task, label, done)


def _simulate(task: Task, label: str) -> _Simulated:
    scenario = task.scenario
    spec = scenario.patterns[task.pattern]
    ctx = SimContext.create(
        scenario.seed, task.replication, task.stream, check=task.check or requested()
    )
    workload = scenario.workload
    load_end = workload.load_duration
    requests = draw_requests(workload, scenario.data, ctx.streams)
    log = RequestLog(requests, workload.timeout, list(scenario.services), ctx.always)
    log.session_base = workload.sessions or 0
    model = build_model(ctx, scenario, spec, log)
    topology = model.elaborate()
    injector = FaultInjector(ctx, topology, list(scenario.faults), heal_by=load_end)
    model.start()
    schedule_arrivals(ctx.env, requests.times, model.arrive)
    if workload.closed:
        _start_users(ctx, scenario, requests, log, model)
    injector.start()
    meter = _meter(ctx, model)
    meter.schedule(scenario.warmup, load_end)
    drain = _run_through(ctx, model, load_end, scenario.drain, meter.mark)
    log.close(ctx.env.now)
    ctx.shared[RequestDraws.SHARED].release()  # the run is over: its draws are not needed
    gauges = checked_gauges(model, label)
    occupancy, tables = meter.frames(scenario.warmup, load_end)
    services = model.all_services()
    throttled = sum(db.throttle.throttled for db in model.databases.values() if db.throttle)
    counts = {
        "throttled": float(throttled + sum(service.throttled for service in services)),
        "shed": float(sum(service.shed for service in services)),
    }
    skipped = [f"{p.fault.kind} {p.fault.target}" for p in injector.not_applicable]
    pending = {copy: as_pairs(pairs) for copy, pairs in model.pending_versions().items()}
    scopes, replicas = model.copy_keys, list(model.replicas)
    return _Simulated(
        ctx.recorder,
        log,
        gauges,
        tables,
        drain,
        replicas,
        scopes,
        pending,
        counts,
        occupancy,
        skipped,
    )


def _collected(run: _Simulated) -> None:
    """Build the run's frames: the recorder's tables and the request frame, then let go of
    the recorder (its label codes) and release the request log's columns (no second copy
    while the metrics run)."""
    assert run.recorder is not None and run.log is not None
    run.frames = {**run.recorder.frames(), **run.frames}
    run.requests = run.log.frame()
    run.log.release()
    run.recorder = run.log = None


def _summarised(task: Task, label: str, done: _Simulated) -> RunResult:
    scenario = task.scenario
    frames, replicas, request_frame = done.frames, done.replicas, done.requests
    commits, applies = frames.pop("commits"), frames.pop("applies")
    undone, reverts = frames.get("undone"), frames.get("reverts")  # a saga's compensations
    faults = frames.pop("faults")
    scopes, pending, drain = done.scopes, done.pending, done.drain
    load_end = scenario.workload.load_duration
    spread = propagation(kept_commits(commits, undone), applies, replicas, scopes)
    copies = copy_table(
        spread,
        commits,
        applies,
        replicas,
        scenario.warmup,
        pending,
        undone=undone,
        scopes=scopes,
    )
    metrics = replication_metrics(
        request_frame,
        spread,
        commits,
        applies,
        replicas,
        scenario.warmup,
        load_end,
        done.gauges,
        copies,
        drain,
        undone=undone,
        reverts=reverts,
        scopes=scopes,
    )
    metrics.update(done.counts)
    metrics.update(wait_metrics(request_frame, scenario.warmup))
    metrics.update(
        attempt_metrics(frames.get("http_calls"), frames.get("broker_produce"), scenario.warmup)
    )
    metrics.update(occupancy_metrics(done.occupancy))
    frames["commits"], frames["applies"], frames["copies"] = commits, applies, copies
    frames["pending"] = pd.DataFrame(
        {
            "replica": np.concatenate(
                [np.zeros(0, np.int64)] + [np.full(len(p), c, np.int64) for c, p in pending.items()]
            ),
            "key": np.concatenate([np.zeros(0, np.int64)] + [p[:, 0] for p in pending.values()]),
            "version": np.concatenate(
                [np.zeros(0, np.int64)] + [p[:, 1] for p in pending.values()]
            ),
        }
    )
    return RunResult(
        label,
        task.replication,
        metrics,
        request_frame,
        spread,
        faults,
        frames,
        done.skipped,
        task.point,
    )


def _start_users(
    ctx: SimContext,
    scenario: Scenario,
    requests: Requests,
    log: RequestLog,
    model: PatternModel | EntityModels,
) -> None:
    """Start the closed phases' users: each request they issue is logged, then handed to the
    model; the log tells them of each answer."""
    env = ctx.env
    data = scenario.data
    assert isinstance(data, DataConfig)  # closed phases need one entity (data_problems)
    users = ClosedUsers(env, scenario.workload, data, ctx.streams, data.keys + requests.inserts)
    log.on_answer = users.answered

    def add(op: int, key: int, target: int, ident: tuple[int, int, int]) -> int:
        return log.add(env.now, op, key, target, ident)

    users.start(add, model.arrive)


def not_applicable(scenario: Scenario) -> dict[int, list[str]]:
    """Per fault of the scenario (by index), the patterns it reaches no component of: each
    pattern's model is built and elaborated, without running."""
    found: dict[int, list[str]] = {}
    empty = Requests(
        np.zeros(0), np.zeros(0, np.int8), np.zeros(0, np.int64), np.zeros(0, np.int64)
    )
    for index, spec in enumerate(scenario.patterns):
        ctx = SimContext.create(scenario.seed)
        log = RequestLog(empty, scenario.workload.timeout, list(scenario.services))
        model = build_model(ctx, scenario, spec, log)
        injector = FaultInjector(
            ctx, model.elaborate(), list(scenario.faults), scenario.workload.load_duration
        )
        for planned in injector.not_applicable:
            found.setdefault(planned.index, []).append(scenario.pattern_names()[index])
    return found


def _meter(ctx: SimContext, model: PatternModel | EntityModels) -> Meter:
    """The occupancy meter of the model's services and databases, named ``service:X`` and
    ``db:X`` (:mod:`sim.infra.occupancy`)."""
    services, databases = model.occupied()
    return Meter(
        ctx.env,
        {
            **{f"service:{name}": group for name, group in services.items()},
            **{f"db:{name}": group for name, group in databases.items()},
        },
    )


def _run_through(
    ctx: SimContext,
    model: PatternModel | EntityModels,
    load_end: float,
    drain: Drain | float,
    at_load_end: Callable[[], None],
) -> tuple[float, bool]:
    """Run the load, then ``at_load_end()``, then the drain; returns (how long the drain ran,
    whether it was cut at its cap before the system was quiet)."""
    env = ctx.env
    env.run(until=load_end)
    at_load_end()
    if not isinstance(drain, Drain):
        if drain > 0:
            env.run(until=load_end + drain)
        return drain, False
    cap = load_end + drain.max
    quiet = model.quiet()
    while not quiet and env.now < cap:
        env.run(until=min(cap, env.now + drain.check))
        quiet = model.quiet()
    return env.now - load_end, not quiet
