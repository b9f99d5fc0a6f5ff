"""Closed-loop users: the interactive response-time law holds, throughput follows latency,
each user has one request in flight, and a user's n-th request is the same in every pattern.

The law R = N/X − Z is checked on the residual per replication (a Student-t interval over
replications must hold 0); the textbook case is the machine-repairman queue, whose exact mean
response time comes from mean value analysis (exact for one exponential FCFS server).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import simpy
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sim import api
from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.rng import Streams
from sim.workload import ClosedUsers

USERS, THINK, SERVICE, DURATION, WARMUP = 5, 0.05, 0.01, 120.0, 10.0


def _repairman(scenario_factory, reps: int = 6, slo=(), **workload):
    return scenario_factory(
        slo=list(slo),
        seed=7,
        replications=reps,
        warmup=WARMUP,
        drain=0,
        services={"users": {"instances": 1, "concurrency": 1, "service_time": SERVICE}},
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "users", "replicas": [], "keys": 10},
        workload={
            "phases": [{"duration": DURATION, "closed": {"users": USERS, "think_time": THINK}}],
            "mix": {"read": 1, "write": 0},
            **workload,
        },
        patterns=[{"kind": "shared_db"}],
    )


def _x_and_r(requests: pd.DataFrame) -> pd.DataFrame:
    measured = requests[requests["start"] >= WARMUP]
    grouped = measured.groupby(["pattern", "replication"])["latency"]
    return pd.DataFrame(
        {"X": grouped.size() / (DURATION - WARMUP), "R": grouped.mean()}
    ).reset_index()


def _interval(values: np.ndarray) -> tuple[float, float]:
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def _mva(users: int, service: float, think: float) -> float:
    """Mean response time of ``users`` users at one exponential server (exact MVA)."""
    queue, response = 0.0, 0.0
    for n in range(1, users + 1):
        response = service * (1 + queue)
        queue = n / (response + think) * response
    return response


def test_response_time_law_holds_within_the_interval(scenario_factory) -> None:
    results = api.run(_repairman(scenario_factory), workers=1)
    table = _x_and_r(results.requests)
    residual = (table["R"] - (USERS / table["X"] - THINK)).to_numpy()
    low, high = _interval(residual)
    assert low <= 0 <= high, f"R - (N/X - Z) in [{low:.5f}, {high:.5f}]"
    assert high - low < 0.1 * table["R"].mean(), "the interval is too wide to say anything"
    # and the queue is the textbook one: MVA's exact mean response time is in the interval
    r_low, r_high = _interval(table["R"].to_numpy())
    assert r_low <= _mva(USERS, SERVICE, THINK) <= r_high
    # the run's own throughput is the same but for the requests in flight at the end (no drain)
    in_flight = USERS / (DURATION - WARMUP)
    assert abs(results.metric("shared_db", "throughput") - table["X"].mean()) <= in_flight


def test_a_client_timeout_ends_the_wait_and_sets_the_pace(scenario_factory) -> None:
    # every answer is slower than the client's timeout: R = timeout, X = N / (timeout + Z)
    scenario = _repairman(scenario_factory, reps=1, timeout="100ms")
    scenario = scenario.model_copy(
        update={"network": scenario.network.model_validate({"latency": "1s"})}
    )
    requests = api.run(scenario, workers=1).requests
    measured = requests[requests["start"] >= WARMUP]
    assert set(measured["outcome"]) == {"timeout"}
    waited = measured[measured["start"] < DURATION - 0.1]  # not cut by the end of the run
    assert np.allclose(waited["latency"], 0.1)
    expected = USERS / (0.1 + THINK) * (DURATION - WARMUP)
    assert abs(len(measured) - expected) < 5 * math.sqrt(expected)


def test_throughput_falls_where_latency_rises(scenario_factory) -> None:
    # writes at the owner; sync_http also writes each replica, whose database is slow
    scenario = scenario_factory(
        replications=2,
        drain=1,
        databases={"default": {"write_time": "1ms"}, "orders": {"write_time": "20ms"}},
        workload={
            "phases": [{"duration": 8, "closed": {"users": 10, "think_time": "20ms"}}],
            "mix": {"write": 1, "read": 0},
        },
        patterns=[{"kind": "shared_db"}, {"kind": "sync_http"}, {"kind": "cdc"}],
    )
    results = api.run(scenario, workers=1)
    rows = results.per_replication
    rows = rows[rows["metric"].isin(["throughput", "latency_mean"])]
    mean = rows.groupby(["pattern", "metric"])["value"].mean().unstack()
    assert mean.loc["sync_http", "latency_mean"] > 2 * mean.loc["cdc", "latency_mean"]
    assert mean.loc["sync_http", "throughput"] < 0.8 * mean.loc["cdc", "throughput"]
    for pattern in ("shared_db", "sync_http", "cdc"):  # the law, pattern by pattern
        x, r = mean.loc[pattern, "throughput"], mean.loc[pattern, "latency_mean"]
        assert abs(10 / x - 0.02 - r) < 0.1 * r + 0.001


def test_each_user_has_one_request_in_flight(scenario_factory) -> None:
    requests = api.run(_repairman(scenario_factory, reps=1), workers=1).requests
    starts = requests["start"].to_numpy()
    ends = starts + requests["latency"].to_numpy()
    events = np.concatenate([np.ones(len(starts)), -np.ones(len(ends))])
    order = np.lexsort((events, np.concatenate([starts, ends])))  # an end before a start
    assert np.cumsum(events[order]).max() == USERS


def _issued(answer_after, until: float = 20) -> dict[tuple, tuple]:
    """Drive the users of a tiny closed workload with a model that answers request ``i``
    after ``answer_after`` (seconds, or a function of ``i``); return each request's (op, key,
    target) by (phase, user, n)."""
    env = simpy.Environment()
    workload = WorkloadConfig(
        phases=[
            {"duration": 5, "closed": {"users": 3, "think_time": "10ms"}},
            {"duration": 5, "rate": 1},
            {
                "duration": 5,
                "closed": {
                    "users": 2,
                    "think_time": {"dist": "uniform", "low": 0.001, "high": 0.02},
                },
            },
        ],
        mix={"read": 0.5, "write": 0.2, "insert": 0.3},
    )
    data = DataConfig(owner="a", replicas=["b", "c"], keys=50, key_distribution={"zipf": 1.1})
    users = ClosedUsers(env, workload, data, Streams(3), fresh=50)
    seen: dict[tuple, tuple] = {}

    def add(op: int, key: int, target: int, ident: tuple[int, int, int]) -> int:
        seen[ident] = (op, key, target)
        return len(seen) - 1

    def arrive(index: int) -> None:
        delay = answer_after(index) if callable(answer_after) else answer_after
        env.timeout(delay).callbacks.append(lambda _e: users.answered(index))

    users.start(add, arrive)
    env.run(until=until)
    return seen


def test_a_users_nth_request_is_the_same_whatever_the_latency() -> None:
    fast, slow = _issued(0.001), _issued(0.02)
    assert len(fast) > len(slow) > 500  # the slower system serves fewer requests
    assert all(fast[ident] == request for ident, request in slow.items())
    assert {phase for phase, _, _ in fast} == {0, 2}


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**32 - 1), scale=st.floats(1e-4, 0.2))
def test_a_users_requests_do_not_depend_on_when_answers_come(seed: int, scale: float) -> None:
    latencies = np.random.default_rng(seed).exponential(scale, 100_000)
    reference = _issued(0.005, until=8)
    other = _issued(lambda i: float(latencies[i % len(latencies)]), until=8)
    common = reference.keys() & other.keys()
    assert common
    assert all(reference[ident] == other[ident] for ident in common)


def test_closed_inserts_never_reuse_a_key() -> None:
    issued = _issued(0.001)
    inserted = [key for op, key, _ in issued.values() if op == 3]
    assert len(inserted) > 300
    assert len(set(inserted)) == len(inserted)
    assert min(inserted) >= 50
    assert all(key < 50 for op, key, _ in issued.values() if op != 3)


def test_the_shipped_closed_scenario_gives_each_pattern_its_throughput() -> None:
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "closed-model.yaml"
    overrides = ["replications=1", "warmup=2s", "drain=5s", "workload.phases[0].duration=10s"]
    results = api.run(api.load(path, overrides=overrides), workers=1)
    throughput = {p: results.metric(p, "throughput") for p in ("shared_db", "sync_http", "cdc")}
    assert throughput["sync_http"] < 0.9 * min(throughput["shared_db"], throughput["cdc"])


def test_a_capacity_search_refuses_a_load_without_rates(scenario_factory) -> None:
    import pytest

    scenario = _repairman(scenario_factory, reps=1, slo=["p99(latency) < 1s"])
    with pytest.raises(ValueError, match="closed users and traces are not scaled"):
        api.capacity(scenario, workers=1)


def test_the_work_budget_bounds_a_closed_phase_by_its_think_time(scenario_factory) -> None:
    from sim.experiments.budget import estimate

    scenario = _repairman(scenario_factory, reps=1)
    # at most duration / mean think time + 1 requests per user, answers taking no time
    assert estimate(scenario, memory=10**12).requests_per_run == int(USERS * (DURATION / THINK + 1))
