"""Transactional outbox: the row and its event commit together, so crashes of the owner, a
replica and the relay lose nothing; deduplicating consumers (the default) absorb the relay's
repeats; the polling relay loads the database; one more hop of latency than dual write."""

from __future__ import annotations

from conftest import changed

from sim import api

OWNER_CRASHES = [
    {"kind": "crash", "target": f"instance:users/{i % 2}", "start": 3 + 2 * i, "duration": 1}
    for i in range(6)
]
REPLICA_CRASH = [{"kind": "crash", "target": "service:billing", "start": 6, "duration": 4}]
RELAY_CRASH = [{"kind": "connector-crash", "target": "connector:users", "start": 12, "duration": 3}]


def _scenario(scenario_factory, patterns, faults, rate=300):
    return scenario_factory(
        drain=90,  # a crashed consumer is noticed only after the 45 s session timeout [K-CONS]
        services={"users": {"instances": 2, "concurrency": 16, "service_time": "1ms"}},
        databases={"default": {"write_time": "5ms"}},
        workload={
            "phases": [{"duration": 20, "rate": rate}],
            "mix": {"write": 0.4, "delete": 0.1, "read": 0.5},
        },
        data={"keys": 100_000},
        patterns=patterns,
        faults=faults,
    )


def test_crashes_lose_nothing_and_deduplicating_consumers_see_no_duplicates(scenario_factory):
    patterns = [
        {"kind": "outbox", "idempotent_consumers": True},  # relay: cdc, the default
        {
            "kind": "outbox",
            "name": "outbox-polling",
            "relay": "polling",
            "idempotent_consumers": True,
        },
        {"kind": "outbox", "name": "outbox-applies-repeats"},  # consumers apply every delivery
    ]
    faults = OWNER_CRASHES + REPLICA_CRASH + RELAY_CRASH
    results = api.run(_scenario(scenario_factory, patterns, faults), workers=1)
    for name in ("outbox", "outbox-polling", "outbox-applies-repeats"):
        for metric in ("lost_updates", "divergent_keys", "phantom_writes"):
            assert results.metric(name, metric) == 0, (name, metric)
    # no offset was flushed before the relay crashed (60 s): it re-sends from its slot's start
    assert results.metric("outbox-applies-repeats", "duplicates") > 0
    assert results.metric("outbox", "duplicates") == 0
    assert results.metric("outbox-polling", "duplicates") == 0
    assert results.metric("outbox", "error_rate") > 0  # the owner's crashes did fail requests


def test_a_broker_outage_holds_the_events_and_loses_none(scenario_factory):
    outage = [
        # two of three brokers down: below min.insync.replicas=2, nothing is acknowledged
        {"kind": "broker-leader-loss", "target": f"broker:{b}", "start": 5, "duration": 10}
        for b in (0, 1)
    ]
    patterns = [
        {"kind": "outbox", "connector": {"offset_flush_interval": "2s"}},
        {"kind": "outbox", "name": "outbox-polling", "relay": "polling"},
    ]
    results = api.run(_scenario(scenario_factory, patterns, outage), workers=1)
    for name in ("outbox", "outbox-polling"):
        assert results.metric(name, "lost_updates") == 0, name
        assert results.metric(name, "divergent_keys") == 0, name
        assert results.metric(name, "staleness_max") > 10 - 2, name
    commits = results.runs[0].tables["commits"]
    during = int(((commits["time"] >= 5) & (commits["time"] < 15)).sum())
    assert results.metric("outbox", "wal_retained_max") >= during


def test_one_more_hop_than_dual_write_and_the_polling_relay_loads_the_database(
    scenario_factory,
):
    patterns = [
        {"kind": "dual_write"},
        {"kind": "outbox"},
        {"kind": "outbox", "name": "outbox-polling", "relay": "polling"},
    ]
    results = api.run(_scenario(scenario_factory, patterns, [], rate=50), workers=1)
    for name in ("outbox", "outbox-polling"):
        for metric in ("lost_updates", "divergent_keys", "duplicates", "reorders"):
            assert results.metric(name, metric) == 0, (name, metric)
        assert results.metric(name, "staleness_p50") > results.metric("dual_write", "staleness_p50")
    # the polling relay waits for its next poll (1 s), the log-based one for a poll window (0.5 s)
    assert results.metric("outbox-polling", "staleness_p50") > results.metric(
        "outbox", "staleness_p50"
    )
    # the polling relay's queries, and the log-based relay's decoding and cleanup, load the database
    assert results.metric("outbox-polling", "connector_db_load") > 0
    assert results.metric("outbox", "connector_db_load") > 0


def test_the_polling_relay_cut_off_the_broker_retries_until_it_heals(scenario_factory):
    cut = [{"kind": "partition", "target": "link:users<->broker", "start": 5, "duration": 8}]
    patterns = [{"kind": "outbox", "relay": "polling"}, {"kind": "dual_write"}]
    scenario = _scenario(scenario_factory, patterns, cut, rate=200)
    # sends fail after 3 s, well inside the 8 s cut
    short = changed(scenario, broker={"delivery_timeout": 3.0, "request_timeout": 2.0})
    results = api.run(short, workers=1)
    assert results.metric("outbox", "lost_updates") == 0
    assert results.metric("outbox", "divergent_keys") == 0
    assert results.metric("outbox", "staleness_max") > 8 - 1
    assert results.metric("dual_write", "lost_updates") > 0
