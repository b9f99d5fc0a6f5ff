"""What ``loss`` and ``bandwidth`` faults do to the messages of one link
(:mod:`sim.infra.network`), and what they count.

**Loss** (Chaos Mesh ``loss``, Gremlin packet loss): each transmission of a message is lost
with ``probability`` (one uniform of the fault's own stream per transmission). A lost message
is not gone: TCP retransmits it when its retransmission timer fires, from the minimum
retransmission timeout of an established connection (Linux ``TCP_RTO_MIN`` 200 ms; in a data
centre the smoothed round trip is far below it, so the timer is the minimum) doubling up to
``TCP_RTO_MAX`` 120 s, the same back-off as across a ``partition`` [RFC 6298 §5.5,
LINUX-TCP]. So a loss shows as latency: 200 ms for a message lost once, 600 ms twice, 1.4 s
three times; after 15 retransmissions all lost (Linux ``tcp_retries2``) the connection is
given up and the message never arrives. A caller whose own timeout fires first sees a
timeout. Left out: fast retransmit and tail-loss probes (a request or an answer is one
segment, with no later segments to trigger duplicate acknowledgements), and the congestion
window a loss halves.

**Bandwidth** (Toxiproxy ``bandwidth``, Chaos Mesh ``bandwidth``): the link carries at most
``rate`` messages a second. The model's messages have no size (a request, an answer, a
produce request, a fetch), so the rate is in messages: a limit of 1 MB/s for messages of about
1 KB is ``rate: 1000/s``. Messages are serialised one after another, each taking ``1 / rate``
on the wire, in the order they were sent (FIFO), so a burst queues and the link's throughput
is capped at ``rate``. When the fault ends the messages still queued go on at once (the
limit is lifted). Left out: retransmissions taking bandwidth again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = ["RETRANSMISSIONS", "RETRANSMISSION_TIMES", "RTO_MAX", "RTO_MIN", "Bandwidth", "Loss"]

RTO_MIN = 0.2
"""First retransmission timeout of an established connection: Linux TCP_RTO_MIN [LINUX-TCP]."""
RTO_MAX = 120.0
"""Largest retransmission timeout: Linux TCP_RTO_MAX [LINUX-TCP]."""
RETRANSMISSIONS = 15
"""Retransmissions before the connection is given up: Linux tcp_retries2 [LINUX-TCP]."""


def _times() -> tuple[float, ...]:
    at, timeout, found = 0.0, RTO_MIN, []
    for _ in range(RETRANSMISSIONS):
        at += timeout
        found.append(at)
        timeout = min(2.0 * timeout, RTO_MAX)
    return tuple(found)


RETRANSMISSION_TIMES = _times()
"""When each retransmission of a message goes out, after its first sending (0.2, 0.6, 1.4, ...
seconds) [RFC 6298, LINUX-TCP]."""


class Loss:
    """A loss fault on one link: the chance each transmission is lost, and its counts."""

    __slots__ = ("coin", "given_up", "messages", "probability", "retransmissions")

    def __init__(self, probability: float, coin: Callable[[], float]) -> None:
        self.probability = probability
        self.coin = coin
        self.messages = 0
        """Messages sent over the link while the fault lasted."""
        self.retransmissions = 0
        """Transmissions lost (each one retransmitted, unless the connection was given up)."""
        self.given_up = 0
        """Messages whose every retransmission was lost: never delivered."""

    def extra_delay(self) -> float | None:
        """How much later than without loss the message arrives (None: never)."""
        self.messages += 1
        if self.coin() >= self.probability:
            return 0.0
        for at in RETRANSMISSION_TIMES:
            self.retransmissions += 1
            if self.coin() >= self.probability:
                return at
        self.given_up += 1
        return None


class Bandwidth:
    """A bandwidth fault on one link: a FIFO of messages served at ``rate`` per second."""

    __slots__ = ("_busy", "_queue", "ctx", "lifted", "messages", "rate", "waited")

    def __init__(self, ctx: SimContext, rate: float) -> None:
        self.ctx = ctx
        self.rate = rate
        self._queue: deque[tuple[float, Callable[[], None]]] = deque()
        self._busy = False
        self.lifted = False
        self.messages = 0
        """Messages that went through the limit."""
        self.waited = 0.0
        """Seconds the messages spent queued and on the wire in all (their added latency)."""

    def enqueue(self, go: Callable[[], None]) -> None:
        """Send a message: ``go()`` runs once it is through the limit."""
        if self.lifted:
            go()
            return
        self._queue.append((self.ctx.env.now, go))
        if not self._busy:
            self._next()

    def _next(self) -> None:
        if not self._queue or self.lifted:
            self._busy = False
            return
        self._busy = True
        later(self.ctx.env, 1.0 / self.rate, self._sent)

    def _sent(self) -> None:
        if self.lifted or not self._queue:
            return
        queued, go = self._queue.popleft()
        self._through(queued, go)
        self._next()

    def _through(self, queued: float, go: Callable[[], None]) -> None:
        self.messages += 1
        self.waited += self.ctx.env.now - queued
        go()

    def lift(self) -> None:
        """End the limit: the messages still queued go on now."""
        self.lifted = True
        self._busy = False
        while self._queue:
            self._through(*self._queue.popleft())
