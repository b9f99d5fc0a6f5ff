"""The requests drawn before a run: open-loop arrivals and replayed traces, as arrays.

Every request of the open phases gets its operation, key and read target from its own stream
(``ops``, ``keys``, ``read-targets``), one vectorised draw per stream in arrival order, so every
pattern of one replication sees the same requests. A trace phase's rows bring their own
(:mod:`sim.workload.trace`), merged in by time; an ``insert`` (drawn or replayed) takes the
next fresh key in arrival order (:mod:`sim.workload.keys`). With several entities
(:class:`~sim.config.data.EntitiesConfig`) a request first draws its entity by share, then its
key in that entity's range and its read target among that entity's copies
(:func:`draw_entity_keys`); the single-entity form draws nothing more.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config.load import Mix
from sim.config.sections import DataConfig, EntitiesConfig, WorkloadConfig
from sim.kernel.codes import DELETE, INSERT, READ, WRITE
from sim.kernel.rng import Streams
from sim.workload.arrivals import arrival_times
from sim.workload.keys import draw_keys
from sim.workload.trace import read_trace

__all__ = ["Requests", "draw_entity_keys", "draw_ops", "draw_requests"]


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


def draw_requests(
    workload: WorkloadConfig, data: DataConfig | EntitiesConfig, streams: Streams
) -> Requests:
    """Every request of the open phases: when, read or write, which key, which read target."""
    times = arrival_times(workload, streams)
    count = len(times)
    ops = draw_ops(workload.mix, streams.generator("ops").random(count))
    if not isinstance(data, DataConfig):
        keys, targets = draw_entity_keys(data, count, streams)
        return Requests(times, ops, keys, targets, _sessions(workload, streams, count))
    keys = draw_keys(data, count, streams.generator("keys"))
    targets_count = max(1, len(data.replicas))
    targets = streams.generator("read-targets").integers(0, targets_count, count)
    if any(phase.trace is not None for phase in workload.phases):
        times, ops, keys, targets = _with_traces(workload, data, streams, times, ops, keys, targets)
    inserting = ops == INSERT
    if inserting.any():
        keys[inserting] = data.keys + np.arange(int(inserting.sum()), dtype=np.int64)
    sessions = _sessions(workload, streams, len(times))
    return Requests(times, ops, keys.astype(np.int64), targets.astype(np.int64), sessions)


def _sessions(workload: WorkloadConfig, streams: Streams, count: int) -> np.ndarray | None:
    if workload.sessions is None:
        return None
    return streams.generator("sessions").integers(0, workload.sessions, count)


def draw_entity_keys(
    data: EntitiesConfig, count: int, streams: Streams
) -> tuple[np.ndarray, np.ndarray]:
    """The keys and read targets of ``count`` requests over several entities: each request's
    entity by share (stream ``entities``), then its key in that entity's key space (stream
    ``keys:ENTITY``, the entity's own distribution, shifted to its global range) and its read
    target among that entity's copies (``read-targets``). One entity draws as the
    single-entity form does (no entity, its keys from ``keys``), so the two forms agree."""
    entities = data.entity_list()
    if len(entities) == 1:
        only = entities[0].data
        keys = draw_keys(only, count, streams.generator("keys"))
        targets = streams.generator("read-targets").integers(0, max(1, len(only.replicas)), count)
        return keys.astype(np.int64), targets.astype(np.int64)
    bounds = np.cumsum([entity.share for entity in entities])
    which = np.minimum(
        np.searchsorted(bounds, streams.generator("entities").random(count), side="right"),
        len(entities) - 1,
    )
    keys = np.empty(count, dtype=np.int64)
    for index, entity in enumerate(entities):
        mine = which == index
        drawn = draw_keys(entity.data, int(mine.sum()), streams.generator(f"keys:{entity.name}"))
        keys[mine] = entity.first_key + drawn
    copies = np.array([max(1, len(entity.data.replicas)) for entity in entities])
    targets = streams.generator("read-targets").integers(0, copies[which]).astype(np.int64)
    return keys, targets


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
