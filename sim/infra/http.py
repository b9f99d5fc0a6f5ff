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

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

import simpy

from sim.config.clients import Backoff
from sim.config.policy import CallPolicy
from sim.infra.guards import Bulkhead, CircuitBreaker
from sim.infra.job import NO_DEADLINE
from sim.infra.network import Network
from sim.infra.service import Job, Service
from sim.kernel.codes import ERROR, OK, TIMEOUT
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import later

__all__ = [
    "ANY_FAILURE",
    "NO_GUARDS",
    "Guards",
    "HttpClient",
    "RetryBudget",
    "RetryPolicy",
    "failure_of",
]

_RETRIED_BY: dict[str, frozenset[str]] = {
    "connect-failure": frozenset({"connect-failure", "5xx"}),
    "503": frozenset({"retriable-status-codes", "unavailable", "gateway-error", "5xx"}),
    "reset": frozenset({"reset", "5xx"}),
    "per-try-timeout": frozenset({"reset", "gateway-error", "5xx"}),
    "500": frozenset({"5xx"}),
    "429": frozenset(),
}
ANY_FAILURE = frozenset({"5xx", "reset", "connect-failure", "retriable-status-codes"})
"""A retry policy that retries every failure (a two-phase commit decision must get through)."""


def failure_of(outcome: int, value: Any) -> str:
    """The kind of failure an attempt's answer is (see the module docstring)."""
    if outcome == TIMEOUT:
        return "per-try-timeout"
    if value == "refused":
        return "connect-failure"
    if value in ("injected", "shed"):  # an error fault, or a full queue shedding load
        return "503"
    if value == "throttled":  # the callee's rate limiter
        return "429"
    if value in ("crashed", "reset"):  # a crash, or a hang's held connection killed
        return "reset"
    return "500"


class RetryPolicy:
    """When a failed attempt is tried again, and how many times."""

    __slots__ = ("retries", "retry_on")

    def __init__(self, retries: int | None, retry_on: Iterable[str]) -> None:
        self.retries = retries
        """Retries after the first attempt (None: until it succeeds)."""
        self.retry_on = frozenset(retry_on)

    def retries_after(self, failure: str, attempt: int) -> bool:
        """Whether attempt ``attempt`` (0-based), failed this way, is tried again."""
        if self.retries is not None and attempt >= self.retries:
            return False
        return bool(self.retry_on & _RETRIED_BY[failure])


RETRY_BUDGET_TTL = 10.0
"""Seconds a call's share of a retry stays usable: Finagle's RetryBudget default ttl."""


class RetryBudget:
    """Retries as a share of recent calls, as Finagle's ``RetryBudget`` and Envoy's
    ``retry_budget`` bound them: a retry is sent only while the retries of the last
    :data:`RETRY_BUDGET_TTL` seconds, this one included, stay within ``share`` of the calls of
    those seconds. So retries never exceed ``share`` × calls, and a failing callee cannot be hit
    by more than ``1 + share`` attempts per call on average (a retry storm is capped) — and, as
    deposits expire, a calm minute does not bank retries for a later storm. Left out:
    Finagle's minimum of 10 retries per second."""

    __slots__ = ("_calls", "_retries", "denied", "env", "share")

    def __init__(self, env: simpy.Environment, share: float) -> None:
        self.env = env
        self.share = share
        self._calls: deque[float] = deque()
        self._retries: deque[float] = deque()
        self.denied = 0
        """Retries the budget refused."""

    def deposit(self) -> None:
        """A call is made."""
        self._calls.append(self.env.now)

    def spend(self) -> bool:
        """Whether a retry may be sent now (it is counted if so)."""
        now = self.env.now
        horizon = now - RETRY_BUDGET_TTL
        calls, retries = self._calls, self._retries
        while calls and calls[0] <= horizon:
            calls.popleft()
        while retries and retries[0] <= horizon:
            retries.popleft()
        if len(retries) + 1 <= self.share * len(calls):
            retries.append(now)
            return True
        self.denied += 1
        return False


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

    __slots__ = ("number", "open", "started")

    def __init__(self, number: int, started: float) -> None:
        self.number = number
        self.started = started
        self.open = True


class _Call:
    """One call: the attempt under way, the attempts sent, and whether the caller has its
    answer yet."""

    __slots__ = ("attempt", "current", "done", "sent", "started")

    def __init__(self, started: float) -> None:
        self.attempt = 0
        self.current: _Attempt | None = None
        self.done = False
        self.sent = 0
        self.started = started


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
            {"time": "d", "source": "O", "destination": "O", "attempts": "q", "outcome": "q"},
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
        network = self.network
        source = self.source
        target = self.services[destination]
        jitter = self.ctx.stream(f"backoff:{source}->{destination}").uniform
        breaker, bulkhead, budget = guards.breaker, guards.bulkhead, guards.budget
        call = _Call(env.now)
        self.calls += 1
        if budget is not None:
            budget.deposit()
        ends_at = deadline if timeout is None else min(deadline, env.now + timeout)

        def close(sent: _Attempt | None, failed: bool) -> None:
            """The caller stops waiting for attempt ``sent``: return its permit, record it."""
            if sent is None or not sent.open:
                return
            sent.open = False
            if bulkhead is not None:
                bulkhead.release()
            if breaker is not None:
                breaker.record(failed, env.now - sent.started)

        def end(outcome: int) -> None:
            if call.done:
                return
            call.done = True
            self._ended(call.started, source, destination, call.sent, outcome)
            close(call.current, outcome != OK)  # a dead caller's permit is returned too
            if alive():
                done(outcome)

        def attempt(number: int) -> None:
            if call.done:
                return
            if not alive():  # the caller died: the call ends unanswered
                end(ERROR)
                return
            if breaker is not None and not breaker.permit():
                end(ERROR)  # not permitted: fail fast, no retry
                return
            if bulkhead is None:
                send(number)
                return

            def refused() -> None:
                if breaker is not None:
                    breaker.record(True, 0.0)
                end(ERROR)

            bulkhead.acquire(lambda: send(number), refused)

        def send(number: int) -> None:
            sent = _Attempt(number, env.now)
            if call.done or not alive():
                if bulkhead is not None:  # granted after the call ended: never sent
                    bulkhead.release()
                return
            call.attempt = number
            call.current = sent
            call.sent += 1
            self.attempts += 1

            def settle(outcome: int, value: Any) -> None:
                if call.done or call.attempt != number or not alive():
                    close(sent, outcome != OK)
                    return  # an answer to an attempt already given up on
                call.attempt = -1
                close(sent, outcome != OK)
                if outcome == OK:
                    end(OK)
                    return
                if not policy.retries_after(failure_of(outcome, value), number) or (
                    budget is not None and not budget.spend()
                ):
                    end(TIMEOUT if outcome == TIMEOUT else ERROR)
                    return
                ceiling = min(backoff.cap, (2 ** (number + 1) - 1) * backoff.base)
                later(env, jitter() * ceiling, lambda: attempt(number + 1))

            gives_up = ends_at
            if per_try_timeout is not None:
                later(env, per_try_timeout, lambda: settle(TIMEOUT, None))
                gives_up = min(gives_up, env.now + per_try_timeout)
            unit = None if draws is None else draws(number)
            carried = gives_up if propagate else NO_DEADLINE
            network.send(
                source,
                destination,
                lambda: target.call(
                    work,
                    lambda outcome, value: _answer(
                        network, destination, source, lambda: settle(outcome, value)
                    ),
                    unit,
                    carried,
                ),
            )

        if timeout is not None and ends_at == env.now + timeout:
            later(env, timeout, lambda: end(TIMEOUT))
        elif ends_at != NO_DEADLINE:
            later(env, ends_at - env.now, lambda: end(TIMEOUT))
        attempt(0)


def _answer(network: Network, source: str, destination: str, deliver: Callable[[], None]) -> None:
    network.send(source, destination, deliver)
