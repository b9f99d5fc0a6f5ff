"""Open-loop load: arrival times, operations, keys and read targets, drawn up front.

The phases define a piecewise-linear arrival rate ``r(t)``. Arrival times are the inverse of
its integral ``Λ(t)`` at the points of a unit-rate process: exponential gaps for ``poisson``
(a non-homogeneous Poisson process) and gaps of exactly one for ``uniform`` (evenly spaced).
Because the draws are vectorised and come from their own streams (``arrivals``, ``ops``,
``keys``, ``read-targets``), every pattern of one replication sees the same requests.

Left out (for now): closed-loop clients with think time, bursts, diurnal shapes and trace
replay; keys are drawn independently per request (no sessions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import simpy

from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.codes import DELETE, OP_NAMES, READ, WRITE
from sim.kernel.rng import Streams

__all__ = [
    "DELETE",
    "OP_NAMES",
    "READ",
    "WRITE",
    "ZIPF_TABLE_KEYS",
    "Requests",
    "draw_requests",
    "schedule_arrivals",
    "zipf_ranks",
]

ZIPF_TABLE_KEYS = 1_000_000
"""Up to this many keys a zipf draw inverts a table of the cumulative weights (exact, 8 bytes
per key); beyond, it samples by rejection-inversion, in memory independent of the key count."""


def _h_integral(x: np.ndarray, s: float) -> np.ndarray:
    """∫ from 1 to x of t^-s dt, continuous in s (log x at s = 1)."""
    log_x = np.log(x)
    t = (1.0 - s) * log_x
    small = np.abs(t) < 1e-8
    return np.where(
        small,
        log_x * (1 + t / 2),
        np.expm1(np.where(small, 0.0, t)) / np.where(small, 1.0, 1.0 - s),
    )


def _h_integral_inverse(y: np.ndarray, s: float) -> np.ndarray:
    t = y * (1.0 - s)
    small = np.abs(t) < 1e-8
    safe = np.where(small, 0.0, t)
    return np.where(
        small,
        np.exp(y * (1 - t / 2)),
        np.exp(np.log1p(np.maximum(safe, -1 + 1e-300)) / np.where(small, 1.0, 1.0 - s)),
    )


def zipf_ranks(n: int, s: float, count: int, generator: np.random.Generator) -> np.ndarray:
    """``count`` ranks in 1..n with P(k) ∝ k^-s, by rejection-inversion (Hörmann and
    Derflinger, "Rejection-inversion to generate variates from monotone discrete
    distributions", 1996): invert the integral of the density's hat, accept when the point
    falls under the bar of its rank. About 1.1 uniforms per rank, whatever n."""
    out = np.empty(count, dtype=np.int64)
    top = float(_h_integral(np.array([n + 0.5]), s)[0])
    bottom = float(_h_integral(np.array([1.5]), s)[0]) - 1.0
    squeeze = 2.0 - float(_h_integral_inverse(_h_integral(np.array([2.5]), s) - 2.0**-s, s)[0])
    filled = 0
    while filled < count:
        want = count - filled
        u = top + generator.random(want + want // 8 + 16) * (bottom - top)
        x = _h_integral_inverse(u, s)
        k = np.clip(np.floor(x + 0.5), 1, n)
        accept = (k - x <= squeeze) | (u >= _h_integral(k + 0.5, s) - k**-s)
        found = k[accept].astype(np.int64)[:want]
        out[filled : filled + len(found)] = found
        filled += len(found)
    return out


@dataclass(frozen=True)
class Requests:
    """The requests of one replication, one array entry per request, by arrival order."""

    times: np.ndarray
    ops: np.ndarray
    keys: np.ndarray
    targets: np.ndarray
    """Index into the read targets (the replicas, or the owner when there are none)."""

    def __len__(self) -> int:
        return len(self.times)


def _cumulative_points(workload: WorkloadConfig, streams: Streams) -> np.ndarray:
    total = sum(
        (phase.rate + (phase.ramp_to if phase.ramp_to is not None else phase.rate))
        * phase.duration
        / 2
        for phase in workload.phases
    )
    if workload.arrivals == "uniform":
        return np.arange(1.0, np.floor(total) + 1.0)
    generator = streams.generator("arrivals")
    chunks: list[np.ndarray] = []
    reached = 0.0
    while reached <= total:
        size = max(1024, int((total - reached) * 1.05) + 64)
        chunk = reached + np.cumsum(generator.standard_exponential(size))
        chunks.append(chunk)
        reached = float(chunk[-1])
    points = np.concatenate(chunks)
    return points[points <= total]


def arrival_times(workload: WorkloadConfig, streams: Streams) -> np.ndarray:
    """Arrival times (seconds) over the phases."""
    points = _cumulative_points(workload, streams)
    times = np.empty_like(points)
    filled = np.zeros(len(points), dtype=bool)
    start, area = 0.0, 0.0
    for phase in workload.phases:
        r0 = phase.rate
        r1 = phase.ramp_to if phase.ramp_to is not None else r0
        span = (r0 + r1) * phase.duration / 2
        inside = (points > area) & (points <= area + span) & ~filled
        c = points[inside] - area
        a = (r1 - r0) / (2 * phase.duration)
        # stable root of a s^2 + r0 s - c = 0
        s = 2 * c / (r0 + np.sqrt(np.maximum(r0 * r0 + 4 * a * c, 0.0)))
        times[inside] = start + np.minimum(s, phase.duration)
        filled |= inside
        start += phase.duration
        area += span
    return times[filled]


def draw_requests(workload: WorkloadConfig, data: DataConfig, streams: Streams) -> Requests:
    """Every request of one replication: when, read or write, which key, which read target."""
    times = arrival_times(workload, streams)
    count = len(times)
    mix = workload.mix
    draws = streams.generator("ops").random(count)
    ops = np.where(
        draws < mix.write, WRITE, np.where(draws < mix.write + mix.delete, DELETE, READ)
    ).astype(np.int8)
    if data.key_distribution == "uniform":
        keys = streams.generator("keys").integers(0, data.keys, count)
    elif data.keys <= ZIPF_TABLE_KEYS:
        ranks = np.arange(1, data.keys + 1, dtype=float)
        weights = ranks**-data.key_distribution.zipf
        cdf = np.cumsum(weights) / weights.sum()
        keys = np.searchsorted(cdf, streams.generator("keys").random(count), side="right")
        keys = np.minimum(keys, data.keys - 1)
    else:
        keys = (
            zipf_ranks(data.keys, data.key_distribution.zipf, count, streams.generator("keys")) - 1
        )
    targets_count = max(1, len(data.replicas))
    targets = streams.generator("read-targets").integers(0, targets_count, count)
    return Requests(times, ops, keys.astype(np.int64), targets.astype(np.int64))


def schedule_arrivals(
    env: simpy.Environment, times: np.ndarray, arrive: Callable[[int], None]
) -> None:
    """Call ``arrive(i)`` at ``times[i]`` for every request, one pending event at a time."""
    values = times.tolist()
    count = len(values)
    if count == 0:
        return

    def fire(index: int) -> None:
        arrive(index)
        following = index + 1
        if following < count:
            env.timeout(max(0.0, values[following] - env.now)).callbacks.append(
                lambda _e: fire(following)
            )

    env.timeout(values[0]).callbacks.append(lambda _e: fire(0))
