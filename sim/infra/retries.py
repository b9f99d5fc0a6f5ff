"""Which failed attempts a call retries, and how many retries its edge may spend.

:class:`RetryPolicy` is Envoy's ``retry_on`` with a retry count: the kind of failure an
attempt's answer is (:func:`failure_of`, the table in :mod:`sim.infra.http`) decides whether
it is tried again. :class:`RetryBudget` is Finagle's ``RetryBudget`` (Envoy's
``retry_budget``): retries as a share of the calls of the last ten seconds.

Left out: Envoy's retry host predicates and priorities, and Finagle's minimum of 10 retries
per second.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from typing import Any

import simpy

from sim.kernel.codes import TIMEOUT

__all__ = [
    "ANY_FAILURE",
    "RETRY_BUDGET_TTL",
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
