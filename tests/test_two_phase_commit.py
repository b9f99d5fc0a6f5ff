"""Two-phase commit: atomic (never divergent), slower than synchronous calls, and blocking
while its coordinator is down."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api

PATTERNS = [
    {"kind": "sync_http", "timeout": "200ms"},
    {"kind": "two_phase_commit", "timeout": "200ms"},
]


def test_latency_is_above_sync_http_on_the_same_scenario(scenario_factory):
    for fanout in ("sequential", "parallel"):
        patterns = [{**p, "fanout": fanout} for p in PATTERNS]
        results = api.run(scenario_factory(patterns=patterns, replications=2), workers=1)
        for metric in ("latency_mean", "latency_p99"):
            assert results.metric("two_phase_commit", metric) > results.metric("sync_http", metric)


FAULT = st.fixed_dictionaries(
    {
        "kind": st.sampled_from(["crash", "error"]),
        "target": st.sampled_from(
            [
                "service:users",
                "service:orders",
                "service:billing",
                "instance:users/0",
                "db:users",
                "db:orders",
                "db:billing",
            ]
        ),
        "start": st.integers(1, 14),
        "duration": st.integers(1, 5),
    }
).map(lambda f: {**f, "probability": 0.5} if f["kind"] == "error" else f)


@settings(max_examples=15, deadline=None)
@given(faults=st.lists(FAULT, min_size=1, max_size=3), seed=st.integers(0, 3))
def test_never_divergent_under_any_fault_schedule(scenario_factory, faults, seed):
    scenario = scenario_factory(
        faults=faults,
        seed=seed,
        services={"users": {"instances": 2}},
        workload={"phases": [{"duration": 20, "rate": 40}]},
        patterns=[PATTERNS[1]],
    )
    results = api.run(scenario, workers=1)
    assert results.metric("two_phase_commit", "divergent_keys") == 0


def test_sync_http_diverges_where_two_phase_commit_does_not(scenario_factory):
    faults = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 4}]
    results = api.run(scenario_factory(patterns=PATTERNS, faults=faults), workers=1)
    assert results.metric("sync_http", "divergent_keys") > 0
    assert results.metric("two_phase_commit", "divergent_keys") == 0


def test_coordinator_crash_after_prepare_blocks_writes_to_the_locked_keys(scenario_factory):
    crash = [{"kind": "crash", "target": "instance:users/0", "start": 5, "duration": 4}]
    scenario = scenario_factory(
        services={"users": {"instances": 2, "concurrency": 8}},
        workload={"phases": [{"duration": 20, "rate": 60}], "mix": {"write": 1, "read": 0}},
        data={"keys": 20},
        patterns=[PATTERNS[1]],
        faults=crash,
    )
    run = api.run(scenario, workers=1).runs[0]
    requests = run.requests
    # writes cut off by the crash left their transactions in doubt, their keys locked
    in_doubt = set(requests.loc[(requests["start"] < 5) & (requests["outcome"] != "ok"), "key"])
    assert in_doubt
    during = requests[(requests["start"] > 5.3) & (requests["start"] < 8.5)]
    blocked = during[during["key"].isin(in_doubt)]
    free = during[~during["key"].isin(in_doubt)]
    # half the writes reach the crashed instance and are refused; the others, at the live
    # instance, wait on the locks the in-doubt transactions hold until they time out
    timeouts = {
        "blocked": (blocked["outcome"] == "timeout").mean(),
        "free": (free["outcome"] == "timeout").mean(),
    }
    assert timeouts["blocked"] > 0.3 > 0.05 > timeouts["free"], timeouts
    assert (free["outcome"] == "ok").mean() > 0.3  # other keys still commit via the live one
    after = requests[requests["start"] > 10]
    assert (after["outcome"] == "ok").all(), "recovery released every lock"
    assert api.run(scenario, workers=1).metric("two_phase_commit", "divergent_keys") == 0
