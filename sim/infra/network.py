"""Network hops between the client, services and databases.

Each hop waits one draw of the one-way latency distribution plus any ``latency`` faults active
on that link (``link:A->B``). A zero latency with no fault costs nothing: the continuation runs
at once. Node names are service names, ``client`` and ``db:NAME``.

A ``partition`` drops every message between two nodes (one way or both) while it lasts; the
sender is not told, so it waits for its own timeout.

Left out: bandwidth and message size, packet loss and TCP retransmission, connection set-up,
and any ordering guarantee between two hops on one link (each hop
is delayed independently, so two messages can overtake each other when latency varies).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.config.distributions import Distribution, Sampler, is_zero
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = ["Network", "NetworkLink"]


class Network:
    """Delays messages between named nodes."""

    def __init__(self, ctx: SimContext, latency: Distribution) -> None:
        self.ctx = ctx
        self._zero = is_zero(latency)
        self._latency: Sampler = latency.sampler(ctx.stream("network"))
        self._extra: dict[tuple[str, str], list[Sampler]] = {}
        self._blocked: dict[tuple[str, str], int] = {}
        self.instant = self._zero
        """True while every hop is free (zero latency, no link fault): callers may skip hops."""

    def _changed(self) -> None:
        self.instant = self._zero and not self._extra and not self._blocked

    def send(self, source: str, destination: str, deliver: Callable[[], Any]) -> None:
        """Deliver a message from ``source`` to ``destination`` after one hop (or drop it, if a
        partition separates them: the sender learns nothing and its timeout fires)."""
        if self.instant:
            deliver()
            return
        if self._blocked and (source, destination) in self._blocked:
            return
        delay = 0.0 if self._zero else self._latency()
        if self._extra:
            for extra in self._extra.get((source, destination), ()):
                delay += extra()
        later(self.ctx.env, delay, deliver)

    def add_delay(self, source: str, destination: str, extra: Sampler) -> None:
        """Start adding ``extra()`` to every hop from ``source`` to ``destination``."""
        self._extra.setdefault((source, destination), []).append(extra)
        self._changed()

    def block(self, source: str, destination: str) -> Callable[[], None]:
        """Drop every message from ``source`` to ``destination`` until the returned undo runs."""
        pair = (source, destination)
        self._blocked[pair] = self._blocked.get(pair, 0) + 1
        self._changed()

        def unblock() -> None:
            self._blocked[pair] -= 1
            if self._blocked[pair] == 0:
                del self._blocked[pair]
            self._changed()

        return unblock

    def is_blocked(self, source: str, destination: str) -> bool:
        """True while a partition drops messages from ``source`` to ``destination``."""
        return (source, destination) in self._blocked

    def remove_delay(self, source: str, destination: str, extra: Sampler) -> None:
        """Stop adding a delay started by :meth:`add_delay`."""
        delays = self._extra.get((source, destination), [])
        if extra in delays:
            delays.remove(extra)
        if not delays:
            self._extra.pop((source, destination), None)
        self._changed()


class NetworkLink:
    """The messages from one node to another, as a fault target: a partition cuts it, a
    latency fault slows it."""

    __slots__ = ("destination", "network", "source")

    def __init__(self, network: Network, source: str, destination: str) -> None:
        self.network = network
        self.source = source
        self.destination = destination

    def cut(self) -> Callable[[], None]:
        return self.network.block(self.source, self.destination)

    def add_delay(self, sampler: Sampler) -> None:
        self.network.add_delay(self.source, self.destination, sampler)

    def remove_delay(self, sampler: Sampler) -> None:
        self.network.remove_delay(self.source, self.destination, sampler)
