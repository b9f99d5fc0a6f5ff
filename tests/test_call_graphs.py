"""Call graphs: a request's calls to downstream services, in every pattern, checked against
queueing theory (a Jackson network with feedback, a tandem of M/M/1 stations), against exact
sums where nothing queues, and the graph's validation (unknown callee, cycles without end)."""

from __future__ import annotations

import math

import pytest
import scipy.stats

from sim import api
from sim.config.graph import expected_visits
from sim.scenario import ScenarioError

MU = 100.0
"""Service rate of each station (a mean service time of 10 ms)."""


def _network(scenario_factory, services, *, rate: float, duration: float, reps: int, seed: int):
    return scenario_factory(
        seed=seed,
        replications=reps,
        warmup=20,
        drain=0,
        services=services,
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": next(iter(services)), "replicas": [], "keys": 1},
        workload={
            "arrivals": "poisson",
            "phases": [{"duration": duration, "rate": rate}],
            "mix": {"read": 1, "write": 0},
            "timeout": "1h",
        },
        patterns=[{"kind": "shared_db"}],
    )


def _interval(results: api.Results, metric: str) -> tuple[float, float, float]:
    """The Student-t 95 % interval of a metric's mean over the replications."""
    table = results.per_replication
    values = table[table["metric"] == metric]["value"].to_numpy()
    mean = float(values.mean())
    half = scipy.stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / math.sqrt(len(values))
    return mean, mean - half, mean + half


def test_a_service_calling_itself_again_matches_the_jackson_time_in_system(scenario_factory):
    rate, again = 49.0, 0.3
    station = {"instances": 1, "concurrency": 1, "service_time": 1 / MU}
    services = {"worker": {**station, "calls": [{"to": "worker", "probability": again}]}}
    scenario = _network(scenario_factory, services, rate=rate, duration=300, reps=8, seed=3)
    mean, low, high = _interval(api.run(scenario, workers=1), "latency_mean")
    effective = rate / (1 - again)  # per visit an M/M/1 with the feedback's arrivals
    expected = 1 / (MU - effective) / (1 - again)  # expected visits x time per visit
    assert low <= expected <= high, f"analytic {expected:.5f} outside [{low:.5f}, {high:.5f}]"
    assert high - low < 0.15 * expected, "the interval is too wide to say anything"
    assert mean > 1 / (MU - rate), "feedback adds visits and load"


def test_a_tandem_matches_the_sum_of_its_mm1_times(scenario_factory):
    rate, second = 50.0, 80.0
    services = {
        "front": {
            "instances": 1,
            "concurrency": 1,
            "service_time": 1 / MU,
            "calls": [{"to": "back"}],
        },
        "back": {"instances": 1, "concurrency": 1, "service_time": 1 / second},
    }
    scenario = _network(scenario_factory, services, rate=rate, duration=300, reps=8, seed=5)
    _mean, low, high = _interval(api.run(scenario, workers=1), "latency_mean")
    expected = 1 / (MU - rate) + 1 / (second - rate)
    assert low <= expected <= high, f"analytic {expected:.5f} outside [{low:.5f}, {high:.5f}]"
    assert high - low < 0.15 * expected


def _constant(ms: float, **more):
    return {
        "instances": 1,
        "concurrency": 8,
        "service_time": {"dist": "constant", "value": ms / 1000},
        **more,
    }


@pytest.mark.parametrize("kind", ["shared_db", "sync_http", "dual_write", "cdc"])
def test_every_pattern_adds_the_calls_to_its_own_work(scenario_factory, kind):
    """Nothing queues (uniform arrivals, 8 slots): a read at orders takes orders' 1 ms, then its
    sequential calls to billing (2 ms) and, in parallel, to audit (3 ms) and ledger (5 ms)."""
    scenario = scenario_factory(
        services={
            "users": _constant(1),
            "orders": _constant(
                1,
                calls=[
                    {"to": "billing"},
                    {"to": "audit", "mode": "parallel"},
                    {"to": "ledger", "mode": "parallel"},
                ],
            ),
            "billing": _constant(2),
            "audit": _constant(3),
            "ledger": _constant(5),
        },
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "users", "replicas": ["orders"], "keys": 10},
        workload={
            "arrivals": "uniform",
            "phases": [{"duration": 10, "rate": 5}],
            "mix": {"read": 0.5, "write": 0.5},
        },
        patterns=[{"kind": kind}],
    )
    requests = api.run(scenario, workers=1).requests
    reads = requests[requests["op"] == "read"]
    assert len(reads) > 10 and (reads["outcome"] == "ok").all()
    assert reads["latency"].to_numpy() == pytest.approx(0.001 + 0.002 + 0.005, abs=1e-12)


def test_the_same_seed_makes_the_same_calls_and_a_probability_is_a_share(scenario_factory):
    services = {
        "front": _constant(1, calls=[{"to": "back", "probability": 0.25}]),
        "back": _constant(4),
    }
    scenario = scenario_factory(
        services=services,
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "front", "replicas": [], "keys": 10},
        workload={
            "arrivals": "uniform",
            "phases": [{"duration": 200, "rate": 5}],
            "mix": {"read": 1, "write": 0},
        },
        patterns=[{"kind": "shared_db"}],
    )
    first = api.run(scenario, workers=1).requests
    again = api.run(scenario, workers=1).requests
    assert first.equals(again)
    called = (first["latency"] > 0.003).mean()
    assert set(first["latency"].round(9)) == {0.001, 0.005}
    # 1000 requests, each calling with probability 0.25: a share far from it is a broken coin
    assert scipy.stats.binomtest(int(called * len(first)), len(first), 0.25).pvalue > 1e-6


def test_expected_visits_come_from_the_routing_matrix(scenario_factory):
    scenario = scenario_factory(
        services={
            "a": {"calls": [{"to": "b"}]},
            "b": {"calls": [{"to": "a", "probability": 0.5}, {"to": "c", "probability": 0.2}]},
            "c": {},
        },
        data={"owner": "a", "replicas": []},
    )
    visits = expected_visits(scenario.services, "a")
    assert visits == pytest.approx(
        {"a": 2.0, "b": 2.0, "c": 0.4, "users": 0.0, "orders": 0.0, "billing": 0.0}
    )


def _errors(scenario_factory, services) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        scenario_factory(services=services, data={"owner": "a", "replicas": []})
    return [str(issue) for issue in caught.value.issues]


def test_a_cycle_a_request_goes_round_forever_is_refused_where_it_starts(scenario_factory):
    errors = _errors(
        scenario_factory,
        {"a": {"calls": [{"to": "b"}]}, "b": {"calls": [{"to": "a"}]}, "c": {}},
    )
    assert len(errors) == 1
    assert "services.a.calls" in errors[0] and "cycle of a, b" in errors[0]


def test_a_call_to_an_unknown_service_is_refused_at_its_callee(scenario_factory):
    errors = _errors(
        scenario_factory, {"a": {"calls": [{"to": "a", "probability": 0.1}, {"to": "nobody"}]}}
    )
    assert len(errors) == 1
    assert "services.a.calls[1].to" in errors[0] and "must name a service" in errors[0]


def test_a_probability_outside_0_and_1_is_refused(scenario_factory):
    errors = _errors(scenario_factory, {"a": {"calls": [{"to": "a", "probability": -0.1}]}})
    assert any("services.a.calls[0].probability" in e for e in errors)
