"""The gauges against queueing theory and against their own definitions.

Configured as a textbook M/M/c station (one service, one instance with c slots, exponential
service, Poisson arrivals, zero network and database time), the summary's gauges reproduce
the analytic utilisation ρ = λ/(cμ), Erlang C's probability of waiting, the mean queue wait
Wq and the queue length Lq = λWq, and the in-system gauge obeys Little's law L = λW: each
analytic value lies in the 95 % Student-t interval (scipy.stats) over replications, and the
interval is narrow enough to mean something. Seeds are fixed, so every check is deterministic
(the theory checks hold at seeds 1 to 4 alike; they use 4, whose intervals are the narrowest).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from conftest import make_scenario
from scipy import stats

from sim import api
from sim.infra.occupancy import window_average
from sim.infra.service import Service
from sim.kernel.context import SimContext
from sim.metrics.slo import SloError, parse_slo

WARMUP = 200.0
DURATION = 6000.0


def _station(
    scenario_factory, *, servers: int, rate: float, reps: int = 10, seed: int = 2024, drain=0
):
    return scenario_factory(
        seed=seed,
        replications=reps,
        warmup=WARMUP,
        drain=drain,
        services={"users": {"instances": 1, "concurrency": servers, "service_time": "1s"}},
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "users", "replicas": [], "keys": 1},
        workload={
            "arrivals": "poisson",
            "phases": [{"duration": DURATION, "rate": rate}],
            "mix": {"read": 1, "write": 0},
            "timeout": "100h",
        },
        patterns=[{"kind": "shared_db"}],
    )


def erlang_c(arrival_rate: float, service_rate: float, servers: int) -> float:
    """Erlang C: the probability that an arrival at M/M/c waits."""
    load = arrival_rate / service_rate
    rho = load / servers
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / math.factorial(servers) / (1 - rho)
    return tail / (head + tail)


def _values(results: api.Results, metric: str) -> np.ndarray:
    table = results.per_replication
    return table.loc[table["metric"] == metric, "value"].to_numpy(float)


def _interval(values: np.ndarray) -> tuple[float, float]:
    low, high = stats.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=stats.sem(values))
    return float(low), float(high)


def _holds(results: api.Results, metric: str, expected: float, width: float) -> None:
    low, high = _interval(_values(results, metric))
    assert low <= expected <= high, f"{metric}: {expected:.5f} outside [{low:.5f}, {high:.5f}]"
    assert high - low < width * expected, f"{metric}: [{low:.5f}, {high:.5f}] says nothing"


@pytest.mark.parametrize(("servers", "rate"), [(1, 0.7), (4, 3.2)], ids=["M/M/1", "M/M/4"])
def test_gauges_match_mmc_theory(scenario_factory, servers, rate):
    results = api.run(_station(scenario_factory, servers=servers, rate=rate, seed=4), workers=1)
    rho = rate / servers
    waiting = erlang_c(rate, 1.0, servers)
    wq = waiting / (servers - rate)  # mean queue wait, μ = 1
    _holds(results, "utilisation{service:users}", rho, 0.04)
    _holds(results, "utilisation", rho, 0.04)  # the only component
    _holds(results, "wait_probability", waiting, 0.06)
    _holds(results, "queue_wait_mean", wq, 0.2)
    _holds(results, "queue_length{service:users}", rate * wq, 0.2)
    _holds(results, "in_system{service:users}", rate * (wq + 1.0), 0.1)


@pytest.mark.parametrize(("servers", "rate"), [(1, 0.7), (4, 3.2)], ids=["M/M/1", "M/M/4"])
def test_in_system_gauge_obeys_littles_law_run_by_run(scenario_factory, servers, rate):
    """L = λW on each sample path, λ and W measured from the request records of the same
    window (a drain long enough for every measured request to be answered, so no time in
    system is cut short): the paired difference has an interval around 0 far narrower than L."""
    scenario = _station(scenario_factory, servers=servers, rate=rate, seed=7, drain=1000)
    results = api.run(scenario, workers=1)
    requests = results.requests
    differences = []
    for replication, mine in requests.groupby("replication"):
        measured = mine[mine["start"] >= WARMUP]
        arrival_rate = len(measured) / (DURATION - WARMUP)  # the measured window
        row = results.per_replication
        gauge = row.loc[
            (row["replication"] == replication) & (row["metric"] == "in_system{service:users}"),
            "value",
        ].iloc[0]
        differences.append(gauge - arrival_rate * measured["latency"].mean())
    low, high = _interval(np.asarray(differences))
    assert low <= 0.0 <= high, f"L - λW in [{low:.4f}, {high:.4f}]"
    assert high - low < 0.02 * rate * (1 + erlang_c(rate, 1.0, servers) / (servers - rate))


def test_queue_wait_is_latency_less_service_time_at_a_lone_station(scenario_factory):
    """With no hops and no database time a request's latency is its wait plus its work."""
    results = api.run(_station(scenario_factory, servers=2, rate=1.5, reps=1), workers=1)
    requests = results.requests
    requests = requests[requests["outcome"] == "ok"]  # not those the end of the run cut off
    assert requests["wait"].notna().all()
    assert (requests["wait"] >= 0).all()
    np.testing.assert_allclose(
        requests["latency"], requests["wait"] + requests["work"], rtol=0, atol=1e-9
    )
    every = results.requests
    waited = every.loc[(every["start"] >= WARMUP) & every["wait"].notna(), "wait"].to_numpy(float)
    assert results.metric("shared_db", "wait_probability") == pytest.approx((waited > 0).mean())


def test_queue_wait_is_unknown_for_requests_refused_before_a_slot(scenario_factory):
    """A crashed service refuses its requests: they never wait, their wait is empty."""
    scenario = scenario_factory(
        data={"replicas": []},
        patterns=[{"kind": "shared_db"}],
        faults=[{"kind": "crash", "target": "service:users", "start": 5, "duration": 5}],
    )
    requests = api.run(scenario, workers=1).requests
    refused = requests[(requests["start"] > 5.01) & (requests["start"] < 9.99)]
    assert len(refused) > 0
    assert (refused["outcome"] == "error").all()
    assert refused["wait"].isna().all()
    assert requests.loc[requests["start"] < 4.9, "wait"].notna().all()


def test_retry_amplification_from_the_attempt_counts(scenario_factory):
    """An error fault of probability p at the callee and r retries of 503s: attempts per call
    is (1 - p^(r+1)) / (1 - p), read off the outputs."""
    p, retries = 0.3, 2
    scenario = scenario_factory(
        seed=11,
        replications=5,
        warmup=10,
        network={"latency": 0},
        services={"orders": {"concurrency": 64}},
        data={"replicas": ["orders"]},
        workload={"phases": [{"duration": 110, "rate": 40}], "mix": {"write": 1, "read": 0}},
        patterns=[{"kind": "sync_http", "timeout": "10s", "retries": retries}],
        faults=[{"kind": "error", "target": "service:orders", "start": 0, "probability": p}],
    )
    results = api.run(scenario, workers=1)
    expected = (1 - p ** (retries + 1)) / (1 - p)
    calls = results.table("http_calls")
    assert set(calls["source"]) == {"users"} and set(calls["destination"]) == {"orders"}
    low, high = _interval(_values(results, "http_attempts_per_call"))
    assert low <= expected <= high, f"{expected:.4f} outside [{low:.4f}, {high:.4f}]"
    assert high - low < 0.08 * expected
    assert calls["attempts"].max() == retries + 1
    measured = calls[calls["time"] >= 10]  # the summary's figures, from the call records
    for replication, mine in measured.groupby("replication"):
        row = results.per_replication
        value = row.loc[
            (row["replication"] == replication) & (row["metric"] == "http_attempts_per_call"),
            "value",
        ].iloc[0]
        assert value == pytest.approx(mine["attempts"].mean())
        total = row.loc[
            (row["replication"] == replication) & (row["metric"] == "http_attempts"), "value"
        ].iloc[0]
        assert total == mine["attempts"].sum()


def test_produce_attempts_count_retries(scenario_factory):
    """Records sent through a healthy broker go out once each; the per-record mean is 1."""
    scenario = scenario_factory(
        workload={"phases": [{"duration": 20, "rate": 50}], "mix": {"write": 1, "read": 0}},
        patterns=[{"kind": "dual_write"}, {"kind": "shared_db"}],
    )
    results = api.run(scenario, workers=1)
    produced = results.table("broker_produce")
    assert results.metric("dual_write", "produce_attempts_per_record") == 1.0
    assert results.metric("dual_write", "produce_attempts") == len(produced)
    assert math.isnan(results.metric("shared_db", "produce_attempts"))
    assert math.isnan(results.metric("shared_db", "http_attempts_per_call"))


def test_database_pool_gauges_are_time_averages(scenario_factory):
    """A database's in-system gauge is its busy connections plus its waiting queries; with
    writes of fixed length it equals write rate × write time while nothing waits."""
    scenario = scenario_factory(
        seed=3,
        warmup=5,
        data={"replicas": []},
        network={"latency": 0},
        databases={"default": {"pool": 10, "read_time": 0, "write_time": "4ms"}},
        workload={"phases": [{"duration": 200, "rate": 100}], "mix": {"write": 1, "read": 0}},
        patterns=[{"kind": "shared_db"}],
    )
    results = api.run(scenario, workers=1)
    requests = results.requests
    measured = requests[requests["start"] >= 5]
    expected = len(measured) / 195 * 0.004  # Little's law at the pool
    busy = results.metric("shared_db", "in_system{db:shared}")
    assert busy == pytest.approx(expected, rel=0.01)
    assert results.metric("shared_db", "utilisation{db:shared}") == pytest.approx(busy / 10)
    assert results.metric("shared_db", "queue_length{db:shared}") <= busy


def test_window_average_needs_marks_at_both_ends():
    ctx = SimContext.create(1)
    service = Service(ctx, "solo", make_scenario().services["users"])
    instance = service.instances[0]
    instance.mark(0.0)
    assert all(math.isnan(v) for v in window_average([instance], 0.0, 5.0))
    instance.mark(5.0)
    assert window_average([instance], 0.0, 5.0) == (0.0, 0.0, 0.0)


def test_occupancy_slos_name_one_component():
    slo = parse_slo("utilisation{service:orders} < 80%")
    assert slo.key == "utilisation{service:orders}"
    assert parse_slo("in_system{db:users} <= 12").threshold == 12
    assert parse_slo("p99(latency) < 1s").metric == "latency_p99"
    assert parse_slo("queue_wait_p99{op:read} < 5ms during steady").threshold == 0.005
    with pytest.raises(SloError, match="one component"):
        parse_slo("utilisation{service:orders,db:users} < 80%")
    with pytest.raises(SloError, match="db: slices databases"):
        parse_slo("latency_p99{db:users} < 1s")
    with pytest.raises(SloError, match="whole run"):
        parse_slo("utilisation{service:orders} < 80% during fault")


def test_occupancy_slo_is_judged_on_the_component(scenario_factory):
    scenario = scenario_factory(
        slo=["utilisation{service:users} < 50%", "wait_probability < 50%", "utilisation < 1%"]
    )
    results = api.run(scenario, workers=1)
    verdicts = results.verdicts
    mine = verdicts[verdicts["pattern"] == "shared_db"].set_index("slo")
    value = results.metric("shared_db", "utilisation{service:users}")
    assert mine.loc["utilisation{service:users} < 50%", "value"] == value
    assert bool(mine.loc["utilisation{service:users} < 50%", "passed"])
    assert bool(mine.loc["wait_probability < 50%", "passed"])
    assert not bool(mine.loc["utilisation < 1%", "passed"])


def test_run_folder_has_each_components_occupancy_and_its_series(scenario_factory, tmp_path):
    """occupancy.csv holds the summary's per-component figures run by run; the series cuts the
    load into equal bins whose mean is the whole window's average (no warm-up here)."""
    results = api.run(scenario_factory(replications=2), workers=1)
    folder = api.write(results, tmp_path / "run")
    table = pd.read_csv(folder / "occupancy.csv")
    assert list(table.columns) == [
        "pattern",
        "replication",
        "component",
        "slots",
        "utilisation",
        "queue_length",
        "in_system",
    ]
    rows = results.per_replication.set_index(["pattern", "replication", "metric"])["value"]
    for row in table.itertuples():
        for metric in ("utilisation", "queue_length", "in_system"):
            key = (row.pattern, row.replication, f"{metric}{{{row.component}}}")
            assert getattr(row, metric) == pytest.approx(rows[key], rel=1e-12, nan_ok=True)
    series = results.table("occupancy_series")
    assert series.groupby(["pattern", "replication", "component"]).size().eq(100).all()
    mine = series[(series["pattern"] == "shared_db") & (series["component"] == "db:shared")]
    whole = table[(table["pattern"] == "shared_db") & (table["component"] == "db:shared")]
    per_run = mine.groupby("replication")["in_system"].mean().to_numpy(float)
    np.testing.assert_allclose(per_run, whole["in_system"].to_numpy(float), rtol=1e-9)
