"""Chains of zero-time steps of any length: a fan-out to hundreds of copies over a free network,
with free services and databases, runs (no recursion limit) and gives the figures the
mechanism implies; the bounded run queue keeps the order of nested steps below its depth."""

from __future__ import annotations

import pytest

from sim import api
from sim.kernel.schedule import AT_ONCE_DEPTH, AtOnce

COPIES = 200


def _free_fan_out(scenario_factory, fanout: str, *, copies: int = COPIES):
    names = [f"copy{i}" for i in range(copies)]
    free = {"instances": 1, "concurrency": 4, "service_time": 0}
    return scenario_factory(
        services={"owner": free, **dict.fromkeys(names, free)},
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "owner", "replicas": names, "keys": 20},
        workload={"phases": [{"duration": 3, "rate": 10}], "mix": {"write": 0.8, "read": 0.2}},
        patterns=[{"kind": "sync_http", "fanout": fanout}],
    )


@pytest.mark.parametrize("fanout", ["sequential", "parallel"])
def test_fan_out_to_200_zero_time_copies_runs_and_reaches_every_copy(scenario_factory, fanout):
    results = api.run(_free_fan_out(scenario_factory, fanout), workers=1)
    metric = lambda name: results.metric("sync_http", name)  # noqa: E731
    requests = results.requests
    writes = requests[requests["op"] != "read"]
    assert len(writes) > 10
    assert (requests["outcome"] == "ok").all()
    assert metric("error_rate") == 0.0
    assert metric("latency_p99") == 0.0  # nothing takes time
    assert metric("attempts_per_call") == 1.0
    # every committed version reached every one of the 200 copies, at its commit instant
    propagation = results.propagation
    commits = propagation.drop_duplicates(["key", "version"])
    assert len(propagation) == len(commits) * COPIES
    assert len(commits) == len(writes)
    assert (propagation["delay"] == 0.0).all()
    assert metric("never_propagated") == 0.0
    assert metric("divergent_keys") == 0.0
    assert metric("stale_read_rate") == 0.0


def test_a_sequential_fan_out_with_service_time_adds_up_along_the_chain(scenario_factory):
    """Zero-time hops and databases, but each copy works a constant 1 ms: one write at a time
    takes exactly copies × 1 ms, parallel takes 1 ms."""
    copies = 60
    names = [f"copy{i}" for i in range(copies)]
    work = {"instances": 1, "concurrency": 1, "service_time": {"dist": "constant", "value": 0.001}}
    owner = {"instances": 1, "concurrency": 1, "service_time": 0}
    latencies = {}
    for fanout in ("sequential", "parallel"):
        scenario = scenario_factory(
            services={"owner": owner, **dict.fromkeys(names, work)},
            databases={"default": {"read_time": 0, "write_time": 0}},
            network={"latency": 0},
            data={"owner": "owner", "replicas": names, "keys": 5},
            workload={
                "arrivals": "uniform",
                "phases": [{"duration": 10, "rate": 2}],
                "mix": {"write": 1, "read": 0},
            },
            patterns=[{"kind": "sync_http", "fanout": fanout}],
        )
        requests = api.run(scenario, workers=1).requests
        assert (requests["outcome"] == "ok").all()
        latencies[fanout] = requests["latency"]
    assert latencies["sequential"].to_numpy() == pytest.approx(copies * 0.001, rel=1e-9)
    assert latencies["parallel"].to_numpy() == pytest.approx(0.001, rel=1e-9)


def _nested(at_once: AtOnce, order: list[int], depth: int, width: int) -> None:
    """A tree of zero-time steps: each step records itself, then asks for ``width`` children."""

    def step(level: int, name: int) -> None:
        order.append(name)
        if level < depth:
            for child in range(width):
                at_once(lambda level=level, child=child: step(level + 1, name * 10 + child + 1))

    at_once(lambda: step(0, 0))


def test_below_its_depth_the_run_queue_runs_every_step_at_once_in_nesting_order():
    order: list[int] = []
    _nested(AtOnce(), order, depth=3, width=2)
    inline: list[int] = []

    def step(level: int, name: int) -> None:
        inline.append(name)
        if level < 3:
            for child in range(2):
                step(level + 1, name * 10 + child + 1)

    step(0, 0)
    assert order == inline


def test_a_chain_far_deeper_than_the_recursion_limit_runs_in_order():
    at_once = AtOnce()
    seen: list[int] = []
    steps = 100_000

    def step(n: int) -> None:
        seen.append(n)
        if n < steps:
            at_once(lambda: step(n + 1))

    at_once(lambda: step(0))
    assert seen == list(range(steps + 1))


def test_past_its_depth_a_step_waits_until_the_steps_around_it_return():
    at_once = AtOnce(limit=2)
    events: list[str] = []

    def inner() -> None:
        events.append("inner")

    def middle() -> None:
        events.append("middle")
        at_once(inner)  # third level: deferred
        events.append("middle returns")

    def outer() -> None:
        events.append("outer")
        at_once(middle)
        events.append("outer returns")

    at_once(outer)
    assert events == ["outer", "middle", "middle returns", "outer returns", "inner"]
    assert AT_ONCE_DEPTH >= 2


def test_a_failing_step_leaves_the_run_queue_usable():
    at_once = AtOnce(limit=1)
    ran: list[str] = []

    def boom() -> None:
        at_once(lambda: ran.append("deferred"))
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        at_once(boom)
    at_once(lambda: ran.append("next"))
    assert ran == ["next"]  # what the failed step deferred never runs


def test_a_call_graph_300_services_deep_over_free_hops_runs(scenario_factory):
    depth = 300
    free = {"instances": 1, "concurrency": 2, "service_time": 0}
    services = {f"s{i}": {**free, "calls": [{"to": f"s{i + 1}"}]} for i in range(depth)}
    services[f"s{depth}"] = {**free, "calls": [{"to": f"s{depth}", "probability": 0.9}]}
    scenario = scenario_factory(
        services=services,
        databases={"default": {"read_time": 0, "write_time": 0}},
        network={"latency": 0},
        data={"owner": "s0", "replicas": [], "keys": 5},
        workload={"phases": [{"duration": 2, "rate": 10}], "mix": {"write": 0, "read": 1}},
        patterns=[{"kind": "shared_db"}],
    )
    requests = api.run(scenario, workers=1).requests
    assert len(requests) > 5
    assert (requests["outcome"] == "ok").all()
    assert (requests["latency"] == 0.0).all()
