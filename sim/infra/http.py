"""Synchronous calls between services, as Envoy's router makes them: timeouts and retries.

An attempt crosses the network to the callee, is handled there like any request (a slot, the
``work`` the caller asks for) and its answer crosses back. Two timeouts bound a call [ENVOY]:

- the **route timeout** (``timeout``) covers the whole call, retries included: when it fires
  the call ends with ``TIMEOUT`` whatever attempt is under way;
- the **per-try timeout** (``per_try_timeout``, none by default: each attempt may use what is
  left of the route timeout) ends one attempt, which then counts as an upstream timeout.

The callee may still finish the work of an attempt the caller gave up on, as a real server
does. A failed attempt is retried, after an exponential backoff with full jitter (attempt n+1
waits U[0, min(cap, (2^n - 1) * base)) [ENVOY]), only if its failure is one the retry policy
names (:class:`RetryPolicy`, Envoy's ``retry_on``):

=====================  ==================================================  ================
failure                what happened                                       retried on
=====================  ==================================================  ================
connect failure        the callee is down or unavailable and refuses it    ``connect-failure``, ``5xx``
503                    an ``error`` fault at the callee, or its full queue  ``retriable-status-codes`` (503), ``unavailable``, ``gateway-error``, ``5xx``
                       shed the request
429                    the callee's rate limiter (``capacity``) refused it  never
reset                  the callee crashed while handling it, or a hang     ``reset``, ``5xx``
                       that held it ended
per-try timeout        no answer within ``per_try_timeout``                ``reset``, ``gateway-error``, ``5xx``
500                    the callee failed it (its database failed, ...)     ``5xx``
=====================  ==================================================  ================

Istio's default policy retries 2 times on connect failures, refused streams, unavailable,
cancelled and 503 [ISTIO], so by default neither a per-try timeout nor a reset is retried.
The caller's ``alive()`` is asked before each attempt and when an answer arrives: a caller that
died (its instance crashed) neither retries nor hears the answer.

Each call edge may be guarded (:class:`Guards`): an optional :class:`RetryBudget` bounds
retries to a share of the calls; a circuit breaker and a bulkhead (:mod:`sim.infra.guards`)
sit around each attempt, inside the retries, as resilience4j's default order puts them
(Retry ( CircuitBreaker ( Bulkhead ( call ) ) ) [R4J]). An attempt the breaker does not permit,
or the bulkhead has no permit for, ends the call at once with an error and is not retried (a
local refusal, as Envoy does not retry its own overflow); a bulkhead refusal counts as a
failure for the breaker, as in resilience4j. Every attempt the caller gave up on (per-try or
route timeout) counts as a failure when it is given up on.

**Deadlines.** A call may be given the time its caller gives up (``deadline``): the route
timeout is cut to it. With ``propagate`` each attempt carries the time the caller stops
waiting for it (route timeout, deadline or per-try timeout, whichever is first) to the callee,
whose instance drops work that reaches a slot, or ends its CPU work, after that time
(:mod:`sim.infra.service`), as gRPC deadlines do.

Each call that ends is recorded in the ``http_calls`` table (when it began, caller, callee,
the attempts it sent, its outcome code), from which the summary's attempts per call come.

Left out: connection pools and keep-alive, retries on other hosts (every attempt goes through
the callee's balancer, which may well pick another instance), hedged requests.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy

from sim.config.clients import Backoff
from sim.config.policy import CallPolicy
from sim.infra.guards import Bulkhead, CircuitBreaker
from sim.infra.job import NO_DEADLINE
from sim.infra.network import Network
from sim.infra.retries import ANY_FAILURE, RetryBudget, RetryPolicy, failure_of
from sim.infra.service import Job, Service
from sim.kernel.codes import ERROR, OK, TIMEOUT
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import Deadline, later

__all__ = [
    "ANY_FAILURE",
    "NO_GUARDS",
    "Guards",
    "HttpClient",
    "RetryBudget",
    "RetryPolicy",
    "failure_of",
]


class Guards:
    """What guards one call edge: its circuit breaker, bulkhead and retry budget (each
    optional, :mod:`sim.infra.guards`)."""

    __slots__ = ("breaker", "budget", "bulkhead")

    def __init__(
        self,
        breaker: CircuitBreaker | None = None,
        bulkhead: Bulkhead | None = None,
        budget: RetryBudget | None = None,
    ) -> None:
        self.breaker = breaker
        self.bulkhead = bulkhead
        self.budget = budget

    @classmethod
    def of(cls, env: simpy.Environment, policy: CallPolicy) -> Guards:
        """The guards ``policy`` asks for, new (one set per calling instance)."""
        return cls(
            CircuitBreaker(env, policy.circuit_breaker) if policy.circuit_breaker else None,
            Bulkhead(env, policy.bulkhead) if policy.bulkhead else None,
            RetryBudget(env, policy.retry_budget) if policy.retry_budget is not None else None,
        )


NO_GUARDS = Guards()


class _Attempt:
    """One attempt: when it was sent, and whether the caller still waits for it."""

    __slots__ = ("number", "open", "started", "timer")

    def __init__(self, number: int, started: float) -> None:
        self.number = number
        self.started = started
        self.open = True
        self.timer: Deadline | None = None
        """Its per-try timeout, cancelled once it is closed (its firing would do nothing)."""


class _Call:
    """One call under way: the attempt under way, the attempts sent, whether the caller has
    its answer yet, and what it needs to send the next attempt.

    A call is an object with methods rather than a nest of closures that name one another: the
    timers and hops of a call hold it, it holds none of them, so it is freed by reference
    counting as soon as nothing waits for it (a cycle of closures would wait for the cyclic
    garbage collector, whose full passes cost more than the simulation on call-heavy runs).
    """

    __slots__ = (
        "alive",
        "attempt",
        "backoff",
        "breaker",
        "budget",
        "bulkhead",
        "client",
        "current",
        "destination",
        "done",
        "draws",
        "ends_at",
        "finished",
        "jitter",
        "per_try_timeout",
        "policy",
        "propagate",
        "sent",
        "started",
        "target",
        "timer",
        "work",
    )

    alive: Callable[[], bool]
    backoff: Backoff
    breaker: CircuitBreaker | None
    budget: RetryBudget | None
    bulkhead: Bulkhead | None
    done: Callable[[int], None]
    draws: Callable[[int], WorkDraws] | None
    ends_at: float
    jitter: Callable[[], float]
    per_try_timeout: float | None
    policy: RetryPolicy
    propagate: bool
    target: Service
    work: Callable[[Job], None]

    def __init__(self, client: HttpClient, destination: str, started: float) -> None:
        self.client = client
        self.destination = destination
        self.started = started
        self.attempt = 0
        self.current: _Attempt | None = None
        self.finished = False
        self.sent = 0
        self.timer: Deadline | None = None
        """The call's route timeout, when it is the constant ``timeout``."""

    def close(self, sent: _Attempt | None, failed: bool) -> None:
        """The caller stops waiting for attempt ``sent``: return its permit, record it."""
        if sent is None or not sent.open:
            return
        sent.open = False
        if sent.timer is not None:
            sent.timer.cancel()
        if self.bulkhead is not None:
            self.bulkhead.release()
        if self.breaker is not None:
            self.breaker.record(failed, self.client.ctx.env.now - sent.started)

    def end(self, outcome: int) -> None:
        if self.finished:
            return
        self.finished = True
        if self.timer is not None:
            self.timer.cancel()  # its firing would find the call finished
        client = self.client
        client._ended(self.started, client.source, self.destination, self.sent, outcome)
        self.close(self.current, outcome != OK)  # a dead caller's permit is returned too
        if self.alive():
            self.done(outcome)

    def timed_out(self) -> None:
        self.end(TIMEOUT)

    def try_(self, number: int) -> None:
        if self.finished:
            return
        if not self.alive():  # the caller died: the call ends unanswered
            self.end(ERROR)
            return
        breaker = self.breaker
        if breaker is not None and not breaker.permit():
            self.end(ERROR)  # not permitted: fail fast, no retry
            return
        if self.bulkhead is None:
            self.send(number)
            return
        self.bulkhead.acquire(lambda: self.send(number), self.refused)

    def refused(self) -> None:
        if self.breaker is not None:
            self.breaker.record(True, 0.0)
        self.end(ERROR)

    def send(self, number: int) -> None:
        client = self.client
        env = client.ctx.env
        sent = _Attempt(number, env.now)
        if self.finished or not self.alive():
            if self.bulkhead is not None:  # granted after the call ended: never sent
                self.bulkhead.release()
            return
        self.attempt = number
        self.current = sent
        self.sent += 1
        client.attempts += 1
        gives_up = self.ends_at
        per_try = self.per_try_timeout
        if per_try is not None:
            # a no-op once the attempt is closed (``alive`` never comes back): cancelled then
            sent.timer = client.ctx.timeout_line(per_try).add(
                lambda: self.settle(sent, TIMEOUT, None)
            )
            gives_up = min(gives_up, env.now + per_try)
        unit = None if self.draws is None else self.draws(number)
        carried = gives_up if self.propagate else NO_DEADLINE
        network, source, destination = client.network, client.source, self.destination
        target, work = self.target, self.work
        network.send(
            source,
            destination,
            lambda: target.call(
                work,
                lambda outcome, value: _answer(
                    network, destination, source, lambda: self.settle(sent, outcome, value)
                ),
                unit,
                carried,
            ),
        )

    def settle(self, sent: _Attempt, outcome: int, value: Any) -> None:
        number = sent.number
        if self.finished or self.attempt != number or not self.alive():
            self.close(sent, outcome != OK)
            return  # an answer to an attempt already given up on
        self.attempt = -1
        self.close(sent, outcome != OK)
        if outcome == OK:
            self.end(OK)
            return
        budget = self.budget
        if not self.policy.retries_after(failure_of(outcome, value), number) or (
            budget is not None and not budget.spend()
        ):
            self.end(TIMEOUT if outcome == TIMEOUT else ERROR)
            return
        backoff = self.backoff
        ceiling = min(backoff.cap, (2 ** (number + 1) - 1) * backoff.base)
        later(self.client.ctx.env, self.jitter() * ceiling, lambda: self.try_(number + 1))


class HttpClient:
    """The calls one service makes to others."""

    def __init__(
        self, ctx: SimContext, network: Network, source: str, services: dict[str, Service]
    ) -> None:
        self.ctx = ctx
        self.network = network
        self.source = source
        self.services = services
        self.calls = 0
        """Calls made (each with one or more attempts)."""
        self.attempts = 0
        """Attempts sent, retries included: ``attempts / calls`` is the retry amplification."""
        self._ended = ctx.recorder.table(
            "http_calls",
            {"time": "d", "source": "s", "destination": "s", "attempts": "i", "outcome": "b"},
        ).append

    def call(
        self,
        destination: str,
        work: Callable[[Job], None],
        done: Callable[[int], None],
        *,
        timeout: float | None,
        per_try_timeout: float | None,
        policy: RetryPolicy,
        backoff: Backoff,
        alive: Callable[[], bool],
        draws: Callable[[int], WorkDraws] | None = None,
        guards: Guards = NO_GUARDS,
        deadline: float = NO_DEADLINE,
        propagate: bool = False,
    ) -> None:
        """Call ``destination`` to run ``work``; ``done(outcome)`` once: ``OK``, ``ERROR``
        after the last attempt failed (or the edge's guards refused one), ``TIMEOUT`` when the
        route timeout, the caller's ``deadline`` or the last attempt's per-try timeout fired.
        ``draws(attempt)`` names each attempt's work. With ``propagate`` each attempt carries
        the time the caller stops waiting for it, so the callee can drop work no one awaits."""
        env = self.ctx.env
        call = _Call(self, destination, env.now)
        call.target = self.services[destination]
        call.jitter = self.ctx.stream(f"backoff:{self.source}->{destination}").uniform
        call.breaker, call.bulkhead, call.budget = guards.breaker, guards.bulkhead, guards.budget
        call.work, call.done, call.alive, call.draws = work, done, alive, draws
        call.policy, call.backoff = policy, backoff
        call.per_try_timeout, call.propagate = per_try_timeout, propagate
        self.calls += 1
        if guards.budget is not None:
            guards.budget.deposit()
        ends_at = deadline if timeout is None else min(deadline, env.now + timeout)
        call.ends_at = ends_at
        if timeout is not None and ends_at == env.now + timeout:
            call.timer = self.ctx.timeout_line(timeout).add(call.timed_out)
        elif ends_at != NO_DEADLINE:
            later(env, ends_at - env.now, call.timed_out)
        call.try_(0)


def _answer(network: Network, source: str, destination: str, deliver: Callable[[], None]) -> None:
    network.send(source, destination, deliver)
