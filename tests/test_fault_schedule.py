"""Recurring fault windows (``schedule``) and the coin per window (``window_probability``):
the windows are the expected list, deterministic per seed, and the same in every pattern."""

from __future__ import annotations

import pytest
from conftest import make_scenario
from hypothesis import given
from hypothesis import strategies as st

from sim import api
from sim.faults.schedule import Schedule, recurring_windows
from sim.kernel.rng import Streams

PATTERNS = [{"kind": "shared_db"}, {"kind": "sync_http", "timeout": "200ms"}]


def _windows(results: api.Results, pattern: str, replication: int = 0) -> list[tuple]:
    [run] = [r for r in results.runs if r.pattern == pattern and r.replication == replication]
    return [(row.start, row.end) for row in run.faults.itertuples() if row.applied]


def test_a_schedule_gives_the_expected_windows_until_the_load_ends() -> None:
    crash = {
        "kind": "crash",
        "target": "service:users",
        "start": 2,
        "schedule": {"every": 5, "duration": "1500ms"},
    }
    scenario = make_scenario(patterns=PATTERNS, faults=[crash], data={"replicas": []})
    results = api.run(scenario, workers=1)
    expected = [(2.0, 3.5), (7.0, 8.5), (12.0, 13.5), (17.0, 18.5)]
    for pattern in ("shared_db", "sync_http"):
        assert _windows(results, pattern) == expected
    requests = results.requests[results.requests["pattern"] == "shared_db"]
    starts = requests["start"]
    inside = starts.apply(lambda t: any(a + 0.01 < t < b - 0.01 for a, b in expected))
    between = starts.apply(lambda t: all(not a - 0.01 < t < b + 0.1 for a, b in expected))
    assert (requests[inside]["outcome"] == "error").all()
    assert (requests[between]["outcome"] == "ok").all()


def test_the_last_window_is_cut_where_the_load_ends() -> None:
    crash = {
        "kind": "crash",
        "target": "service:users",
        "start": 4,
        "duration": 3,
        "schedule": {"every": 8},
    }
    results = api.run(make_scenario(patterns=PATTERNS[:1], faults=[crash]), workers=1)
    assert _windows(results, "shared_db") == [(4.0, 7.0), (12.0, 15.0)]  # none opens at 20 s


def _jittered(seed: int, chance: float | None = 0.5) -> api.Scenario:
    latency = {
        "kind": "latency",
        "target": "db:users",
        "delay": "5ms",
        "start": 1,
        "schedule": {"every": 2, "duration": "500ms", "jitter": "1s"},
    }
    if chance is not None:
        latency["window_probability"] = chance
    return make_scenario(seed=seed, patterns=PATTERNS, faults=[latency], replications=2)


def test_jitter_and_coins_are_the_same_in_every_pattern_and_for_the_same_seed() -> None:
    first = api.run(_jittered(7), workers=1)
    again = api.run(_jittered(7), workers=1)
    for replication in (0, 1):
        windows = _windows(first, "shared_db", replication)
        assert windows == _windows(first, "sync_http", replication)  # common random numbers
        assert windows == _windows(again, "shared_db", replication)  # deterministic per seed
        nominal = [1.0 + 2 * k for k in range(10)]
        for start, end in windows:
            opened = max(n for n in nominal if n <= start)
            assert opened <= start < opened + 1.0  # late by less than the jitter
            assert end == pytest.approx(min(start + 0.5, 20.0))  # healed when the load ends
        assert 0 < len(windows) < 10  # the coin skipped some, not all
    assert _windows(first, "shared_db", 0) != _windows(first, "shared_db", 1)
    other = api.run(_jittered(8), workers=1)
    assert _windows(other, "shared_db") != _windows(first, "shared_db")


def test_the_coin_does_not_move_the_jitter() -> None:
    every = _windows(api.run(_jittered(7, chance=None), workers=1), "shared_db")
    some = _windows(api.run(_jittered(7), workers=1), "shared_db")
    assert len(every) == 10
    assert set(some) < set(every)


def test_probability_on_a_fault_other_than_error_points_at_window_probability() -> None:
    crash = {"kind": "crash", "target": "service:users", "start": 1, "probability": "50%"}
    with pytest.raises(api.ScenarioError, match="write window_probability"):
        make_scenario(faults=[crash])


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"every": 2, "duration": 2, "jitter": 1}, "would overlap"),
        ({"every": 2}, "needs the length of each window"),
    ],
)
def test_a_schedule_that_cannot_work_is_refused(schedule: dict, message: str) -> None:
    crash = {"kind": "crash", "target": "service:users", "start": 1, "schedule": schedule}
    with pytest.raises(api.ScenarioError, match=message):
        make_scenario(faults=[crash])


def test_the_length_of_each_window_is_given_once() -> None:
    crash = {
        "kind": "crash",
        "target": "service:users",
        "start": 1,
        "duration": 1,
        "schedule": {"every": 5, "duration": 1},
    }
    with pytest.raises(api.ScenarioError, match="once"):
        make_scenario(faults=[crash])


def test_an_slo_during_fault_judges_the_recurring_windows() -> None:
    crash = {
        "kind": "crash",
        "target": "service:users",
        "start": 2,
        "schedule": {"every": 5, "duration": 1},
    }
    scenario = make_scenario(
        patterns=PATTERNS[:1],
        faults=[crash],
        data={"replicas": []},
        slo=["error_rate < 1% during steady"],
    )
    results = api.run(scenario, workers=1)
    assert results.metric("shared_db", "error_rate") > 0.1
    assert results.metric("shared_db", "error_rate@steady") < 0.01


@given(
    start=st.floats(0, 50),
    every=st.floats(0.5, 20),
    share=st.floats(0.01, 0.99),
    jitter_share=st.floats(0, 1),
    heal_by=st.floats(1, 200),
    seed=st.integers(0, 2**16),
)
def test_recurring_windows_never_overlap_and_stay_within_the_load(
    start: float, every: float, share: float, jitter_share: float, heal_by: float, seed: int
) -> None:
    length = every * share
    jitter = (every - length) * jitter_share
    schedule = Schedule(every=every, duration=length, jitter=jitter)
    windows = recurring_windows(start, length, schedule, None, heal_by, Streams(seed), 0)
    nominal = [start + k * every for k in range(int((heal_by - start) / every) + 2)]
    # a window for each nominal start before the end, but one jittered past it
    assert sum(n < heal_by - jitter for n in nominal) <= len(windows)
    assert len(windows) <= sum(n < heal_by for n in nominal)
    for k, (opens, ends) in enumerate(windows):
        assert start + k * every <= opens < start + k * every + max(jitter, 1e-12)
        assert opens < ends <= min(opens + length, heal_by) + 1e-9
        if k:
            assert windows[k - 1][1] <= opens  # one fault's windows never overlap


def test_a_schedule_that_would_open_too_many_windows_is_refused() -> None:
    crash = {
        "kind": "crash",
        "target": "service:users",
        "start": 0,
        "schedule": {"every": "1ms", "duration": "1us"},
    }
    with pytest.raises(api.ScenarioError, match="20,000 windows before the load ends"):
        make_scenario(faults=[crash])
