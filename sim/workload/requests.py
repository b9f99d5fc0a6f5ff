"""The requests drawn before a run: open-loop arrivals and replayed traces, as arrays.

Every request of the open phases gets its operation, key and read target from its own stream
(``ops``, ``keys``, ``read-targets``), one vectorised draw per stream in arrival order, so every
pattern of one replication sees the same requests. A trace phase's rows bring their own
(:mod:`sim.workload.trace`), merged in by time; an ``insert`` (drawn or replayed) takes the
next fresh key in arrival order (:mod:`sim.workload.keys`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.load import Mix
from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.codes import DELETE, INSERT, READ, WRITE
from sim.kernel.rng import Streams
from sim.workload.arrivals import arrival_times
from sim.workload.keys import draw_keys
from sim.workload.trace import read_trace

__all__ = ["Requests", "draw_ops", "draw_requests"]


@dataclass(frozen=True)
class Requests:
    """The requests of one replication, one array entry per request, by arrival order."""

    times: np.ndarray
    ops: np.ndarray
    keys: np.ndarray
    targets: np.ndarray
    """Index into the read targets (the replicas, or the owner when there are none)."""
    sessions: np.ndarray | None = None
    """The client session of each request (``workload.sessions``), or None."""

    def __len__(self) -> int:
        return len(self.times)

    @property
    def inserts(self) -> int:
        """How many of them insert (and so took a fresh key)."""
        return int(np.count_nonzero(self.ops == INSERT))


def draw_ops(mix: Mix, draws: np.ndarray) -> np.ndarray:
    """Operation codes from uniforms on [0, 1): write, delete, insert, then read."""
    if mix.insert == 0:
        return np.where(
            draws < mix.write, WRITE, np.where(draws < mix.write + mix.delete, DELETE, READ)
        ).astype(np.int8)
    kept = mix.write + mix.delete
    return np.where(
        draws < mix.write,
        WRITE,
        np.where(draws < kept, DELETE, np.where(draws < kept + mix.insert, INSERT, READ)),
    ).astype(np.int8)


def draw_requests(workload: WorkloadConfig, data: DataConfig, streams: Streams) -> Requests:
    """Every request of the open phases: when, read or write, which key, which read target."""
    times = arrival_times(workload, streams)
    count = len(times)
    ops = draw_ops(workload.mix, streams.generator("ops").random(count))
    keys = draw_keys(data, count, streams.generator("keys"))
    targets_count = max(1, len(data.replicas))
    targets = streams.generator("read-targets").integers(0, targets_count, count)
    if any(phase.trace is not None for phase in workload.phases):
        times, ops, keys, targets = _with_traces(workload, data, streams, times, ops, keys, targets)
    inserting = ops == INSERT
    if inserting.any():
        keys[inserting] = data.keys + np.arange(int(inserting.sum()), dtype=np.int64)
    sessions = None
    if workload.sessions is not None:
        sessions = streams.generator("sessions").integers(0, workload.sessions, len(times))
    return Requests(times, ops, keys.astype(np.int64), targets.astype(np.int64), sessions)


def _with_traces(
    workload: WorkloadConfig,
    data: DataConfig,
    streams: Streams,
    *arrays: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The open requests and every trace phase's rows, merged by time (a tie keeps the open
    request first); a row without a target gets one from ``trace:read-targets``."""
    parts = [list(arrays)]
    start = 0.0
    for phase in workload.phases:
        if phase.trace is not None:
            trace = read_trace(phase.trace_path(), data, phase.time_scale, phase.duration)
            parts.append([start + trace.times, trace.ops, trace.keys, trace.targets])
        start += phase.duration
    times, ops, keys, targets = (np.concatenate(column) for column in zip(*parts, strict=True))
    order = np.argsort(times, kind="stable")
    times, ops, keys, targets = times[order], ops[order], keys[order], targets[order]
    unset = targets < 0
    drawn = streams.generator("trace:read-targets").integers(
        0, max(1, len(data.replicas)), int(unset.sum())
    )
    targets[unset] = drawn
    return times, ops.astype(np.int8), keys.astype(np.int64), targets.astype(np.int64)
