"""``slowdown``, ``hang`` and ``unavailable`` on a service or a database, each through a small
run: slowdown × 3 on a one-slot M/M/1 service moves the mean latency to what queueing theory
says, a hang gives timeouts (not errors) and releases its slots when it ends, unavailable
refuses fast without failing the work it had accepted."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import make_scenario

from sim import api
from sim.metrics.stats import mean_ci

MM1 = {
    "services": {"users": {"concurrency": 1, "service_time": "1ms"}},  # exponential
    "databases": {"default": {"read_time": 0, "write_time": 0}},
    "network": {"latency": 0},
    "data": {"replicas": []},
    "patterns": [{"kind": "shared_db"}],
}


def _constant(value: str) -> dict:
    return {"dist": "constant", "value": value}


def _run(faults: list[dict], **changes) -> api.Results:
    settings = MM1 | changes
    return api.run(make_scenario(faults=faults, **settings), workers=1)


def _batch_ci(latencies: np.ndarray, batches: int = 20) -> tuple[float, float]:
    """A 95 % interval of the mean latency by batch means (consecutive requests)."""
    means = [float(chunk.mean()) for chunk in np.array_split(latencies, batches)]
    _, low, high, _ = mean_ci(means)
    return low, high


def _latencies(requests, start: float, end: float) -> np.ndarray:
    inside = requests[(requests["start"] >= start) & (requests["start"] < end)]
    return inside.sort_values("start")["latency"].to_numpy(float)


def test_slowdown_times_three_gives_the_mm1_mean_latency_of_a_third_of_the_rate() -> None:
    rate, mu = 200.0, 1000.0
    slowdown = {"kind": "slowdown", "target": "service:users", "factor": 3, "start": 120}
    results = _run([slowdown], workload={"phases": [{"duration": 240, "rate": rate}]})
    requests = results.requests
    assert (requests["outcome"] == "ok").all()
    low, high = _batch_ci(_latencies(requests, 10, 120))
    assert low < 1 / (mu - rate) < high  # W = 1 / (mu - lambda) = 1.25 ms
    low, high = _batch_ci(_latencies(requests, 130, 240))
    assert low < 1 / (mu / 3 - rate) < high  # W = 1 / (mu/3 - lambda) = 7.5 ms


def test_slowdown_scales_the_same_draw() -> None:
    constant = {"services": {"users": {"concurrency": 1, "service_time": _constant("2ms")}}}
    slowdown = {
        "kind": "slowdown",
        "target": "service:users",
        "factor": 2.5,
        "start": 5,
        "duration": 5,
    }
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 10}]}
    requests = _run([slowdown], workload=workload, **constant).requests
    assert _latencies(requests, 0, 5) == pytest.approx(0.002)
    assert _latencies(requests, 5, 10) == pytest.approx(0.005)
    assert _latencies(requests, 10, 20) == pytest.approx(0.002)


def test_slowdown_of_a_database_multiplies_its_query_times() -> None:
    four = _constant("4ms")
    constant = {"databases": {"default": {"read_time": four, "write_time": four}}}
    slowdown = {"kind": "slowdown", "target": "db:users", "factor": 3, "start": 5, "duration": 5}
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 10}]}
    services = {"services": {"users": {"concurrency": 1, "service_time": 0}}}
    requests = _run([slowdown], workload=workload, **constant, **services).requests
    assert _latencies(requests, 0, 5) == pytest.approx(0.004)
    assert _latencies(requests, 5, 10) == pytest.approx(0.012)


@pytest.mark.parametrize("target", ["service:users", "db:users"])
def test_a_hang_gives_timeouts_not_errors_and_frees_its_slots_at_the_end(target: str) -> None:
    hang = {"kind": "hang", "target": target, "start": 5, "duration": 5}
    workload = {
        "arrivals": "uniform",
        "phases": [{"duration": 20, "rate": 20}],
        "timeout": "1s",
        "mix": {"read": 1, "write": 0},  # no write waits for the row lock of a held one
    }
    slots = {
        "services": {"users": {"concurrency": 200, "service_time": _constant("1ms")}},
        "databases": {"default": {"pool": 200, "read_time": 0, "write_time": 0}},
    }
    requests = _run([hang], workload=workload, **slots).requests
    held = requests[(requests["start"] >= 5) & (requests["start"] < 9)]
    assert len(held) == 80 and (held["outcome"] == "timeout").all()  # the caller's timeout
    cut = requests[(requests["start"] > 9) & (requests["start"] < 10)]
    assert len(cut) == 19 and (cut["outcome"] == "error").all()  # reset when the hang ends
    assert np.allclose(cut["start"] + cut["latency"], 10.0)
    after = requests[requests["start"] >= 10]
    assert (after["outcome"] == "ok").all()  # the slots are free again
    assert (requests[requests["start"] < 5]["outcome"] == "ok").all()


def test_requests_queued_behind_a_hang_run_when_it_ends() -> None:
    hang = {"kind": "hang", "target": "service:users", "start": 5, "duration": 5}
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 20}], "timeout": "1s"}
    slots = {"services": {"users": {"concurrency": 4, "service_time": _constant("1ms")}}}
    requests = _run([hang], workload=workload, **slots).requests
    during = requests[(requests["start"] >= 5) & (requests["start"] < 9)]
    assert (during["outcome"] == "timeout").all()
    queued = requests[(requests["start"] > 9) & (requests["start"] < 10)]
    assert (queued["outcome"] == "ok").all()  # the four held slots are reset, the queue moves
    assert (queued["start"] + queued["latency"]).min() >= 10.0


def test_unavailable_refuses_fast_and_keeps_the_work_it_had_accepted() -> None:
    # one slot, 900 ms a request, one request a second: the one of 4 s is in service at 4.5 s
    services = {"services": {"users": {"concurrency": 1, "service_time": _constant("900ms")}}}
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 1}]}
    window = {"target": "service:users", "start": 4.5, "duration": 5}
    down = _run([{"kind": "unavailable", **window}], workload=workload, **services).requests
    crashed = _run([{"kind": "crash", **window}], workload=workload, **services).requests
    in_flight = down[down["start"] == 4.0]
    assert in_flight["outcome"].tolist() == ["ok"]  # state kept: nothing in flight lost
    assert crashed[crashed["start"] == 4.0]["outcome"].tolist() == ["error"]
    refused = down[(down["start"] > 4.5) & (down["start"] < 9.5)]
    assert len(refused) == 5 and (refused["outcome"] == "error").all()
    assert (refused["latency"] < 0.001).all()  # refused fast
    assert (down[down["start"] > 9.5]["outcome"] == "ok").all()


def test_an_unavailable_database_refuses_new_queries_and_finishes_those_under_way() -> None:
    slow = _constant("900ms")
    settings = {
        "databases": {"default": {"pool": 1, "read_time": slow, "write_time": slow}},
        "services": {"users": {"concurrency": 8, "service_time": 0}},
    }
    workload = {"arrivals": "uniform", "phases": [{"duration": 20, "rate": 1}]}
    window = {"target": "db:users", "start": 4.5, "duration": 5}
    down = _run([{"kind": "unavailable", **window}], workload=workload, **settings).requests
    crashed = _run([{"kind": "crash", **window}], workload=workload, **settings).requests
    assert down[down["start"] == 4.0]["outcome"].tolist() == ["ok"]
    assert crashed[crashed["start"] == 4.0]["outcome"].tolist() == ["error"]
    refused = down[(down["start"] > 4.5) & (down["start"] < 9.5)]
    assert len(refused) == 5 and (refused["outcome"] == "error").all()
    assert (refused["latency"] < 0.001).all()
