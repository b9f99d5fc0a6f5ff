"""The guards of a call edge on their own: resilience4j's circuit breaker and bulkhead.

The breaker is checked against a plain reference model (a hypothesis state machine), and on the
rules resilience4j documents: it opens once the window holds ``minimum_calls`` and the failure
rate reaches the threshold, refuses everything while open, lets exactly ``half_open_calls``
trials through, and closes or opens again on their outcome.
"""

from __future__ import annotations

from collections import deque

import simpy
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from sim.config.resilience import Bulkhead as BulkheadSettings
from sim.config.resilience import CircuitBreaker as BreakerSettings
from sim.infra.guards import CLOSED, HALF_OPEN, OPEN, Bulkhead, CircuitBreaker


def _breaker(**settings: object) -> tuple[simpy.Environment, CircuitBreaker]:
    env = simpy.Environment()
    return env, CircuitBreaker(env, BreakerSettings.model_validate(settings))


def _advance(env: simpy.Environment, seconds: float) -> None:
    env.run(until=env.now + seconds)


def test_the_breaker_opens_when_a_full_window_reaches_the_failure_rate() -> None:
    _env, breaker = _breaker(size=10, minimum_calls=10, failure_rate=0.5, wait_in_open=5)
    for failed in [False] * 5 + [True] * 4:
        assert breaker.permit()
        breaker.record(failed, 0.01)
    assert breaker.state == CLOSED  # 9 calls: below the minimum
    breaker.permit()
    breaker.record(True, 0.01)  # 5 of 10 failed: 50 %
    assert breaker.state == OPEN
    assert not breaker.permit() and breaker.not_permitted == 1


def test_a_count_window_forgets_the_oldest_call() -> None:
    _env, breaker = _breaker(size=4, minimum_calls=4, failure_rate=0.75)
    for failed in (True, True, False, False):  # 50 %
        breaker.record(failed, 0.0)
    assert breaker.state == CLOSED
    for failed in (True, True):
        breaker.record(failed, 0.0)
    assert breaker.state == CLOSED  # the last four: ok, ok, failed, failed -> 50 %
    breaker.record(True, 0.0)  # ok, failed, failed, failed -> 75 %
    assert breaker.state == OPEN


def test_a_time_window_counts_only_the_last_seconds() -> None:
    env, breaker = _breaker(window="time", size=10, minimum_calls=3, failure_rate=0.5)
    breaker.record(True, 0.0)
    breaker.record(True, 0.0)
    _advance(env, 11)  # both failures leave the window
    breaker.record(False, 0.0)
    breaker.record(False, 0.0)
    breaker.record(True, 0.0)
    assert breaker.state == CLOSED  # 1 of 3
    breaker.record(True, 0.0)
    assert breaker.state == OPEN  # 2 of 4


def test_slow_calls_open_the_breaker_too() -> None:
    _env, breaker = _breaker(
        size=4, minimum_calls=4, slow_call_rate=0.5, slow_call_duration=1, failure_rate=1.0
    )
    for duration in (0.1, 2.0, 0.1, 1.0):  # a call of exactly the threshold is not slow
        breaker.record(False, duration)
    assert breaker.state == CLOSED
    breaker.record(False, 1.5)  # the last four: 2.0, 0.1, 1.0, 1.5 -> half slow
    assert breaker.state == OPEN


def test_half_open_lets_the_trials_through_and_closes_when_they_succeed() -> None:
    env, breaker = _breaker(size=2, minimum_calls=2, wait_in_open=5, half_open_calls=3)
    breaker.record(True, 0.0)
    breaker.record(True, 0.0)
    assert breaker.state == OPEN
    _advance(env, 4.9)
    assert not breaker.permit()
    _advance(env, 0.1)
    assert [breaker.permit() for _ in range(5)] == [True, True, True, False, False]
    assert breaker.state == HALF_OPEN
    for _ in range(3):
        breaker.record(False, 0.0)
    assert breaker.state == CLOSED
    assert breaker.open_seconds() == 5.0
    assert [state for _t, state in breaker.transitions] == [OPEN, HALF_OPEN, CLOSED]


def test_failing_trials_open_the_breaker_again() -> None:
    env, breaker = _breaker(size=2, minimum_calls=2, wait_in_open=5, half_open_calls=2)
    breaker.record(True, 0.0)
    breaker.record(True, 0.0)
    _advance(env, 5)
    assert breaker.permit() and breaker.permit()
    breaker.record(True, 0.0)
    breaker.record(False, 0.0)  # 50 % of the trials failed
    assert breaker.state == OPEN
    _advance(env, 2)
    assert breaker.open_seconds() == 7.0


class BreakerAgainstAReference(RuleBasedStateMachine):
    """The breaker and a dozen-line reference model of resilience4j's rules agree on every
    permit and every state after any sequence of calls, outcomes and waits."""

    SIZE, MINIMUM, WAIT, TRIALS = 5, 3, 2.0, 2

    def __init__(self) -> None:
        super().__init__()
        self.env, self.breaker = _breaker(
            size=self.SIZE,
            minimum_calls=self.MINIMUM,
            failure_rate=0.5,
            wait_in_open=self.WAIT,
            half_open_calls=self.TRIALS,
        )
        self.state = "closed"
        self.window: deque[bool] = deque(maxlen=self.SIZE)
        self.opened = 0.0
        self.trials = 0

    def _model_permit(self) -> bool:
        if self.state == "open" and self.env.now - self.opened >= self.WAIT:
            self.state, self.trials = "half_open", self.TRIALS
            self.window.clear()
        if self.state == "closed":
            return True
        if self.state == "half_open" and self.trials > 0:
            self.trials -= 1
            return True
        return False

    def _model_record(self, failed: bool) -> None:
        if self.state == "open":
            return
        self.window.append(failed)
        full = self.TRIALS if self.state == "half_open" else self.MINIMUM
        if len(self.window) >= full:
            tripped = sum(self.window) >= 0.5 * len(self.window)
            if tripped:
                self.state, self.opened = "open", self.env.now
                self.window.clear()
            elif self.state == "half_open":
                self.state = "closed"
                self.window.clear()

    @rule(failed=st.booleans())
    def call(self, failed: bool) -> None:
        permitted = self.breaker.permit()
        assert permitted == self._model_permit()
        if permitted:
            self.breaker.record(failed, 0.0)
            self._model_record(failed)

    @rule(seconds=st.sampled_from([0.5, 1.0, 2.0, 3.0]))
    def wait(self, seconds: float) -> None:
        _advance(self.env, seconds)

    @invariant()
    def same_state(self) -> None:
        names = {CLOSED: "closed", OPEN: "open", HALF_OPEN: "half_open"}
        # the breaker turns half-open lazily, on the next permit, as the model does
        assert names[self.breaker.state] == self.state


TestBreakerAgainstAReference = BreakerAgainstAReference.TestCase


def test_a_bulkhead_refuses_past_its_permits_without_a_wait() -> None:
    env = simpy.Environment()
    bulkhead = Bulkhead(env, BulkheadSettings(max_concurrent=2))
    granted: list[int] = []
    refused: list[int] = []
    for n in range(3):
        bulkhead.acquire(lambda n=n: granted.append(n), lambda n=n: refused.append(n))
    assert granted == [0, 1] and refused == [2] and bulkhead.rejected == 1
    bulkhead.release()
    bulkhead.acquire(lambda: granted.append(3), lambda: refused.append(3))
    assert granted == [0, 1, 3]


def test_a_bulkhead_hands_a_freed_permit_to_the_first_waiter_in_time() -> None:
    env = simpy.Environment()
    bulkhead = Bulkhead(env, BulkheadSettings(max_concurrent=1, max_wait=1.0))
    got: list[tuple[str, float]] = []
    bulkhead.acquire(lambda: got.append(("a", env.now)), lambda: got.append(("a!", env.now)))
    bulkhead.acquire(lambda: got.append(("b", env.now)), lambda: got.append(("b!", env.now)))
    bulkhead.acquire(lambda: got.append(("c", env.now)), lambda: got.append(("c!", env.now)))
    env.run(until=0.5)
    bulkhead.release()  # b takes it at 0.5
    env.run(until=2.0)  # c gives up at 1.0
    assert got == [("a", 0.0), ("b", 0.5), ("c!", 1.0)]
    assert bulkhead.in_use == 1 and bulkhead.rejected == 1
