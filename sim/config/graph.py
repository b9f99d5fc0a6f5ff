"""A service's call graph: the downstream services its requests call, and how.

::

    services:
      front: {service_time: 2ms, calls: [{to: auth}, {to: search, probability: 0.3}]}
      search: {calls: [{to: index, mode: parallel}, {to: ads, mode: parallel}]}
      worker: {calls: [{to: worker, probability: 0.3}]}      # feedback: comes back 30% of the time

Each edge is taken with its ``probability`` per visit; a ``sequential`` call waits for the one
before it to end, and consecutive ``parallel`` calls go out together and are all awaited before
the next. Every edge takes the keys of the HTTP client's policy (:class:`CallPolicy`: timeouts,
retries, backoff, guards), with the same defaults as a pattern's calls.

A graph may have cycles (a service calling itself again is a Jackson network with feedback)
only while a request's expected number of visits is finite: the spectral radius of the routing
matrix (``R[i][j]``, the expected calls from a visit at i to j) must be below 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
from pydantic import Field

from sim.config.policy import CallPolicy
from sim.config.types import Name, Probability

__all__ = ["Call", "expected_visits", "graph_problems", "routing_matrix"]


class Call(CallPolicy):
    """One edge of a service's call graph: a call to ``to``, with the HTTP client's policy."""

    to: Name = Field(description="the service called")
    probability: Probability = Field(
        1.0, description="the chance a visit makes this call (drawn per visit)"
    )
    mode: Literal["sequential", "parallel"] = Field(
        "sequential",
        description="sequential: after the call before it has ended; parallel: together with "
        "the parallel calls next to it, all awaited before the next call",
    )


class _Calls(Protocol):
    calls: list[Call]


Problem = tuple[tuple[str | int, ...], str, object]


def routing_matrix(services: Mapping[str, _Calls]) -> tuple[list[str], np.ndarray]:
    """The services in file order, and the expected calls from a visit at each to each."""
    names = list(services)
    where = {name: i for i, name in enumerate(names)}
    matrix = np.zeros((len(names), len(names)))
    for name, service in services.items():
        for call in service.calls:
            if call.to in where:
                matrix[where[name], where[call.to]] += call.probability
    return names, matrix


def _radius(matrix: np.ndarray) -> float:
    """The spectral radius, computed on the services that can be on a cycle (peeling off
    those that no call reaches or that call no one leaves every cycle and the radius)."""
    keep = np.ones(len(matrix), dtype=bool)
    while True:
        sub = matrix[np.ix_(keep, keep)]
        if not sub.any():
            return 0.0
        on_path = (sub.sum(axis=0) > 0) & (sub.sum(axis=1) > 0)
        if on_path.all():
            return float(max(abs(np.linalg.eigvals(sub))))
        keep[np.flatnonzero(keep)[~on_path]] = False


def expected_visits(services: Mapping[str, _Calls], entry: str) -> dict[str, float]:
    """The expected visits at each service of one request arriving at ``entry`` (the
    Neumann series of the routing matrix: ``e (I - R)^-1``)."""
    names, matrix = routing_matrix(services)
    start = np.zeros(len(names))
    start[names.index(entry)] = 1.0
    visits = np.linalg.solve((np.eye(len(names)) - matrix).T, start)
    return dict(zip(names, visits.tolist(), strict=True))


def _reach(matrix: np.ndarray, start: int) -> set[int]:
    seen, todo = {start}, [start]
    while todo:
        node = todo.pop()
        for following in np.flatnonzero(matrix[node]).tolist():
            if following not in seen:
                seen.add(following)
                todo.append(following)
    return seen


def graph_problems(services: Mapping[str, _Calls]) -> list[Problem]:
    """Calls to unknown services, and cycles a request would go round forever (each at the
    ``calls`` of the first service, in file order, of the cycle)."""
    problems: list[Problem] = []
    known = ", ".join(services)
    for name, service in services.items():
        for i, call in enumerate(service.calls):
            if call.to not in services:
                problems.append(
                    (
                        ("services", name, "calls", i, "to"),
                        f"must name a service ({known})",
                        call.to,
                    )
                )
    names, matrix = routing_matrix(services)
    if problems or _radius(matrix) < 1.0 - 1e-9:
        return problems
    reported: set[int] = set()
    for i, name in enumerate(names):
        if i in reported:
            continue
        transposed = _reach(matrix.T, i)
        component = sorted(_reach(matrix, i) & transposed)
        if len(component) == 1 and matrix[i, i] == 0.0:
            continue
        radius = _radius(matrix[np.ix_(component, component)])
        if radius >= 1.0 - 1e-9:
            reported.update(component)
            cycle = ", ".join(names[j] for j in component)
            problems.append(
                (
                    ("services", name, "calls"),
                    f"a request would go round the cycle of {cycle} without end: its expected "
                    f"calls (the spectral radius of its routing matrix, {radius:.3g}) must be "
                    "below 1; lower a probability on it",
                    _edges(services, name, [names[j] for j in component]),
                )
            )
    return problems


def _edges(services: Mapping[str, _Calls], name: str, component: Sequence[str]) -> str:
    return ", ".join(
        f"{c.to} p={c.probability:g}" for c in services[name].calls if c.to in component
    )
