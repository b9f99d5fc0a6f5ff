"""The saga: a failure after the pivot is retried forward, one before it is compensated, every
copy converges to the owner after the drain, rejections are common to both coordinations, and
it stays available where two-phase commit blocks."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api

ORCHESTRATION = {"kind": "saga", "name": "orchestration"}
CHOREOGRAPHY = {"kind": "saga", "name": "choreography", "coordination": "choreography"}
BILLING_DOWN = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 4}]


def _writes_during(run, start, end):
    requests = run.requests
    window = requests[(requests["start"] > start) & (requests["start"] < end)]
    return window[window["op"] != "read"]


def test_a_failure_after_the_pivot_is_retried_forward(scenario_factory):
    # orders is the pivot, so billing's step is retriable: its crash fails no write and
    # compensates nothing; the calls are retried until billing is back
    saga = {**ORCHESTRATION, "pivot": "orders"}
    results = api.run(scenario_factory(patterns=[saga], faults=BILLING_DOWN), workers=1)
    run = results.runs[0]
    assert (_writes_during(run, 5.1, 8.9)["outcome"] == "ok").all()
    assert results.metric("orchestration", "compensations") == 0
    assert results.metric("orchestration", "never_propagated") == 0
    assert results.metric("orchestration", "staleness_max") > 3.0  # waited out the crash
    for metric in ("divergent_keys", "pending_at_end", "sagas_stuck"):
        assert results.metric("orchestration", metric) == 0, metric


def test_a_failure_before_the_pivot_is_compensated(scenario_factory):
    # by default the pivot is the last replica, billing: its crash fails the writes, and
    # each failed saga undoes the owner's step and the one at orders
    results = api.run(scenario_factory(patterns=[ORCHESTRATION], faults=BILLING_DOWN), workers=1)
    run = results.runs[0]
    assert (_writes_during(run, 5.1, 8.9)["outcome"] != "ok").mean() > 0.9
    failed = int((_writes_during(run, 0, 30)["outcome"] != "ok").sum())
    # two per failed saga, three where billing's step was under way when it crashed
    compensations = results.metric("orchestration", "compensations")
    assert 2 * failed <= compensations <= 2 * failed + 5, (compensations, failed)
    for metric in ("divergent_keys", "lost_updates", "pending_at_end", "sagas_stuck"):
        assert results.metric("orchestration", metric) == 0, metric
    assert results.metric("orchestration", "stale_read_rate") < 0.05


def test_rejections_are_the_same_requests_in_both_coordinations(scenario_factory):
    # billing's business rule refuses 10 % of the sagas: the same ones in both, each
    # compensated at orders and at the owner; the orchestrated client hears of it
    patterns = [{**p, "reject": 0.1} for p in (ORCHESTRATION, CHOREOGRAPHY)]
    results = api.run(scenario_factory(patterns=patterns), workers=1)
    orchestrated = results.runs[0].requests
    writes = orchestrated[orchestrated["op"] != "read"]
    rejected = int((writes["outcome"] != "ok").sum())
    assert 0.05 < rejected / len(writes) < 0.15
    for name in ("orchestration", "choreography"):
        assert results.metric(name, "compensations") == 2 * rejected, name
        assert results.metric(name, "divergent_keys") == 0, name
    assert results.metric("choreography", "error_rate") == 0  # answered when the saga starts


def test_reads_see_versions_that_are_later_compensated(scenario_factory):
    # a slow pivot keeps each rejected saga's version at orders for a while before it is
    # undone: reads at orders can return it
    scenario = scenario_factory(
        services={"billing": {"service_time": "50ms"}},
        data={"replicas": ["orders", "billing"], "keys": 5},
        workload={"mix": {"write": 0.3, "read": 0.7}, "phases": [{"duration": 20, "rate": 100}]},
        patterns=[{**ORCHESTRATION, "reject": 0.3}, ORCHESTRATION | {"name": "clean"}],
    )
    results = api.run(scenario, workers=1)
    assert results.metric("orchestration", "dirty_reads") > 0
    assert results.metric("orchestration", "dirty_read_window") > 0.05
    assert results.metric("orchestration", "divergent_keys") == 0
    assert results.metric("clean", "dirty_reads") == 0
    assert results.metric("clean", "dirty_read_window") == 0
    assert results.metric("clean", "compensations") == 0


def test_a_compensation_that_keeps_failing_leaves_the_saga_stuck(scenario_factory):
    # orders' database fails every query for 4 s: the sagas fail at orders' step, and its
    # compensation fails too; without retries they are stuck (the owner's step is never
    # undone, so the copies diverge); with the default retries they outlast the fault
    failing = [
        {"kind": "error", "target": "db:orders", "start": 5, "duration": 4, "probability": 1}
    ]
    patterns = [{**ORCHESTRATION, "name": "no-retries", "compensation_retries": 0}, ORCHESTRATION]
    results = api.run(scenario_factory(patterns=patterns, faults=failing), workers=1)
    requests = results.runs[0].requests
    failed = int((requests[requests["op"] != "read"]["outcome"] != "ok").sum())
    assert failed > 50
    assert results.metric("no-retries", "sagas_stuck") == failed
    assert results.metric("no-retries", "divergent_keys") > 0
    assert results.metric("orchestration", "sagas_stuck") == 0
    assert results.metric("orchestration", "divergent_keys") == 0


FAULT = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["crash", "error"]),
        "target": st.sampled_from(
            [
                "service:users",
                "service:orders",
                "service:billing",
                "instance:users/0",
                "instance:orders/1",
                "db:users",
                "db:orders",
                "db:billing",
            ]
        ),
        "start": st.integers(1, 14),
        "duration": st.integers(1, 5),
    }
).map(lambda f: {**f, "probability": 0.5} if f["kind"] == "error" else f)


@settings(max_examples=12, deadline=None)
@given(
    faults=st.lists(FAULT, min_size=1, max_size=3),
    seed=st.integers(0, 3),
    coordination=st.sampled_from(["orchestration", "choreography"]),
    pivot=st.sampled_from([None, "users", 0, "billing"]),
    reject=st.sampled_from([0.0, 0.05]),
)
def test_every_copy_converges_to_the_owner_under_any_fault_schedule(
    scenario_factory, faults, seed, coordination, pivot, reject
):
    saga = {"kind": "saga", "coordination": coordination, "reject": reject}
    if pivot is not None:
        saga["pivot"] = pivot
    scenario = scenario_factory(
        faults=faults,
        seed=seed,
        drain=60,  # a consumer whose instance crashed waits out the session timeout
        services={"users": {"instances": 2}, "orders": {"instances": 2}},
        workload={"phases": [{"duration": 20, "rate": 40}]},
        patterns=[saga],
    )
    results = api.run(scenario, workers=1)
    for metric in ("divergent_keys", "pending_at_end", "sagas_stuck", "phantom_writes"):
        assert results.metric("saga", metric) == 0, metric
    if pivot == "users":  # every replica's step is retriable: nothing is ever undone
        assert results.metric("saga", "compensations") == 0


def test_a_coordinator_crash_blocks_two_phase_commit_but_not_the_saga(scenario_factory):
    # the owner's instance 0 crashes with transactions (sagas) under way: 2PC's prepared
    # participants hold the keys' locks until it recovers, so writes to those keys through
    # the live instance time out; the saga's participants hold nothing, so they commit
    crash = [{"kind": "crash", "target": "instance:users/0", "start": 5, "duration": 4}]
    scenario = scenario_factory(
        services={"users": {"instances": 2, "concurrency": 8}},
        workload={"phases": [{"duration": 20, "rate": 60}], "mix": {"write": 1, "read": 0}},
        data={"keys": 20},
        patterns=[{"kind": "two_phase_commit", "timeout": "200ms"}, ORCHESTRATION],
        faults=crash,
    )
    results = api.run(scenario, workers=1)
    timeouts = {}
    for run in results.runs:
        requests = run.requests
        cut = set(requests.loc[(requests["start"] < 5) & (requests["outcome"] != "ok"), "key"])
        assert cut, run.pattern
        during = _writes_during(run, 5.3, 8.5)
        timeouts[run.pattern] = (during[during["key"].isin(cut)]["outcome"] == "timeout").mean()
    assert timeouts["two_phase_commit"] > 0.3 > 0.01 >= timeouts["orchestration"], timeouts
    assert results.metric("orchestration", "divergent_keys") == 0
    assert results.metric("orchestration", "sagas_stuck") == 0
