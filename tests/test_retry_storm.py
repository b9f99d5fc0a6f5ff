"""The metastable failure of ``scenarios/retry-storm.yaml``: after a 20 s slowdown of the callee,
naive retries keep it overloaded although the trigger is gone, while a retry budget with a
circuit breaker, or propagated deadlines, let it recover (the shipped scenario, with shorter
phases; the budget alone is checked in ``test_throttling.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import api

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "retry-storm.yaml"


@pytest.fixture(scope="module")
def storm() -> api.Results:
    scenario = api.load(
        SCENARIO,
        overrides=[
            "replications=1",
            "warmup=10s",
            "workload.phases=[{name: calm, duration: 15s, rate: 120/s},"
            " {name: trigger, duration: 20s, rate: 120/s},"
            " {name: settle, duration: 45s, rate: 120/s},"
            " {name: after, duration: 30s, rate: 120/s}]",
            "faults=[{kind: latency, target: 'service:billing', start: 15s, duration: 20s,"
            " delay: 100ms}]",
        ],
    )
    return api.run(scenario, workers=1, patterns=["naive", "budget-and-breaker", "deadlines"])


def test_naive_retries_keep_the_callee_overloaded_after_the_trigger_is_gone(
    storm: api.Results,
) -> None:
    assert storm.metric("naive", "error_rate@after") == 1.0
    assert storm.metric("naive", "attempts_per_call") > 3


def test_a_retry_budget_and_a_breaker_recover(storm: api.Results) -> None:
    assert storm.metric("budget-and-breaker", "error_rate@after") == 0.0
    assert storm.metric("budget-and-breaker", "attempts_per_call") <= 1.1
    # the breaker opened within a second of the trigger and stayed open its 60 s
    assert 60 <= storm.metric("budget-and-breaker", "breaker_open_time") < 70


def test_propagated_deadlines_recover_by_dropping_abandoned_work(storm: api.Results) -> None:
    assert storm.metric("deadlines", "error_rate@after") == 0.0
    assert storm.metric("deadlines", "deadline_dropped") > 1_000
