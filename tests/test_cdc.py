"""Log-based CDC: nothing lost under crashes of the owner, a replica and the connector; at least
once delivery (duplicates unless consumers deduplicate); the slot holds the log while the
broker is out; a crash before the first offset flush snapshots again (or, with
``snapshot_mode: no_data``, re-sends from the slot); one more hop of latency than dual write."""

from __future__ import annotations

from sim import api

OWNER_CRASHES = [
    {"kind": "crash", "target": f"instance:users/{i % 2}", "start": 3 + 2 * i, "duration": 1}
    for i in range(6)
]
REPLICA_CRASH = [{"kind": "crash", "target": "service:billing", "start": 6, "duration": 4}]
CONNECTOR_CRASH = [
    # after the first offset flush (every 5 s here), so the restart resumes from an offset
    {"kind": "connector-crash", "target": "connector:users", "start": 12, "duration": 3}
]


def _scenario(scenario_factory, patterns, faults, rate=300, keys=100_000, duration=20):
    return scenario_factory(
        drain=90,  # a crashed consumer is noticed only after the 45 s session timeout [K-CONS]
        services={"users": {"instances": 2, "concurrency": 16, "service_time": "1ms"}},
        databases={"default": {"write_time": "5ms"}},
        workload={
            "phases": [{"duration": duration, "rate": rate}],
            "mix": {"write": 0.4, "delete": 0.1, "read": 0.5},
        },
        data={"keys": keys},
        patterns=patterns,
        faults=faults,
    )


def test_crashes_lose_nothing_and_a_connector_crash_duplicates_unless_consumers_dedupe(
    scenario_factory,
):
    connector = {"offset_flush_interval": "5s"}
    patterns = [
        {"kind": "cdc", "connector": connector},
        {"kind": "cdc", "name": "cdc-dedupe", "idempotent_consumers": True, "connector": connector},
    ]
    faults = OWNER_CRASHES + REPLICA_CRASH + CONNECTOR_CRASH
    results = api.run(_scenario(scenario_factory, patterns, faults), workers=1)
    for name in ("cdc", "cdc-dedupe"):
        for metric in ("lost_updates", "divergent_keys", "phantom_writes"):
            assert results.metric(name, metric) == 0, (name, metric)
    assert results.metric("cdc", "duplicates") > 0  # re-sent after the last flushed offset
    assert results.metric("cdc-dedupe", "duplicates") == 0
    assert results.metric("cdc", "error_rate") > 0  # the owner's crashes did fail requests


def test_a_broker_outage_grows_the_retained_log_and_loses_nothing(scenario_factory):
    outage = [
        # two of three brokers down: below min.insync.replicas=2, nothing is acknowledged
        {"kind": "broker-leader-loss", "target": f"broker:{b}", "start": 5, "duration": 10}
        for b in (0, 1)
    ]
    patterns = [{"kind": "cdc", "connector": {"offset_flush_interval": "2s"}}]
    results = api.run(_scenario(scenario_factory, patterns, outage), workers=1)
    assert results.metric("cdc", "lost_updates") == 0
    assert results.metric("cdc", "divergent_keys") == 0
    (run,) = results.runs
    commits = run.tables["commits"]
    during = int(((commits["time"] >= 5) & (commits["time"] < 15)).sum())
    # the slot is not confirmed while nothing is acknowledged: it holds every commit meanwhile
    assert results.metric("cdc", "wal_retained_max") >= during
    assert results.metric("cdc", "staleness_max") > 10 - 2


def test_a_stalled_connector_falls_behind_then_catches_up_without_duplicates(scenario_factory):
    stall = [{"kind": "connector-stall", "target": "connector:users", "start": 5, "duration": 8}]
    patterns = [{"kind": "cdc", "connector": {"offset_flush_interval": "2s"}}]
    results = api.run(_scenario(scenario_factory, patterns, stall, rate=100), workers=1)
    for metric in ("lost_updates", "divergent_keys", "duplicates", "reorders"):
        assert results.metric("cdc", metric) == 0, metric
    assert results.metric("cdc", "staleness_max") > 8 - 1
    commits = results.runs[0].tables["commits"]
    during = int(((commits["time"] >= 5) & (commits["time"] < 13)).sum())
    assert results.metric("cdc", "wal_retained_max") >= during


def test_a_crash_before_the_first_offset_flush_snapshots_again(scenario_factory):
    crash = [{"kind": "connector-crash", "target": "connector:users", "start": 5, "duration": 5}]
    # few keys, so many rows are written again while the connector is down
    results = api.run(_scenario(scenario_factory, [{"kind": "cdc"}], crash, keys=500), workers=1)
    (run,) = results.runs
    events = run.tables["connector_offsets"]["event"].tolist()
    assert events.count("snapshot") == 2  # the empty table at 0 s, every row again at 10 s
    assert results.metric("cdc", "duplicates") > 0  # rows not written while it was down
    # versions committed and overwritten while it was down are in no snapshot: never applied
    assert results.metric("cdc", "lost_updates") > 0
    # the new snapshot carries the latest version of every row that exists; a row deleted
    # while the connector was down is in none, so the copies keep it
    owner = run.tables["commits"].groupby("key")["version"].max()
    applies = run.tables["applies"].sort_values("time", kind="stable")
    copies = applies.groupby(["replica", "key"])["version"].last().unstack(0)
    behind = owner.index[(copies.reindex(owner.index).fillna(0).ne(owner, axis=0)).any(axis=1)]
    assert len(behind) == results.metric("cdc", "divergent_keys") > 0
    writes = run.requests[(run.requests["op"] != "read") & (run.requests["outcome"] == "ok")]
    last_op = writes.sort_values("version").groupby("key")["op"].last()
    assert set(last_op[behind]) == {"delete"}


def test_with_snapshot_mode_no_data_a_crash_before_the_first_flush_resends_and_skips_nothing(
    scenario_factory,
):
    # the same crash: without a snapshot to fall back on, the restart streams from the slot's
    # confirmed position (where it was created, at 0 s), so what came after is sent again
    crash = [{"kind": "connector-crash", "target": "connector:users", "start": 5, "duration": 5}]
    patterns = [{"kind": "cdc", "snapshot_mode": "no_data"}]
    results = api.run(_scenario(scenario_factory, patterns, crash, keys=500), workers=1)
    (run,) = results.runs
    assert "snapshot" not in run.tables["connector_offsets"]["event"].tolist()
    assert results.metric("cdc", "duplicates") > 0
    for metric in ("lost_updates", "divergent_keys", "phantom_writes"):
        assert results.metric("cdc", metric) == 0, metric


def test_one_more_hop_than_dual_write_and_decoding_loads_the_database(scenario_factory):
    patterns = [{"kind": "dual_write"}, {"kind": "cdc"}]
    results = api.run(_scenario(scenario_factory, patterns, [], rate=50), workers=1)
    for metric in ("lost_updates", "divergent_keys", "duplicates", "reorders"):
        assert results.metric("cdc", metric) == 0, metric
    assert results.metric("cdc", "staleness_p50") > results.metric("dual_write", "staleness_p50")
    assert results.metric("cdc", "staleness_p50") < 0.5 + 0.1  # within a poll interval or so
    # it reads the log, not the table, but the walsender decodes every change on the database
    assert results.metric("cdc", "connector_db_load") > 0
    assert results.metric("cdc", "latency_p50") < results.metric("dual_write", "latency_p50")
