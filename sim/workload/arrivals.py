"""When open-loop requests arrive: the inverse of the integrated rate at unit-rate points.

The open phases define an arrival rate ``r(t)``: linear within a phase (``rate`` ramping to
``ramp_to``), times ``1 + amplitude × sin(2π s / period)`` with a ``diurnal`` shape, plus the
``spike``'s extra rate during its window (``s`` the time since the phase began). Arrival times
are the inverse of its integral ``Λ(t)`` at the points of a unit-rate process: exponential
gaps for ``poisson`` (an exact non-homogeneous Poisson process, no thinning) and gaps of
exactly one for ``uniform``. A phase without a shape inverts its quadratic in closed form; a
shaped phase inverts its closed-form integral by bisection to the last bit of a double, so a
shape adds no draw and scenarios without shapes keep their arrivals exactly. Closed and trace
phases have no rate here: their requests come from :mod:`sim.workload.closed` and
:mod:`sim.workload.trace`.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import simpy

from sim.config.sections import Phase, WorkloadConfig
from sim.kernel.rng import Streams
from sim.kernel.schedule import NORMAL

__all__ = ["arrival_times", "phase_area", "schedule_arrivals"]

_BISECTIONS = 64
"""Halvings of a phase's duration: past 2^-52 of it the bracket no longer shrinks."""


def _shaped_integral(phase: Phase, s: np.ndarray) -> np.ndarray:
    """``∫₀ˢ r`` for a phase with shapes, in closed form."""
    r0, r1, d = phase.start_rate, phase.end_rate, phase.duration
    k = (r1 - r0) / d
    total = r0 * s + k * s * s / 2
    if phase.diurnal is not None:
        w = 2 * math.pi / phase.diurnal.period
        cos, sin = np.cos(w * s), np.sin(w * s)
        # ∫ (r0 + k x) sin(w x) dx from 0 to s
        total = total + phase.diurnal.amplitude * (
            r0 * (1 - cos) / w + k * (sin / (w * w) - s * cos / w)
        )
    if phase.spike is not None:
        spike = phase.spike
        total = total + spike.rate * np.clip(s - spike.start, 0.0, spike.duration)
    return np.asarray(total, dtype=float)


def phase_area(phase: Phase) -> float:
    """Expected arrivals over the phase: ``∫ r`` over its duration."""
    if not phase.shaped:
        return (phase.start_rate + phase.end_rate) * phase.duration / 2
    return float(_shaped_integral(phase, np.array([phase.duration]))[0])


def _invert_shaped(phase: Phase, c: np.ndarray) -> np.ndarray:
    """The times ``s`` in the phase with ``∫₀ˢ r = c``, by bisection (the integral does not
    decrease, so the bracket always holds the root)."""
    low = np.zeros_like(c)
    high = np.full_like(c, phase.duration)
    for _ in range(_BISECTIONS):
        middle = (low + high) / 2
        below = _shaped_integral(phase, middle) < c
        low = np.where(below, middle, low)
        high = np.where(below, high, middle)
    return high


def _cumulative_points(workload: WorkloadConfig, streams: Streams) -> np.ndarray:
    total = sum(phase_area(phase) for phase in workload.phases)
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
    """Arrival times (seconds) over the open phases."""
    points = _cumulative_points(workload, streams)
    times = np.empty_like(points)
    filled = np.zeros(len(points), dtype=bool)
    start, area = 0.0, 0.0
    for phase in workload.phases:
        span = phase_area(phase)
        inside = (points > area) & (points <= area + span) & ~filled
        c = points[inside] - area
        if phase.shaped:
            s = _invert_shaped(phase, c)
        else:
            r0, r1 = phase.start_rate, phase.end_rate
            a = (r1 - r0) / (2 * phase.duration)
            # stable root of a s^2 + r0 s - c = 0
            s = 2 * c / (r0 + np.sqrt(np.maximum(r0 * r0 + 4 * a * c, 0.0)))
        times[inside] = start + np.minimum(s, phase.duration)
        filled |= inside
        start += phase.duration
        area += span
    return times[filled]


class _Arrivals:
    """The one pending arrival: a timer (:class:`~sim.kernel.schedule.Timer`'s protocol) that
    calls ``arrive(i)`` and puts itself back in the event queue for request ``i + 1``."""

    __slots__ = ("_arrive", "_count", "_env", "_next", "_values", "callbacks")
    _ok = True

    def __init__(
        self, env: simpy.Environment, values: memoryview, arrive: Callable[[int], None]
    ) -> None:
        self._env = env
        self._values = values
        self._count = len(values)
        self._arrive = arrive
        self._next = 0
        self.callbacks: tuple[Callable[[_Arrivals], None], ...] | None = _AGAIN

    def _fire(self) -> None:
        index = self._next
        self._arrive(index)
        following = index + 1
        if following < self._count:
            self._next = following
            env = self._env
            self.callbacks = _AGAIN
            delay = self._values[following] - env.now
            env.schedule(self, NORMAL, delay if delay > 0.0 else 0.0)  # type: ignore[arg-type]


_AGAIN = (_Arrivals._fire,)


def schedule_arrivals(
    env: simpy.Environment, times: np.ndarray, arrive: Callable[[int], None]
) -> None:
    """Call ``arrive(i)`` at ``times[i]`` for every request, one pending event at a time (the
    next arrival is scheduled once the last has been handed over, so the order of events is
    that of a ``Timeout`` per request; none is made)."""
    if len(times) == 0:
        return
    values = np.ascontiguousarray(times, dtype=np.float64).data.toreadonly()
    env.schedule(_Arrivals(env, values, arrive), NORMAL, values[0])  # type: ignore[arg-type]
