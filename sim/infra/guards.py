"""Client-side guards of one call edge: resilience4j's circuit breaker and semaphore bulkhead.

**Circuit breaker** [R4J]. Closed, it records the outcome and duration of every attempt in a
sliding window — the last ``size`` attempts (``count``) or those of the last ``size`` seconds
(``time``). Once the window holds ``minimum_calls``, it opens when the share of failures reaches
``failure_rate`` or the share of slow attempts (longer than ``slow_call_duration``) reaches
``slow_call_rate``. Open, it refuses every attempt at once (resilience4j's
``CallNotPermittedException``) until ``wait_in_open`` has passed; the next attempt then finds it
half-open, where ``half_open_calls`` trial attempts are let through and others refused. When as
many outcomes as trial calls have been recorded, the breaker opens again if their rates reach a
threshold, and closes (with an empty window) otherwise. As in resilience4j, an outcome is
recorded in the state the breaker is in when it arrives (an attempt let through while closed
that ends in half-open counts among the trials), and outcomes arriving while open are ignored.
The transition from open to half-open happens on the first attempt after the wait
(``automaticTransitionFromOpenToHalfOpenEnabled`` is false by default).

**Bulkhead** [R4J]. At most ``max_concurrent`` attempts to the callee at once; an attempt over
it waits up to ``max_wait`` (0 by default) for a permit, first come first served, then is
refused (``BulkheadFullException``). A permit is returned when the caller stops waiting for the
attempt (its answer, or a timeout).

How a refused attempt ends, and where the guards sit around retries, is the HTTP client's
business (:mod:`sim.infra.http`). Left out: resilience4j's ``ignoreExceptions`` and
``recordExceptions`` (every failure counts), the rate limiter, the thread-pool bulkhead.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

import simpy

from sim.config.resilience import Bulkhead as BulkheadSettings
from sim.config.resilience import CircuitBreaker as BreakerSettings

__all__ = ["CLOSED", "HALF_OPEN", "OPEN", "STATE_NAMES", "Bulkhead", "CircuitBreaker"]

CLOSED, OPEN, HALF_OPEN = 0, 1, 2
STATE_NAMES = ("closed", "open", "half_open")


class CircuitBreaker:
    """The breaker of one call edge."""

    def __init__(self, env: simpy.Environment, settings: BreakerSettings) -> None:
        self.env = env
        self.settings = settings
        self.state = CLOSED
        self._window: deque[tuple[float, bool, bool]] = deque()
        self._failures = 0
        self._slow = 0
        self._trials_left = 0
        self._opened_at = 0.0
        self.open_time = 0.0
        """Seconds spent open (the current stretch counted by :meth:`open_seconds`)."""
        self.not_permitted = 0
        """Attempts refused while open or past the half-open trials."""
        self.transitions: list[tuple[float, int]] = []
        """(time, new state) of every change of state."""
        # a count window never holds more than its size: resilience4j evaluates once it is full
        count = settings.window == "count"
        self._needed = (
            min(settings.minimum_calls, settings.size) if count else settings.minimum_calls
        )

    def permit(self) -> bool:
        """Whether an attempt may go now (counts it as a trial in half-open)."""
        state = self.state
        if state == CLOSED:
            return True
        if state == OPEN:
            if self.env.now - self._opened_at < self.settings.wait_in_open:
                self.not_permitted += 1
                return False
            self._become(HALF_OPEN)
            self._trials_left = self.settings.half_open_calls
        if self._trials_left > 0:
            self._trials_left -= 1
            return True
        self.not_permitted += 1
        return False

    def record(self, failed: bool, duration: float) -> None:
        """The outcome of an attempt that was let through."""
        state = self.state
        if state == OPEN:
            return
        settings = self.settings
        slow = duration > settings.slow_call_duration
        window = self._window
        window.append((self.env.now, failed, slow))
        self._failures += failed
        self._slow += slow
        if state == HALF_OPEN:
            if len(window) >= settings.half_open_calls:
                self._become(OPEN if self._tripped() else CLOSED)
            return
        if settings.window == "count":
            while len(window) > settings.size:
                self._forget()
        else:
            horizon = self.env.now - settings.size
            while window and window[0][0] <= horizon:
                self._forget()
        if len(window) >= self._needed and self._tripped():
            self._become(OPEN)

    def open_seconds(self) -> float:
        """Seconds spent open so far, the current stretch included."""
        extra = self.env.now - self._opened_at if self.state == OPEN else 0.0
        return self.open_time + extra

    def _tripped(self) -> bool:
        total = len(self._window)
        settings = self.settings
        return (
            self._failures >= settings.failure_rate * total
            or self._slow >= settings.slow_call_rate * total
        )

    def _forget(self) -> None:
        _time, failed, slow = self._window.popleft()
        self._failures -= failed
        self._slow -= slow

    def _become(self, state: int) -> None:
        now = self.env.now
        if self.state == OPEN:
            self.open_time += now - self._opened_at
        if state == OPEN:
            self._opened_at = now
        self.state = state
        self._window.clear()
        self._failures = self._slow = 0
        self.transitions.append((now, state))


class Bulkhead:
    """The semaphore bulkhead of one call edge."""

    def __init__(self, env: simpy.Environment, settings: BulkheadSettings) -> None:
        self.env = env
        self.settings = settings
        self.in_use = 0
        self._waiting: deque[_Waiter] = deque()
        self.rejected = 0
        """Attempts refused because every permit was taken for longer than ``max_wait``."""

    def acquire(self, granted: Callable[[], None], refused: Callable[[], None]) -> None:
        """``granted()`` once a permit is held (at once if one is free), else ``refused()``."""
        waiting = self._waiting
        while waiting and not waiting[0].live:
            waiting.popleft()
        if self.in_use < self.settings.max_concurrent and not self._waiting:
            self.in_use += 1
            granted()
            return
        wait = self.settings.max_wait
        if wait <= 0.0:
            self.rejected += 1
            refused()
            return
        waiter = _Waiter(granted, refused)
        self._waiting.append(waiter)
        self.env.timeout(wait).callbacks.append(lambda _e: self._give_up(waiter))

    def release(self) -> None:
        """Return a permit: the first caller still waiting takes it."""
        while self._waiting:
            waiter = self._waiting.popleft()
            if waiter.live:
                waiter.live = False
                waiter.granted()
                return
        self.in_use -= 1

    def _give_up(self, waiter: _Waiter) -> None:
        if waiter.live:
            waiter.live = False
            self.rejected += 1
            waiter.refused()


class _Waiter:
    __slots__ = ("granted", "live", "refused")

    def __init__(self, granted: Callable[[], None], refused: Callable[[], None]) -> None:
        self.granted = granted
        self.refused = refused
        self.live = True
