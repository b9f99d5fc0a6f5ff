"""Network hops between the client, services, databases, connectors and the broker.

Each hop waits one draw of the one-way latency distribution plus any ``latency`` faults active
on that link (``link:A->B``). Hops to and from the ``broker`` node add only the link's faults:
the broker's own ``latency`` (``broker:``) already is the wire time of a request and its
answer. A zero latency with no fault costs nothing: the continuation runs at once, nested at
most :data:`~sim.kernel.schedule.AT_ONCE_DEPTH` hops deep (:class:`~sim.kernel.schedule.AtOnce`),
so a chain of zero-time hops of any length runs. Node names are service names, ``client``,
``db:NAME``, ``connector:NAME`` and ``broker``.

Links behave like TCP connections. A ``partition`` cuts a link (one way, or both); a message
sent over a cut link is not dropped: TCP retransmits it, with an exponential backoff from the
minimum retransmission timeout of an established connection (Linux ``TCP_RTO_MIN`` 200 ms)
doubling up to ``TCP_RTO_MAX`` 120 s [RFC 6298 §5.5, LINUX-TCP], and it is delivered at the
first retransmission after the link heals, one hop later. After 15 retransmissions (Linux
``tcp_retries2``, about 924.6 s) the connection is given up and the message with it
[LINUX-TCP]. The sender may give up first: whoever holds the :class:`Transmission` handle of a
held message (a client whose own timeout fired and who closes the connection) cancels it, and
it is never delivered. :meth:`Network.isolate` cuts a node off from every other node (a whole
broker cluster unreachable).

[RFC 6298] https://www.rfc-editor.org/rfc/rfc6298 (Computing TCP's Retransmission Timer).
[LINUX-TCP] Linux ``Documentation/networking/ip-sysctl.rst`` (``tcp_retries2``: default 15,
a hypothetical timeout of 924.6 s) and ``include/net/tcp.h`` (``TCP_RTO_MIN`` HZ/5,
``TCP_RTO_MAX`` 120 s).

A message sent on a ``connection`` (a key its sender chooses: one TCP connection, one way)
is never delivered before an earlier message of that connection: it waits behind one still
travelling, and when a cut link heals, the held messages of a connection go through in the
order they were sent, from the next retransmission of the oldest (TCP retransmits the oldest
unacknowledged segment; the window follows it). Messages without a connection (each HTTP call
on its own connection) are delayed independently and can overtake each other when latency
varies.

A ``loss`` fault loses each transmission over a link with a probability, and TCP retransmits
it with the same back-off (so loss shows as latency); a ``bandwidth`` fault serialises a
link's messages at a rate (:mod:`sim.infra.impairments`). Both are checked when a message is
sent (after any partition of the link holds it).

Left out: message sizes (a bandwidth is in messages a second), connection set-up.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import Any

from sim.config.distributions import Distribution, Sampler, is_zero
from sim.infra.impairments import RETRANSMISSIONS, RTO_MAX, RTO_MIN, Bandwidth, Loss
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = [
    "RETRANSMISSIONS",
    "RTO_MAX",
    "RTO_MIN",
    "Bandwidth",
    "Loss",
    "Network",
    "NetworkLink",
    "Transmission",
]


class Transmission:
    """A message held on a cut link; :meth:`cancel` it when the sender gives up."""

    __slots__ = ("cancelled", "connection", "deliver", "destination", "sent", "source")

    def __init__(
        self,
        source: str,
        destination: str,
        deliver: Callable[[], Any],
        sent: float,
        connection: Hashable | None = None,
    ):
        self.source = source
        self.destination = destination
        self.deliver = deliver
        self.sent = sent
        self.connection = connection
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


def retransmission_after(sent: float, now: float) -> float | None:
    """The first retransmission of a message sent at ``sent`` that comes at or after ``now``
    (None: the connection was given up before)."""
    at, timeout = sent, RTO_MIN
    for _ in range(RETRANSMISSIONS):
        at += timeout
        if at >= now:
            return at
        timeout = min(2.0 * timeout, RTO_MAX)
    return None


class Network:
    """Delays messages between named nodes."""

    def __init__(
        self, ctx: SimContext, latency: Distribution, wire_free: Iterable[str] = ("broker",)
    ) -> None:
        self.ctx = ctx
        self._at_once = ctx.at_once
        self._zero = is_zero(latency)
        self._latency: Sampler = latency.sampler(ctx.stream("network"))
        self._wire_free = frozenset(wire_free)
        self._extra: dict[tuple[str, str], list[Sampler]] = {}
        self._losses: dict[tuple[str, str], list[Loss]] = {}
        self._limits: dict[tuple[str, str], list[Bandwidth]] = {}
        self._blocked: dict[tuple[str, str], int] = {}
        self._isolated: dict[str, int] = {}
        self._held: list[Transmission] = []
        self._last: dict[Hashable, float] = {}
        """Per connection, when its latest message is delivered."""
        self.instant = self._zero
        """True while every hop is free (zero latency, no link fault): callers may skip hops."""

    def _changed(self) -> None:
        self.instant = (
            self._zero
            and not self._extra
            and not self._blocked
            and not self._isolated
            and not self._losses
            and not self._limits
        )

    def is_cut(self, source: str, destination: str) -> bool:
        """True while a partition cuts the link from ``source`` to ``destination``."""
        return (source, destination) in self._blocked or bool(
            self._isolated and (source in self._isolated or destination in self._isolated)
        )

    def send(
        self,
        source: str,
        destination: str,
        deliver: Callable[[], Any],
        connection: Hashable | None = None,
    ) -> Transmission | None:
        """Deliver a message from ``source`` to ``destination`` after one hop; over a cut link
        hold it (and return its handle) until the link heals. Messages of one ``connection``
        are delivered in the order they were sent."""
        now = self.ctx.env.now
        if self.instant and (connection is None or self._last.get(connection, -1.0) <= now):
            self._at_once(deliver)
            return None
        if self.is_cut(source, destination):
            held = Transmission(source, destination, deliver, now, connection)
            self._held.append(held)
            return held
        limits = self._limits.get((source, destination)) if self._limits else None
        if limits:
            self._limited(
                tuple(limits), 0, lambda: self._transmit(source, destination, deliver, connection)
            )
            return None
        self._transmit(source, destination, deliver, connection)
        return None

    def arrival(self, source: str, destination: str) -> float | None:
        """When a message sent now from ``source`` to ``destination`` (on no connection)
        arrives, its hop drawn as :meth:`send` would draw it; None, with nothing drawn, when
        the link has a partition, a loss or a bandwidth fault (then :meth:`send` it). For a
        message whose arrival nobody acts on, only its time is recorded (the client's answer):
        that costs no event."""
        link = (source, destination)
        if (self._limits and self._limits.get(link)) or (self._losses and self._losses.get(link)):
            return None
        if self.is_cut(source, destination):
            return None
        now = self.ctx.env.now
        delay = self._hop(source, destination)
        return now + delay if delay > 0.0 else now

    def _transmit(
        self, source: str, destination: str, deliver: Callable[[], Any], connection: Hashable | None
    ) -> None:
        delay = self._hop(source, destination)
        if self._losses:
            lost = self._lost(source, destination)
            if lost is None:
                return  # every retransmission lost: the connection is given up
            delay += lost
        if connection is not None:
            delay = self._in_order(connection, self.ctx.env.now, delay)
        later(self.ctx.env, delay, deliver)

    def _limited(self, limits: tuple[Bandwidth, ...], index: int, go: Callable[[], None]) -> None:
        """Through each bandwidth limit of the link in turn, then ``go()``."""
        if index == len(limits):
            go()
            return
        limits[index].enqueue(lambda: self._limited(limits, index + 1, go))

    def _lost(self, source: str, destination: str) -> float | None:
        """The delay the link's loss faults add to one message (None: never delivered)."""
        added = 0.0
        for loss in self._losses.get((source, destination), ()):
            extra = loss.extra_delay()
            if extra is None:
                return None
            added = max(added, extra)
        return added

    def _in_order(self, connection: Hashable, now: float, delay: float) -> float:
        """``delay``, or longer: not before the connection's latest message."""
        at = max(now + delay, self._last.get(connection, now))
        self._last[connection] = at
        return at - now

    @property
    def holding(self) -> bool:
        """True while a message waits on a cut link."""
        return any(not held.cancelled for held in self._held)

    def _hop(self, source: str, destination: str) -> float:
        wire_free = source in self._wire_free or destination in self._wire_free
        delay = 0.0 if self._zero or wire_free else self._latency()
        if self._extra:
            for extra in self._extra.get((source, destination), ()):
                delay += extra()
        return delay

    def _release(self) -> None:
        """Deliver the held messages whose link has healed, at their next retransmission (a
        connection's in the order they were sent, from the oldest's retransmission)."""
        now = self.ctx.env.now
        still: list[Transmission] = []
        for held in self._held:  # in the order they were sent
            if held.cancelled:
                continue
            if self.is_cut(held.source, held.destination):
                still.append(held)
                continue
            at = retransmission_after(held.sent, now)
            lost = self._lost(held.source, held.destination) if self._losses else 0.0
            if at is not None and lost is not None:
                delay = at - now + lost + self._hop(held.source, held.destination)
                if held.connection is not None:
                    delay = self._in_order(held.connection, now, delay)
                later(self.ctx.env, delay, self._deliverer(held))
        self._held = still

    @staticmethod
    def _deliverer(held: Transmission) -> Callable[[], None]:
        def deliver() -> None:
            if not held.cancelled:
                held.deliver()

        return deliver

    # -- faults ------------------------------------------------------------------------------
    def add_delay(self, source: str, destination: str, extra: Sampler) -> None:
        """Start adding ``extra()`` to every hop from ``source`` to ``destination``."""
        self._extra.setdefault((source, destination), []).append(extra)
        self._changed()

    def remove_delay(self, source: str, destination: str, extra: Sampler) -> None:
        """Stop adding a delay started by :meth:`add_delay`."""
        delays = self._extra.get((source, destination), [])
        if extra in delays:
            delays.remove(extra)
        if not delays:
            self._extra.pop((source, destination), None)
        self._changed()

    def block(self, source: str, destination: str) -> Callable[[], None]:
        """Cut the link from ``source`` to ``destination`` until the returned heal runs."""
        pair = (source, destination)
        self._blocked[pair] = self._blocked.get(pair, 0) + 1
        self._changed()

        def unblock() -> None:
            self._blocked[pair] -= 1
            if self._blocked[pair] == 0:
                del self._blocked[pair]
            self._changed()
            self._release()

        return unblock

    def lose(self, source: str, destination: str, loss: Loss) -> Callable[[], None]:
        """Lose messages from ``source`` to ``destination`` as ``loss`` says until the
        returned undo runs."""
        self._losses.setdefault((source, destination), []).append(loss)
        self._changed()
        return lambda: self._drop(self._losses, (source, destination), loss)

    def limit(self, source: str, destination: str, bandwidth: Bandwidth) -> Callable[[], None]:
        """Serialise messages from ``source`` to ``destination`` through ``bandwidth`` until
        the returned undo runs (the messages it still holds then go on)."""
        self._limits.setdefault((source, destination), []).append(bandwidth)
        self._changed()

        def lift() -> None:
            self._drop(self._limits, (source, destination), bandwidth)
            bandwidth.lift()

        return lift

    def _drop(
        self, table: dict[tuple[str, str], list[Any]], pair: tuple[str, str], item: Any
    ) -> None:
        found = table.get(pair, [])
        if item in found:
            found.remove(item)
        if not found:
            table.pop(pair, None)
        self._changed()

    def isolate(self, node: str) -> Callable[[], None]:
        """Cut ``node`` off from every other node until the returned heal runs."""
        self._isolated[node] = self._isolated.get(node, 0) + 1
        self._changed()

        def rejoin() -> None:
            self._isolated[node] -= 1
            if self._isolated[node] == 0:
                del self._isolated[node]
            self._changed()
            self._release()

        return rejoin


class NetworkLink:
    """The messages from one node to another, as a fault target: a partition cuts it, a
    latency fault slows it, a loss fault loses its messages, a bandwidth fault limits them."""

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

    def lose(self, loss: Loss) -> Callable[[], None]:
        return self.network.lose(self.source, self.destination, loss)

    def limit(self, bandwidth: Bandwidth) -> Callable[[], None]:
        return self.network.limit(self.source, self.destination, bandwidth)
