"""Agreement with queueing theory: configured as a textbook queue, the simulator reproduces the
analytic mean time in system (M/M/1, M/M/c via Erlang C, M/D/1 via Pollaczek-Khinchine) within
the replication confidence interval, and never gets slower with more capacity."""

from __future__ import annotations

import math

import pytest

from sim import api


def _textbook(scenario_factory, *, servers: int, rate: float, service, duration: float, reps: int):
    return scenario_factory(
        seed=2024,
        replications=reps,
        warmup=200,
        drain=0,
        services={"users": {"instances": 1, "concurrency": servers, "service_time": service}},
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "users", "replicas": [], "keys": 1},
        workload={
            "arrivals": "poisson",
            "phases": [{"duration": duration, "rate": rate}],
            "mix": {"read": 1, "write": 0},
            "timeout": "100h",
        },
        patterns=[{"kind": "shared_db"}],
    )


def erlang_c_time_in_system(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Mean time in system of M/M/c."""
    load = arrival_rate / service_rate
    rho = load / servers
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / math.factorial(servers) / (1 - rho)
    waiting_probability = tail / (head + tail)
    return waiting_probability / (servers * service_rate - arrival_rate) + 1 / service_rate


def _ci(results: api.Results, metric: str) -> tuple[float, float, float]:
    row = results.summary[results.summary["metric"] == metric].iloc[0]
    return row["mean"], row["ci_low"], row["ci_high"]


@pytest.mark.parametrize(
    ("servers", "rate"),
    [(1, 0.7), (4, 3.2)],
    ids=["M/M/1", "M/M/4"],
)
def test_mean_latency_matches_erlang_c(scenario_factory, servers, rate):
    scenario = _textbook(
        scenario_factory, servers=servers, rate=rate, service="1s", duration=6000, reps=10
    )
    results = api.run(scenario, workers=1)
    _mean, low, high = _ci(results, "latency_mean")
    expected = erlang_c_time_in_system(rate, 1.0, servers)
    assert low <= expected <= high, f"analytic {expected:.4f} outside [{low:.4f}, {high:.4f}]"
    assert high - low < 0.15 * expected, "the interval is too wide to say anything"


def test_mean_latency_matches_pollaczek_khinchine_for_md1(scenario_factory):
    scenario = _textbook(
        scenario_factory,
        servers=1,
        rate=0.6,
        service={"dist": "constant", "value": 1},
        duration=6000,
        reps=10,
    )
    _mean, low, high = _ci(api.run(scenario, workers=1), "latency_mean")
    rho = 0.6
    expected = 1 + rho / (2 * (1 - rho))  # W = S + rho S / (2 (1 - rho)) for M/D/1
    assert low <= expected <= high


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_more_instances_never_raise_p99(scenario_factory, seed):
    p99 = []
    for instances in (1, 2, 3):
        scenario = scenario_factory(
            seed=seed,
            services={"users": {"instances": instances, "concurrency": 2, "service_time": "10ms"}},
            data={"replicas": []},
            workload={"phases": [{"duration": 30, "rate": 150}]},
            patterns=[{"kind": "shared_db"}],
        )
        p99.append(api.run(scenario, workers=1).metric("shared_db", "latency_p99"))
    assert p99[0] >= p99[1] >= p99[2]
