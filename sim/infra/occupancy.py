"""Occupancy of a server with slots: exact time integrals of busy slots and waiting requests.

A service instance (its concurrency slots, :mod:`sim.infra.service`) and a database (its
connection pool, :mod:`sim.infra.database`) change occupancy only when a request arrives,
takes a slot, leaves one, or is dropped. :class:`Occupied` integrates the two step functions
— slots busy, requests waiting for one — exactly: just before every change the server adds
``count × (now − time of the last change)`` to each area, a few float operations and no list
per event. :meth:`Occupied.mark` closes the integrals at the current time and keeps them, so
the time average over any window between two marks is the difference of the areas divided by
the window's length (the runner marks the end of the warm-up, the end of the load and the
boundaries of the report's time series, :class:`Meter`, :func:`window_average`).

A slot is busy from the moment a request takes it until the request's work ends (its CPU work
and everything it waits for while holding the slot, as in a thread-per-request server); a slot
handed straight from a leaving request to the next waiting one stays busy. A request that is
refused or shed never waits.

Left out: what a request does while it holds its slot (CPU or waiting on a dependency is all
one "busy").
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd
import simpy

from sim.metrics.gauges import OCCUPANCY

__all__ = ["SERIES_BINS", "Mark", "Meter", "Occupied", "window_average"]

SERIES_BINS = 100
"""Bins of the load in a run's occupancy time series."""

Mark = tuple[float, float, float]
"""``(time, busy-slot seconds, waiting-request seconds)`` since the start of the run."""


class Occupied:
    """Mixin of a server with ``slots``: the areas under its busy and waiting counts.

    The server calls :meth:`_tally` with its counts *before* each change of them;
    :meth:`occupancy` says what the counts are now (for :meth:`mark`)."""

    slots: int
    _last: float
    busy_area: float
    waiting_area: float
    marks: list[Mark]

    def _init_occupancy(self, slots: int) -> None:
        self.slots = slots
        self._last = 0.0
        self.busy_area = 0.0
        """Busy-slot seconds up to the last change."""
        self.waiting_area = 0.0
        """Waiting-request seconds up to the last change."""
        self.marks = []

    def _tally(self, now: float, busy: int, waiting: int) -> None:
        """Integrate the counts as they were since the last change up to ``now``."""
        span = now - self._last
        if span > 0.0:
            self.busy_area += busy * span
            self.waiting_area += waiting * span
            self._last = now

    def occupancy(self) -> tuple[int, int]:
        """``(busy slots, waiting requests)`` now."""
        raise NotImplementedError

    def mark(self, now: float) -> None:
        """Close the integrals at ``now`` and keep them."""
        busy, waiting = self.occupancy()
        self._tally(now, busy, waiting)
        self.marks.append((now, self.busy_area, self.waiting_area))


def window_average(
    servers: Sequence[Occupied], start: float, end: float
) -> tuple[float, float, float]:
    """``(utilisation, queue length, in system)`` of ``servers`` together over the window
    between their marks at ``start`` and ``end``: busy-slot seconds over slot seconds, and the
    time-average number of requests waiting, and waiting or holding a slot (summed over the
    servers). NaN without such marks, a window of no length or no slots."""
    span = end - start
    slots = sum(server.slots for server in servers)
    if span <= 0.0 or not servers:
        return (float("nan"),) * 3
    busy = waiting = 0.0
    for server in servers:
        at = {time: (b, w) for time, b, w in server.marks}
        if start not in at or end not in at:
            return (float("nan"),) * 3
        busy += at[end][0] - at[start][0]
        waiting += at[end][1] - at[start][1]
    utilisation = busy / (slots * span) if slots else float("nan")
    return utilisation, waiting / span, (busy + waiting) / span


class Meter:
    """Marks named components (each a group of servers: a service's instances, a database)
    at the start, the end of the warm-up, the end of the load and :data:`SERIES_BINS` equal
    bins of the load; gives their averages over the measured window and per bin."""

    def __init__(self, env: simpy.Environment, components: Mapping[str, Sequence[Occupied]]):
        self.env = env
        self.components = dict(components)
        self._servers = [server for group in components.values() for server in group]
        self.bins: list[float] = []

    def mark(self) -> None:
        """Mark every server now."""
        now = self.env.now
        for server in self._servers:
            server.mark(now)

    def schedule(self, warmup: float, load_end: float) -> None:
        """Mark now, at ``warmup`` and at the bin boundaries inside the load (the end of the
        load is marked by the caller, once the load has run: :meth:`mark`)."""
        env = self.env
        self.mark()
        self.bins = [load_end * k / SERIES_BINS for k in range(SERIES_BINS + 1)]
        times = sorted({*self.bins[1:-1], *([warmup] if 0.0 < warmup < load_end else [])})
        for time in times:
            env.timeout(time - env.now).callbacks.append(lambda _event: self.mark())

    def averages(self, start: float, end: float) -> dict[str, tuple[float, float, float]]:
        """Each component's ``(utilisation, queue length, in system)`` over the window."""
        return {name: window_average(group, start, end) for name, group in self.components.items()}

    def series(self) -> list[tuple[float, str, float, float, float]]:
        """``(end of bin, component, utilisation, queue length, in system)`` per bin."""
        rows = []
        for low, high in zip(self.bins, self.bins[1:], strict=False):
            for name, group in self.components.items():
                rows.append((high, name, *window_average(group, low, high)))
        return rows

    def frames(
        self, start: float, end: float
    ) -> tuple[dict[str, tuple[float, float, float]], dict[str, pd.DataFrame]]:
        """The averages over the window (:meth:`averages`), and the tables ``occupancy`` (a
        row a component: its slots and averages) and ``occupancy_series`` (:meth:`series`)."""
        averages = self.averages(start, end)
        rows = [
            (name, sum(server.slots for server in self.components[name]), *values)
            for name, values in averages.items()
        ]
        return averages, {
            "occupancy": pd.DataFrame(rows, columns=["component", "slots", *OCCUPANCY]),
            "occupancy_series": pd.DataFrame(
                self.series(), columns=["time", "component", *OCCUPANCY]
            ),
        }
