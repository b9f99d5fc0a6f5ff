"""Provisioned capacity (DynamoDB style) and retry amplification: the burst bank drains at the
rate a token bucket predicts, throttled requests are retried by the SDK (latency first, errors
after), a ``throttle`` fault lowers the capacity for its window, the overload scenario tells
the article's story, and retries multiply attempts as the geometric series says."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import make_scenario

from sim import api
from sim.infra.throttle import TokenBucket

ROOT = Path(__file__).resolve().parents[1]


def test_a_token_bucket_empties_its_bank_when_the_load_exceeds_the_rate() -> None:
    bucket = TokenBucket(rate=20.0, burst=10.0)  # a bank of 200 units
    times = np.arange(1, 2_000) / 40.0  # one unit every 25 ms: 40 per second
    refused = [t for t in times if not bucket.take(1.0, float(t))]
    # 200 banked + 20 t refilled = 40 t taken  →  empty at t = 10 s
    assert refused[0] == pytest.approx(10.0, abs=0.05)
    accepted_after = sum(1 for t in times if 20.0 <= t < 30.0) - sum(
        1 for t in refused if 20.0 <= t < 30.0
    )
    assert accepted_after == pytest.approx(200, abs=2)  # then exactly the provisioned 20/s


def _shared(capacity: dict, faults: list | None = None, rate: float = 40.0) -> api.Scenario:
    return make_scenario(
        warmup=0,
        databases={"shared": {"capacity": capacity}},
        workload={
            "arrivals": "uniform",
            "phases": [{"duration": 30, "rate": rate}],
            "mix": {"write": 1.0, "read": 0.0},
        },
        patterns=[{"kind": "shared_db"}],
        faults=faults or [],
    )


def test_throttling_starts_when_the_bank_is_spent_and_shows_as_sdk_latency_first() -> None:
    scenario = _shared({"writes": "20/s", "burst": "10s", "retries": 10})
    results = api.run(scenario, workers=1)
    requests = results.requests
    slow = requests[requests["latency"] > 0.05]  # a retried write waited for a backoff
    assert slow["start"].min() == pytest.approx(10.0, abs=0.1)
    assert results.metric("shared_db", "throttled") > 0
    errors = requests[requests["outcome"] != "ok"]
    if len(errors):
        assert errors["start"].min() > slow["start"].min()  # latency first, errors after


def test_without_retries_a_throttled_request_fails_at_once() -> None:
    scenario = _shared({"writes": "20/s", "burst": "10s", "retries": 0})
    requests = api.run(scenario, workers=1).requests
    failed = requests[requests["outcome"] == "error"]
    assert failed["start"].min() == pytest.approx(10.0, abs=0.1)
    assert (failed["latency"] < 0.05).all()  # refused fast


def test_a_throttle_fault_lowers_the_capacity_for_its_window_only() -> None:
    calm = _shared({"writes": "100/s", "burst": "1s"})
    assert api.run(calm, workers=1).metric("shared_db", "throttled") == 0
    fault = {"kind": "throttle", "target": "db:shared", "factor": 0.2, "start": 10, "duration": 10}
    squeezed = api.run(_shared({"writes": "100/s", "burst": "1s"}, [fault]), workers=1)
    requests = squeezed.requests
    slow = requests[requests["latency"] > 0.05]
    assert squeezed.metric("shared_db", "throttled") > 0
    assert slow["start"].min() >= 10.0  # nothing before the window
    inside = slow["start"] < 20.0
    assert inside.mean() > 0.5  # after it only the backlog of retries, briefly
    assert slow["start"].max() < 30.0


def test_a_throttle_fault_needs_a_database_with_capacity() -> None:
    fault = {"kind": "throttle", "target": "db:shared", "start": 1, "duration": 1}
    with pytest.raises(api.ScenarioError, match="has no capacity"):
        make_scenario(patterns=[{"kind": "shared_db"}], faults=[fault])


@pytest.fixture(scope="module")
def overload() -> api.Results:
    scenario = api.load(ROOT / "scenarios" / "overload.yaml", ["replications=1"])
    return api.run(scenario, workers=1)


def test_the_overload_story_sync_http_slows_then_fails_after_the_bank_is_spent(
    overload: api.Results,
) -> None:
    requests = overload.requests
    writes = requests[(requests["pattern"] == "sync_http") & (requests["op"] == "write")]
    # calm: 30 writes/s under 50/s; peak: 100/s drains a bank of 50 × 60 s in about 60 s
    errors = writes[writes["outcome"] != "ok"]
    slow = writes[(writes["outcome"] == "ok") & (writes["latency"] > 0.25)]
    assert errors["start"].min() > 110.0
    assert slow["start"].min() < errors["start"].min()
    assert overload.metric("sync_http", "throttled") > 0


def test_the_overload_story_cdc_and_outbox_keep_the_owner_fast_and_fall_behind(
    overload: api.Results,
) -> None:
    for name in ("cdc", "outbox"):
        assert overload.metric(name, "latency_p99") < 0.05
        assert overload.metric(name, "error_rate") == 0
        assert overload.metric(name, "staleness_p99") > 30.0
        assert overload.metric(name, "lost_updates") == 0
    assert overload.metric("sync_http", "latency_p99") > 1.0


@pytest.mark.parametrize(("p", "retries"), [(0.2, 1), (0.3, 2), (0.5, 3)])
def test_retry_amplification_matches_the_geometric_series(p: float, retries: int) -> None:
    from sim.metrics.stats import mean_ci

    scenario = make_scenario(
        warmup=0,
        replications=6,
        workload={"phases": [{"duration": 20, "rate": 50}], "mix": {"write": 1.0, "read": 0.0}},
        patterns=[{"kind": "sync_http", "timeout": "5s", "retries": retries}],
        faults=[{"kind": "error", "target": "service:billing", "probability": p, "start": 0}],
    )
    results = api.run(scenario, workers=1)
    values = results.per_replication
    values = values[values["metric"] == "attempts_per_call"]["value"].tolist()
    expected = (1 - p ** (retries + 1)) / (1 - p)
    # calls to orders are never refused, to billing with probability p each attempt: the mean
    # over both copies is (1 + expected) / 2
    mean, low, high, _ = mean_ci(values)
    assert low <= (1 + expected) / 2 <= high, (mean, low, high)


def test_a_retry_budget_of_ten_percent_caps_the_amplification_at_one_point_one() -> None:
    fault = {"kind": "error", "target": "service:billing", "probability": 0.5, "start": 0}
    base = {
        "warmup": 0,
        "workload": {"phases": [{"duration": 20, "rate": 50}], "mix": {"write": 1.0, "read": 0.0}},
        "faults": [fault],
    }
    free = make_scenario(**base, patterns=[{"kind": "sync_http", "timeout": "5s", "retries": 3}])
    capped = make_scenario(
        **base,
        patterns=[{"kind": "sync_http", "timeout": "5s", "retries": 3, "retry_budget": "10%"}],
    )
    storm = api.run(free, workers=1)
    tamed = api.run(capped, workers=1)
    assert storm.metric("sync_http", "attempts_per_call") > 1.4  # (1 + 1.875) / 2 expected
    assert tamed.metric("sync_http", "attempts_per_call") <= 1.1
    assert tamed.metric("sync_http", "retries_denied") > 0
    assert storm.metric("sync_http", "retries_denied") == 0


def _hot(keys: int, capacity: dict) -> api.Results:
    scenario = make_scenario(
        warmup=0,
        data={"keys": keys},
        # writes of 0.1 ms: one key's row lock passes 10,000 a second, the cap binds first
        databases={"shared": {"capacity": capacity, "pool": 64, "write_time": "0.1ms"}},
        services={"users": {"concurrency": 64}},
        workload={
            "arrivals": "uniform",
            "phases": [{"duration": 10, "rate": 1500}],
            "mix": {"write": 1.0, "read": 0.0},
        },
        patterns=[{"kind": "shared_db"}],
    )
    return api.run(scenario, workers=1)


def test_a_hot_partition_is_throttled_at_its_cap_though_the_table_has_capacity() -> None:
    capacity = {"writes": "5000/s", "retries": 0}  # five partitions of 1,000 WCU
    spread = _hot(1000, capacity)
    assert spread.metric("shared_db", "throttled") == 0
    hot = _hot(1, capacity)  # every write on one key, so on one partition
    # 1,500 writes a second for 10 s against a 1,000 WCU cap (and one second of it to start):
    # 15,000 − 11,000 refused
    assert hot.metric("shared_db", "error_rate") == pytest.approx(4_000 / 15_000, abs=0.005)


def test_on_demand_serves_twice_the_previous_peak_up_to_its_maximum() -> None:
    within = {"mode": "on_demand", "previous_peak_writes": "800/s", "retries": 0}
    assert _hot(1000, within).metric("shared_db", "throttled") == 0  # 1,500 < 1,600
    capped = within | {"max_writes": "1200/s"}
    refused = _hot(1000, capped).metric("shared_db", "error_rate")
    assert refused == pytest.approx((15_000 - 11 * 1_200) / 15_000, abs=0.005)


def test_an_on_demand_peak_counts_as_previous_thirty_minutes_later() -> None:
    from sim.infra.throttle import PEAK_MATURES, OnDemandPeak

    peak = OnDemandPeak(initial=100.0, maximum=1000.0)
    for second in range(10):
        peak.consumed(300.0, second + 0.5)  # 300 units in each of ten seconds
    peak.consumed(1.0, 10.5)
    assert peak.rate(PEAK_MATURES) == 200.0  # not yet: still twice the initial peak
    assert peak.rate(PEAK_MATURES + 1.0) == 600.0
    for second in range(20, 30):
        peak.consumed(900.0, second + 0.5)
    peak.consumed(1.0, 40.5)
    assert peak.rate(PEAK_MATURES + 40.0) == 1000.0  # twice 900, capped at the maximum
