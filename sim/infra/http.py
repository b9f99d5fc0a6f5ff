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
503                    an ``error`` fault at the callee (unavailable)       ``retriable-status-codes`` (503), ``unavailable``, ``gateway-error``, ``5xx``
reset                  the callee crashed while handling it, or a hang     ``reset``, ``5xx``
                       that held it ended
per-try timeout        no answer within ``per_try_timeout``                ``reset``, ``gateway-error``, ``5xx``
500                    the callee failed it (its database failed, ...)     ``5xx``
=====================  ==================================================  ================

Istio's default policy retries 2 times on connect failures, refused streams, unavailable,
cancelled and 503 [ISTIO], so by default neither a per-try timeout nor a reset is retried.
The caller's ``alive()`` is asked before each attempt and when an answer arrives: a caller that
died (its instance crashed) neither retries nor hears the answer.

An optional :class:`RetryBudget` bounds retries to a share of the calls.

Left out: connection pools and keep-alive, circuit breakers, bulkheads and deadline
propagation, retries on other hosts (every attempt goes through the callee's
balancer, which may well pick another instance).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sim.config.clients import Backoff
from sim.infra.network import Network
from sim.infra.service import Job, Service
from sim.kernel.codes import ERROR, OK, TIMEOUT
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import later

__all__ = ["ANY_FAILURE", "HttpClient", "RetryPolicy", "failure_of"]

_RETRIED_BY: dict[str, frozenset[str]] = {
    "connect-failure": frozenset({"connect-failure", "5xx"}),
    "503": frozenset({"retriable-status-codes", "unavailable", "gateway-error", "5xx"}),
    "reset": frozenset({"reset", "5xx"}),
    "per-try-timeout": frozenset({"reset", "gateway-error", "5xx"}),
    "500": frozenset({"5xx"}),
}
ANY_FAILURE = frozenset({"5xx", "reset", "connect-failure", "retriable-status-codes"})
"""A retry policy that retries every failure (a two-phase commit decision must get through)."""


def failure_of(outcome: int, value: Any) -> str:
    """The kind of failure an attempt's answer is (see the module docstring)."""
    if outcome == TIMEOUT:
        return "per-try-timeout"
    if value == "refused":
        return "connect-failure"
    if value == "injected":
        return "503"
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


class RetryBudget:
    """Retries as a share of calls, as Finagle's ``RetryBudget`` and Envoy's ``retry_budget``
    bound them: each call deposits ``share`` of a retry, each retry spends a whole one, and no
    retry is sent without one in the bank — so retries never exceed ``share`` × calls, and a
    failing callee cannot be hit by more than ``1 + share`` attempts per call on average (a
    retry storm is capped). Left out: Finagle's minimum of retries per second and its window."""

    __slots__ = ("balance", "denied", "share")

    def __init__(self, share: float) -> None:
        self.share = share
        self.balance = 0.0
        self.denied = 0
        """Retries the budget refused."""

    def deposit(self) -> None:
        self.balance += self.share

    def spend(self) -> bool:
        if self.balance >= 1.0:
            self.balance -= 1.0
            return True
        self.denied += 1
        return False


class _Call:
    """One call: the attempt under way, and whether the caller has its answer yet."""

    __slots__ = ("attempt", "done")

    def __init__(self) -> None:
        self.attempt = 0
        self.done = False


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
        budget: RetryBudget | None = None,
    ) -> None:
        """Call ``destination`` to run ``work``; ``done(outcome)`` once: ``OK``, ``ERROR``
        after the last attempt failed, ``TIMEOUT`` when the route timeout (or the last
        attempt's per-try timeout) fired. ``draws(attempt)`` names each attempt's work; a
        ``budget`` must allow each retry."""
        env = self.ctx.env
        network = self.network
        source = self.source
        target = self.services[destination]
        jitter = self.ctx.stream(f"backoff:{source}->{destination}").uniform
        call = _Call()
        self.calls += 1
        if budget is not None:
            budget.deposit()

        def end(outcome: int) -> None:
            if not call.done and alive():
                call.done = True
                done(outcome)

        def attempt(number: int) -> None:
            if call.done or not alive():
                return
            call.attempt = number
            self.attempts += 1

            def settle(outcome: int, value: Any) -> None:
                if call.done or call.attempt != number or not alive():
                    return  # an answer to an attempt already given up on
                call.attempt = -1
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

            if per_try_timeout is not None:
                later(env, per_try_timeout, lambda: settle(TIMEOUT, None))
            unit = None if draws is None else draws(number)
            network.send(
                source,
                destination,
                lambda: target.call(
                    work,
                    lambda outcome, value: _answer(
                        network, destination, source, lambda: settle(outcome, value)
                    ),
                    unit,
                ),
            )

        if timeout is not None:
            later(env, timeout, lambda: end(TIMEOUT))
        attempt(0)


def _answer(network: Network, source: str, destination: str, deliver: Callable[[], None]) -> None:
    network.send(source, destination, deliver)
