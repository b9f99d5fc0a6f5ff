"""Resilience of synchronous calls, measured where it acts: a circuit breaker cuts the calls
that reach a crashed callee to its half-open trials, a bulkhead bounds the calls in flight, a
propagated deadline stops a callee working for callers that gave up, a bounded queue sheds load
as M/M/1/K says, LIFO keeps a saturated service useful, and a health check takes a crashed
instance out of the rotation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from conftest import make_scenario
from scipy import stats

from sim import api
from sim.config.clients import Backoff
from sim.config.distributions import Constant
from sim.config.resilience import Bulkhead as BulkheadSettings
from sim.config.resilience import CircuitBreaker as BreakerSettings
from sim.config.sections import ServiceConfig
from sim.infra.guards import CLOSED, OPEN, Bulkhead, CircuitBreaker
from sim.infra.http import ANY_FAILURE, NO_GUARDS, Guards, HttpClient, RetryPolicy
from sim.infra.job import NO_DEADLINE, Job
from sim.infra.network import Network
from sim.infra.service import Service
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.schedule import later


class Watched:
    """The callee as its callers see it, noting when each attempt arrives."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.arrivals: list[float] = []

    def call(self, work: Any, done: Any, draws: Any = None, deadline: float = NO_DEADLINE) -> Job:
        self.arrivals.append(self.service.ctx.now)
        return self.service.call(work, done, draws, deadline)


class Edge:
    """A caller ("orders") calling a callee ("billing") at a fixed pace."""

    def __init__(self, guards: Guards = NO_GUARDS, **callee: Any) -> None:
        self.ctx = SimContext.create(1)
        self.network = Network(self.ctx, Constant(value=0.001))
        self.callee = Service(self.ctx, "billing", ServiceConfig(**callee), self.network)
        self.watched = Watched(self.callee)
        self.client = HttpClient(self.ctx, self.network, "orders", {"billing": self.watched})  # type: ignore[dict-item]
        self.guards = guards
        self.outcomes: list[tuple[float, int]] = []
        self.late_work = 0
        """Work the callee began after its caller had stopped waiting."""

    def work_for(self, gives_up: float) -> Any:
        def work(job: Job) -> None:
            if self.ctx.now >= gives_up:
                self.late_work += 1
            job.finish(OK)

        return work

    def calls(self, every: float, until: float, **options: Any) -> None:
        env = self.ctx.env
        settings: dict[str, Any] = {
            "timeout": 1.0,
            "per_try_timeout": None,
            "policy": RetryPolicy(0, ANY_FAILURE),
            "backoff": Backoff(),
        } | options

        def one() -> None:
            if env.now >= until:
                return
            started = env.now
            self.client.call(
                "billing",
                self.work_for(started + settings["timeout"]),
                lambda outcome: self.outcomes.append((started, outcome)),
                alive=lambda: True,
                guards=self.guards,
                **settings,
            )
            later(env, every, one)

        one()

    def at(self, when: float, action: Any) -> None:
        self.ctx.env.timeout(when).callbacks.append(lambda _e: action())

    def run(self, until: float) -> None:
        self.ctx.env.run(until=until)


def _outage(settings: BreakerSettings | None) -> Edge:
    edge = Edge(service_time={"dist": "constant", "value": 0.002})
    if settings is not None:
        edge.guards = Guards(breaker=CircuitBreaker(edge.ctx.env, settings))
    instance = edge.callee.instances[0]
    edge.calls(every=0.02, until=100)
    edge.at(20, instance.crash)
    edge.at(80, instance.restart)
    edge.run(110)
    return edge


def test_an_open_breaker_lets_only_its_half_open_trials_reach_a_crashed_callee() -> None:
    settings = BreakerSettings(size=20, minimum_calls=20, wait_in_open=5, half_open_calls=3)
    edge = _outage(settings)
    breaker = edge.guards.breaker
    assert breaker is not None
    opened = next(t for t, state in breaker.transitions if state == OPEN)
    assert 20 < opened < 21  # twenty refusals fill the window
    during = [t for t in edge.watched.arrivals if opened <= t < 80]
    periods = math.ceil((80 - opened) / settings.wait_in_open)
    assert len(during) <= settings.half_open_calls * periods
    assert len(during) >= settings.half_open_calls * (periods - 1)  # it does keep probing
    # without a breaker every call of the outage reaches the callee
    naive = _outage(None)
    assert len([t for t in naive.watched.arrivals if opened <= t < 80]) > 2_900
    # and after the restart a half-open trial finds the callee up and the breaker closes
    closed = [t for t, state in breaker.transitions if state == CLOSED and t > 80]
    assert closed and closed[0] <= 80 + settings.wait_in_open + 0.1
    assert breaker.open_seconds() > 50


def test_a_bulkhead_bounds_the_calls_in_flight_and_refuses_the_rest() -> None:
    env_edge = Edge(concurrency=100, service_time={"dist": "constant", "value": 0.1})
    bulkhead = Bulkhead(env_edge.ctx.env, BulkheadSettings(max_concurrent=5))
    env_edge.guards = Guards(bulkhead=bulkhead)
    in_flight: list[int] = []
    original = env_edge.watched.call

    def noting(*args: Any, **kwargs: Any) -> Job:
        in_flight.append(env_edge.callee.instances[0].outstanding)
        return original(*args, **kwargs)

    env_edge.watched.call = noting  # type: ignore[method-assign]
    env_edge.calls(every=0.01, until=20)
    env_edge.run(25)
    assert max(in_flight) == 4  # five at most, counting the one arriving
    refused = sum(1 for _t, outcome in env_edge.outcomes if outcome != OK)
    # five permits, each held 102 ms (work and two hops): about 49 of 100 calls a second
    assert bulkhead.rejected == refused
    assert 0.45 < refused / len(env_edge.outcomes) < 0.6


def _deadline_edge(propagate: bool) -> Edge:
    edge = Edge(concurrency=1, service_time={"dist": "constant", "value": 0.05})
    options = {"timeout": 0.2, "propagate": propagate}
    edge.calls(every=0.02, until=10, **options)  # 50/s to a callee that serves 20/s
    edge.at(10, lambda: edge.calls(every=0.1, until=40, **options))  # then 10/s
    edge.run(50)
    return edge


def test_a_propagated_deadline_stops_the_callee_working_for_callers_that_gave_up() -> None:
    naive, propagated = _deadline_edge(False), _deadline_edge(True)
    assert propagated.late_work == 0
    assert propagated.callee.dropped > 200
    assert naive.late_work > 200

    def ok_after(edge: Edge, since: float) -> int:
        return sum(1 for t, outcome in edge.outcomes if t >= since and outcome == OK)

    # the backlog of the burst evaporates at once with deadlines; without them the callee
    # works through it, for callers long gone, while new calls time out behind it
    assert ok_after(propagated, 10.5) == sum(1 for t, _o in propagated.outcomes if t >= 10.5)
    assert ok_after(naive, 10.5) < ok_after(propagated, 10.5) / 2


def _shedding(
    queue: dict[str, Any], rate: float, replications: int = 1, **workload: Any
) -> api.Results:
    scenario = make_scenario(
        replications=replications,
        network={"latency": 0},
        databases={
            "default": {
                "read_time": {"dist": "constant", "value": 0},
                "write_time": {"dist": "constant", "value": 0},
            }
        },
        services={"users": {"concurrency": 1, "service_time": "10ms", "queue": queue}},
        workload={"phases": [{"duration": 100, "rate": rate}], "mix": {"write": 1.0, "read": 0.0}}
        | workload,
        patterns=[{"kind": "shared_db"}],
    )
    return api.run(scenario, workers=1)


def test_a_bounded_queue_sheds_the_share_erlang_loss_predicts() -> None:
    """M/M/1/K with K = 5 (one in service, four waiting) at ρ = 0.8: P(block) = (1−ρ)ρ^K /
    (1−ρ^(K+1)) = 0.0888; the 95 % interval over ten replications holds it."""
    results = _shedding({"limit": 4}, rate=80, replications=10)
    rho, k = 0.8, 5
    expected = (1 - rho) * rho**k / (1 - rho ** (k + 1))
    frame = results.per_replication
    shares = frame[(frame["metric"] == "error_rate")]["value"].to_numpy()
    sheds = frame[(frame["metric"] == "shed")]["value"].to_numpy()
    assert np.all(sheds > 0)
    half = stats.t.ppf(0.975, len(shares) - 1) * shares.std(ddof=1) / math.sqrt(len(shares))
    assert abs(shares.mean() - expected) < half
    assert half < 0.01


def test_lifo_keeps_an_overloaded_service_answering_where_fifo_times_everyone_out() -> None:
    workload = {"timeout": "1s"}
    fifo = _shedding({"limit": 1_000}, rate=150, **workload)
    lifo = _shedding({"limit": 1_000, "order": "lifo"}, rate=150, **workload)
    assert lifo.metric("shared_db", "throughput") > 3 * fifo.metric("shared_db", "throughput")


def test_drop_oldest_sheds_requests_that_waited_where_reject_refuses_arrivals() -> None:
    reject = _shedding({"limit": 20}, rate=150).requests
    drop = _shedding({"limit": 20, "overflow": "drop_oldest"}, rate=150).requests
    refused = reject[reject["outcome"] == "error"]["latency"]
    dropped = drop[drop["outcome"] == "error"]["latency"]
    assert len(refused) > 1_000 and len(dropped) > 1_000
    assert refused.max() == 0.0  # refused at once
    assert dropped.min() > 0.0  # each had waited in the queue


def _instance_crash(health_check: dict[str, Any] | None) -> api.Results:
    users: dict[str, Any] = {"instances": 2}
    if health_check is not None:
        users["health_check"] = health_check
    scenario = make_scenario(
        services={"users": users},
        workload={"phases": [{"duration": 80, "rate": 50}], "mix": {"write": 1.0, "read": 0.0}},
        patterns=[{"kind": "shared_db"}],
        faults=[{"kind": "crash", "target": "instance:users/1", "start": "10s", "duration": "50s"}],
    )
    return api.run(scenario, workers=1)


def test_a_health_check_takes_a_crashed_instance_out_of_the_rotation() -> None:
    checked = _instance_crash({"interval": "2s", "unhealthy_threshold": 3}).requests
    naive = _instance_crash(None).requests

    def errors(frame: Any, low: float, high: float) -> int:
        inside = frame[(frame["start"] >= low) & (frame["start"] < high)]
        return int((inside["outcome"] != "ok").sum())

    # probes at 12, 14 and 16 s fail: out of the rotation from 16 s
    assert errors(checked, 10, 16) > 0
    assert errors(checked, 16.001, 60) == 0
    assert errors(naive, 16.001, 60) > 1_000  # every other request is refused
    assert errors(checked, 60, 80) == errors(naive, 60, 80) == 0


@pytest.mark.parametrize("edge", ["circuit_breaker", "bulkhead"])
def test_a_call_edge_to_no_replica_is_refused_with_its_location(edge: str) -> None:
    with pytest.raises(api.ScenarioError) as caught:
        make_scenario(patterns=[{"kind": "sync_http", "calls": {"users": {edge: {}}}}])
    assert "calls are to the replicas (orders, billing)" in str(caught.value)


def test_a_service_capacity_refuses_past_its_rate_and_the_refusals_are_not_retried() -> None:
    scenario = make_scenario(
        services={"billing": {"capacity": {"requests": "40/s", "burst": "1s"}}},
        data={"replicas": ["billing"]},
        workload={
            "arrivals": "uniform",
            "phases": [{"duration": 20, "rate": 50}],
            "mix": {"write": 1.0, "read": 0.0},
        },
        patterns=[{"kind": "sync_http", "timeout": "1s"}],
    )
    results = api.run(scenario, workers=1)
    # 1,000 calls against 40 a second and one second banked: 1,000 − 840 refused with a 429
    assert results.metric("sync_http", "throttled") == pytest.approx(160, abs=2)
    assert results.metric("sync_http", "error_rate") == pytest.approx(0.16, abs=0.003)
    assert results.metric("sync_http", "attempts_per_call") == 1.0  # a 429 is not retried


def test_a_caller_that_dies_returns_its_bulkhead_permit_at_the_timeout() -> None:
    edge = Edge(service_time={"dist": "constant", "value": 100.0})
    bulkhead = Bulkhead(edge.ctx.env, BulkheadSettings(max_concurrent=1))
    edge.guards = Guards(bulkhead=bulkhead)
    living = {"caller": True}
    outcomes: list[int] = []
    edge.client.call(
        "billing",
        edge.work_for(1.0),
        outcomes.append,
        timeout=1.0,
        per_try_timeout=None,
        policy=RetryPolicy(0, ANY_FAILURE),
        backoff=Backoff(),
        alive=lambda: living["caller"],
        guards=edge.guards,
    )
    edge.at(0.5, lambda: living.update(caller=False))
    edge.run(5)
    assert outcomes == [] and bulkhead.in_use == 0  # the dead caller hears nothing, frees it
    edge.calls(every=10, until=6)
    edge.run(20)
    assert bulkhead.rejected == 0 and len(edge.outcomes) == 1
