"""Synchronous calls between services: a per-attempt timeout and retries with backoff.

An attempt crosses the network to the callee, is handled there like any request (a slot, the
``work`` the caller asks for) and its answer crosses back. If no answer arrives within
``timeout`` the attempt counts as a ``TIMEOUT``; the callee may still finish the work later,
as a real server does for a client that gave up. A failed attempt is retried after an
exponential backoff with full jitter: attempt n+1 waits U[0, min(cap, (2^n - 1) * base)),
Envoy's rule [ENVOY]. The caller's ``alive()`` is asked before each attempt and when an answer
arrives: a caller that died (its instance crashed) neither retries nor hears the answer.

Left out: connection pools and keep-alive, circuit breakers, bulkheads, retry budgets and
deadline propagation.
"""

from __future__ import annotations

from collections.abc import Callable

from sim.config.clients import Backoff
from sim.infra.network import Network
from sim.infra.service import Job, Service
from sim.kernel.codes import OK, TIMEOUT
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = ["HttpClient"]


class HttpClient:
    """The calls one service makes to others."""

    def __init__(
        self, ctx: SimContext, network: Network, source: str, services: dict[str, Service]
    ) -> None:
        self.ctx = ctx
        self.network = network
        self.source = source
        self.services = services

    def call(
        self,
        destination: str,
        work: Callable[[Job], None],
        done: Callable[[int], None],
        *,
        timeout: float,
        backoff: Backoff,
        retries: int | None,
        alive: Callable[[], bool],
    ) -> None:
        """Call ``destination`` to run ``work``; ``done(outcome)`` once the call succeeds or
        its last attempt fails (``retries=None`` retries until it succeeds)."""
        env = self.ctx.env
        network = self.network
        source = self.source
        target = self.services[destination]
        jitter = self.ctx.stream(f"backoff:{source}->{destination}").uniform

        def attempt(number: int) -> None:
            if not alive():
                return
            answer = _Attempt(number)

            def settle(outcome: int) -> None:
                if answer.settled or not alive():
                    return
                answer.settled = True
                if outcome == OK or (retries is not None and number >= retries):
                    done(outcome)
                    return
                ceiling = min(backoff.cap, (2 ** (number + 1) - 1) * backoff.base)
                later(env, jitter() * ceiling, lambda: attempt(number + 1))

            env.timeout(timeout).callbacks.append(lambda _e: settle(TIMEOUT))
            network.send(
                source,
                destination,
                lambda: target.call(
                    work,
                    lambda outcome, _v: network.send(destination, source, lambda: settle(outcome)),
                ),
            )

        attempt(0)


class _Attempt:
    """One attempt of a call: settled by its answer or its timeout, whichever comes first."""

    __slots__ = ("number", "settled")

    def __init__(self, number: int) -> None:
        self.number = number
        self.settled = False
