"""Dual write: lost updates when the owner crashes between commit and publish; phantoms when
it publishes first and the commit fails; nothing lost without faults."""

from __future__ import annotations

from conftest import changed

from sim import api

OWNER_CRASHES = [
    {"kind": "crash", "target": f"instance:users/{i % 2}", "start": 3 + 2 * i, "duration": 1}
    for i in range(6)
]


def _scenario(scenario_factory, patterns, faults, rate=300):
    return scenario_factory(
        drain=90,  # a crashed consumer is noticed only after the 45 s session timeout [K-CONS]
        services={"users": {"instances": 2, "concurrency": 16, "service_time": "1ms"}},
        databases={"default": {"write_time": "5ms"}},
        workload={"phases": [{"duration": 20, "rate": rate}], "mix": {"write": 0.5, "read": 0.5}},
        data={"keys": 100_000},  # a lost change stays lost when its key is not written again
        patterns=patterns,
        faults=faults,
    )


def test_without_faults_every_change_reaches_every_copy(scenario_factory):
    results = api.run(_scenario(scenario_factory, [{"kind": "dual_write"}], []), workers=1)
    for metric in ("lost_updates", "divergent_keys", "phantom_writes", "duplicates"):
        assert results.metric("dual_write", metric) == 0, metric
    # 150 writes/s committed every 5 s (auto-commit [K-CONS]) over 6 partitions: the lag peaks
    # at about a commit interval's worth of records, and never much beyond
    lag = results.metric("dual_write", "consumer_lag_max")
    assert 10 < lag < 150 * (5 + 1), lag


def test_owner_crashes_between_commit_and_publish_lose_updates(scenario_factory):
    results = api.run(
        _scenario(scenario_factory, [{"kind": "dual_write"}], OWNER_CRASHES), workers=1
    )
    assert results.metric("dual_write", "lost_updates") > 0
    assert results.metric("dual_write", "divergent_keys") > 0
    assert results.metric("dual_write", "phantom_writes") == 0


def test_publish_first_with_failing_commits_leaves_phantoms(scenario_factory):
    failing = [
        {"kind": "error", "target": "db:users", "start": 2, "duration": 10, "probability": 0.3}
    ]
    patterns = [{"kind": "dual_write", "order": "publish_first"}]
    results = api.run(_scenario(scenario_factory, patterns, failing), workers=1)
    assert results.metric("dual_write", "phantom_writes") > 0
    assert results.metric("dual_write", "divergent_keys") > 0


def test_reads_at_replicas_are_eventually_consistent(scenario_factory):
    scenario = _scenario(scenario_factory, [{"kind": "dual_write"}], [])
    scenario = changed(scenario, data={"keys": 20})
    results = api.run(scenario, workers=1)
    assert results.metric("dual_write", "staleness_p50") > 0
    assert results.metric("dual_write", "read_your_writes_violations") > 0


def test_a_replica_crash_loses_nothing_the_broker_keeps_it(scenario_factory):
    crash = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 5}]
    patterns = [{"kind": "dual_write"}, {"kind": "sync_http", "timeout": "200ms"}]
    results = api.run(_scenario(scenario_factory, patterns, crash), workers=1)
    assert results.metric("dual_write", "divergent_keys") == 0
    assert results.metric("dual_write", "lost_updates") == 0
    assert results.metric("sync_http", "divergent_keys") > 0


def test_owner_cut_off_from_the_broker_past_the_delivery_timeout_loses_changes(scenario_factory):
    cut = [{"kind": "partition", "target": "link:users<->broker", "start": 5, "duration": 8}]
    scenario = _scenario(scenario_factory, [{"kind": "dual_write"}], cut)
    short = changed(scenario, broker={"delivery_timeout": 3.0, "request_timeout": 2.0})
    results = api.run(short, workers=1)
    assert results.metric("dual_write", "lost_updates") > 0
    assert results.metric("dual_write", "error_rate") > 0
