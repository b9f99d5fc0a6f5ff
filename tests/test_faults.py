"""Each fault kind, applied to each kind of target, through a whole run."""

from __future__ import annotations

import math

import pytest

from sim import api


def _run(scenario_factory, faults, **changes):
    changes.setdefault("patterns", [{"kind": "shared_db"}])
    changes.setdefault("data", {"replicas": []})
    scenario = scenario_factory(faults=faults, **changes)
    return api.run(scenario, workers=1).runs[0]


def _window(requests, start, end):
    return requests[(requests["start"] >= start) & (requests["start"] < end)]


def test_crash_fails_requests_during_the_window_and_recovers(scenario_factory):
    run = _run(
        scenario_factory, [{"kind": "crash", "target": "service:users", "start": 5, "duration": 5}]
    )
    requests = run.requests
    assert (_window(requests, 5.01, 9.99)["outcome"] == "error").all()
    assert (_window(requests, 0, 4.99)["outcome"] == "ok").all()
    assert (_window(requests, 10.01, 20)["outcome"] == "ok").all()
    assert run.faults.to_dict("records") == [
        {"kind": "crash", "target": "service:users", "start": 5.0, "end": 10.0, "applied": 1}
    ]


def test_instance_crash_hits_only_that_instance(scenario_factory):
    services = {"users": {"instances": 2, "concurrency": 8, "service_time": "1ms"}}
    run = _run(
        scenario_factory,
        [{"kind": "crash", "target": "instance:users/1", "start": 5, "duration": 10}],
        services=services,
    )
    failed = (_window(run.requests, 5.01, 14.99)["outcome"] != "ok").mean()
    assert failed == pytest.approx(0.5, abs=0.02)  # round robin over two instances


def test_overlapping_crashes_restart_after_the_last_one(scenario_factory):
    faults = [
        {"kind": "crash", "target": "service:users", "start": 2, "duration": 6},
        {"kind": "crash", "target": "service:users", "start": 4, "duration": 8},
    ]
    requests = _run(scenario_factory, faults).requests
    assert (_window(requests, 8.01, 11.99)["outcome"] == "error").all()
    assert (_window(requests, 12.01, 20)["outcome"] == "ok").all()


@pytest.mark.parametrize("target", ["service:users", "db:users", "link:client->users"])
def test_latency_adds_its_delay(scenario_factory, target):
    faults = [{"kind": "latency", "target": target, "start": 5, "duration": 5, "delay": "50ms"}]
    requests = _run(scenario_factory, faults).requests
    before = _window(requests, 0, 5)["latency"].median()
    during = _window(requests, 5.01, 9.9)["latency"].median()
    assert during - before == pytest.approx(0.05, abs=0.003)


def test_link_latency_is_one_way(scenario_factory):
    faults = [
        {
            "kind": "latency",
            "target": "link:users->client",
            "start": 0,
            "duration": 20,
            "delay": "30ms",
        }
    ]
    requests = _run(scenario_factory, faults).requests
    assert requests["latency"].min() >= 0.03


def test_error_fails_about_the_given_fraction(scenario_factory):
    faults = [
        {
            "kind": "error",
            "target": "service:users",
            "start": 0,
            "duration": 20,
            "probability": "20%",
        }
    ]
    requests = _run(
        scenario_factory, faults, workload={"phases": [{"duration": 20, "rate": 200}]}
    ).requests
    n = len(requests)
    failed = (requests["outcome"] == "error").mean()
    assert abs(failed - 0.2) < 5 * math.sqrt(0.2 * 0.8 / n)


def test_database_error_fails_queries(scenario_factory):
    faults = [{"kind": "error", "target": "db:users", "start": 0, "duration": 20, "probability": 1}]
    requests = _run(scenario_factory, faults).requests
    assert (requests["outcome"] == "error").all()


def test_faults_heal_when_the_load_ends(scenario_factory):
    faults = [{"kind": "crash", "target": "service:orders", "start": 15, "duration": "1h"}]
    run = _run(scenario_factory, faults, data={"replicas": ["orders"]})
    assert run.faults["end"].tolist() == [20.0]


def test_a_fault_starting_after_the_load_never_applies_and_says_so(scenario_factory):
    faults = [{"kind": "crash", "target": "service:users", "start": 25, "duration": 5}]
    scenario = scenario_factory(faults=faults)
    [warning] = api.warnings(scenario)
    assert "starts at 25s, after the load ends at 20s" in warning and "before 20s" in warning
    run = _run(scenario_factory, faults)
    assert list(run.faults["applied"]) == [0]  # recorded as not applied, never left out
    assert (run.requests["outcome"] == "ok").all()
