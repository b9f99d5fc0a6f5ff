"""The random draws of a unit of work, keyed by what the work *is*, never by when it is asked.

Common random numbers between patterns need more than shared arrivals: the same work must get
the same draws in every pattern, whatever else the pattern does around it and in whatever
order. So every draw of a unit of work comes from a key that names the work:

- **A request's own work** — its handling at the service it is addressed to, its first query
  at that service's database and the error-fault coins of both — comes from arrays drawn up
  front, one entry per request (:class:`RequestDraws`), from the streams ``work:handle``,
  ``work:query``, ``work:handle-coin`` and ``work:query-coin``.
- **Any other work** — a copy applying version v of key k, the n-th attempt of an HTTP call,
  a participant's prepare, a request's second query — comes from :class:`Keyed`: a uniform
  that is a pure function of the role's stream and the ids of the work
  (``apply(copy, key, version, attempt)``), a counter-based generator (SplitMix64 over the
  ids), so it does not depend on how many draws came before.

A :class:`WorkDraws` hands a unit of work its uniforms: ``handle()`` for its service time,
``coin()`` for an error fault where it is handled, ``query(n)`` and ``query_coin(n)`` for its
n-th database query. Distributions turn a uniform into a time with their quantile function
(:mod:`sim.config.distributions`), so two patterns whose services are configured alike give
the same request the same time, and differently configured ones give it times that are
monotonically coupled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import numpy as np

from sim.kernel.rng import Streams

__all__ = ["Keyed", "KeyedWork", "RequestDraws", "RequestWork", "WorkDraws"]

_MASK = (1 << 64) - 1
_TO_UNIT = 2.0**-53


class Keyed:
    """Uniforms on [0, 1) that are pure functions of a role's stream and integer ids."""

    __slots__ = ("_base", "role")

    def __init__(self, streams: Streams, role: str) -> None:
        self.role = role
        state = streams.sequence(f"keyed:{role}").generate_state(1, np.uint64)
        self._base = int(state[0])

    def uniform(self, *ids: int) -> float:
        """The uniform of the work named by ``ids``: the top 53 bits of its :meth:`ident`."""
        return (self.ident(*ids) >> 11) * _TO_UNIT

    def ident(self, *ids: int) -> int:
        """A 64-bit id of the work named by ``ids`` (to name work that work spawns): each id
        in turn mixed into the role's base by SplitMix64's finaliser, a 64-bit bijection with
        full avalanche (inlined: this runs several times per request)."""
        x = self._base
        for part in ids:
            x = ((x ^ (part & _MASK)) + 0x9E3779B97F4A7C15) & _MASK
            x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & _MASK
            x ^= x >> 31
        return x


class WorkDraws(Protocol):
    """The uniforms of one unit of work."""

    def handle(self) -> float: ...

    def coin(self) -> float: ...

    def query(self, n: int) -> float: ...

    def query_coin(self, n: int) -> float: ...


class KeyedWork:
    """The draws of a unit of work named by ids, e.g. ``(copy, key, version, attempt)``."""

    __slots__ = ("ids", "keyed")

    def __init__(self, keyed: Keyed, *ids: int) -> None:
        self.keyed = keyed
        self.ids = ids

    def handle(self) -> float:
        return self.keyed.uniform(*self.ids, 0)

    def coin(self) -> float:
        return self.keyed.uniform(*self.ids, 1)

    def query(self, n: int) -> float:
        return self.keyed.uniform(*self.ids, 2 + 2 * n)

    def query_coin(self, n: int) -> float:
        return self.keyed.uniform(*self.ids, 3 + 2 * n)


class RequestDraws:
    """The uniforms of every request's own work, drawn in bulk before the run (one per run,
    shared by its models under the context's name :attr:`SHARED`)."""

    SHARED = "draws"

    def __init__(
        self, streams: Streams, count: int, named: Callable[[int], tuple[int, ...]] | None = None
    ) -> None:
        self._streams = streams
        self.count = count
        self._named = named
        self._added = Keyed(streams, "added-request")
        """The draws of requests added during the run (a closed user's), keyed by the ids
        ``named`` gives them, so a user's n-th request gets the same draws in every pattern."""
        self.handle = self._draw("work:handle")
        self.query = self._draw("work:query")
        self._coins: dict[str, memoryview] = {}
        self.later = Keyed(streams, "request")
        """The draws of a request's further queries (``query(n)`` for n > 0)."""

    def release(self) -> None:
        """Let go of the bulk draws once the run is over (its figures are computed from
        the records, and this is a run's peak of memory): a draw asked for later fails."""
        empty = np.zeros(0).data.toreadonly()
        self.handle = self.query = empty
        self._coins.clear()

    def _draw(self, name: str) -> memoryview:
        """One uniform per request, as a read-only view (indexing gives Python floats)."""
        return self._streams.generator(name).random(self.count).data.toreadonly()

    def coins(self, name: str) -> memoryview:
        """An error-fault coin per request (drawn on first use: only runs with error faults
        pay for them)."""
        found = self._coins.get(name)
        if found is None:
            found = self._coins[name] = self._draw(f"work:{name}")
        return found

    def work(self, index: int) -> WorkDraws:
        """The draws of request ``index``."""
        if index >= self.count and self._named is not None:
            return KeyedWork(self._added, *self._named(index))
        return RequestWork(self, index)


class RequestWork:
    """The draws of one request's own work."""

    __slots__ = ("draws", "index")

    def __init__(self, draws: RequestDraws, index: int) -> None:
        self.draws = draws
        self.index = index

    def handle(self) -> float:
        return self.draws.handle[self.index]

    def coin(self) -> float:
        return self.draws.coins("handle-coin")[self.index]

    def query(self, n: int) -> float:
        if n == 0:
            return self.draws.query[self.index]
        return self.draws.later.uniform(self.index, 2 + 2 * n)

    def query_coin(self, n: int) -> float:
        if n == 0:
            return self.draws.coins("query-coin")[self.index]
        return self.draws.later.uniform(self.index, 3 + 2 * n)
