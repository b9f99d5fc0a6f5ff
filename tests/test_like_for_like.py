"""Like for like: every pattern gets the same work and the same faults, and every metric means
what its name says (common random numbers, one fault mapping, censored staleness, lost means
lost, a producer per process, the outbox and CDC paying their way)."""

from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from sim import api

SCENARIOS = Path(__file__).resolve().parents[1] / "scenarios"
ALL_PATTERNS = SCENARIOS / "all-patterns.yaml"


def _short_all_patterns(*overrides: str) -> api.Scenario:
    return api.load(
        ALL_PATTERNS,
        overrides=[
            "replications=1",
            "warmup=0",
            "workload.phases=[{duration: 20s, rate: 60/s}]",
            "faults=[]",
            "slo=[]",
            *overrides,
        ],
    )


def _reads_at(run: api.RunResult, service: str):
    requests = run.requests
    return requests[(requests["op"] == "read") & (requests["service"] == service)]


# -- common random numbers ---------------------------------------------------------------------


def test_every_pattern_gives_a_read_the_same_work_and_the_same_error_coin() -> None:
    error = '[{kind: error, target: "service:orders", start: 2s, duration: 15s, probability: 30%}]'
    for faults in ("[]", error):
        results = api.run(_short_all_patterns(f"faults={error}" if faults != "[]" else "faults=[]"))
        runs = {run.pattern: run for run in results.runs}
        base = _reads_at(runs["shared_db"], "orders").set_index("start")
        for pattern, run in runs.items():
            mine = _reads_at(run, "orders").set_index("start")
            both = base.add_suffix("_a").join(mine.add_suffix("_b"), how="inner")
            assert len(both) == len(base) > 100  # the very same reads reach orders
            same_work = np.isclose(both["work_a"], both["work_b"], rtol=0, atol=1e-12)
            assert same_work.mean() >= 0.99, (pattern, same_work.mean())
            if faults != "[]":
                same_outcome = both["outcome_a"] == both["outcome_b"]
                assert same_outcome.mean() >= 0.99, (pattern, same_outcome.mean())
                assert (both["outcome_a"] == "error").mean() > 0.2  # the fault did bite


def test_paired_differences_vary_less_than_unpaired_ones(scenario_factory) -> None:
    # reads queue at busy copies (about 60 % utilised) in both patterns: the luck of the
    # arrivals moves both means together, and the paired difference cancels it
    services = {"instances": 1, "concurrency": 1, "service_time": "8ms"}
    scenario = scenario_factory(
        replications=10,
        workload={"phases": [{"duration": 20, "rate": 150}], "mix": {"write": 0.1, "read": 0.9}},
        services={"orders": services, "billing": services},
    )
    results = api.run(scenario, workers=1)
    per = results.per_replication
    latency = per[per["metric"] == "latency_mean"].pivot(
        index="replication", columns="pattern", values="value"
    )
    a, b = latency["shared_db"], latency["sync_http"]
    paired = statistics.variance(a - b)
    unpaired = statistics.variance(a) + statistics.variance(b)
    assert paired < unpaired, (paired, unpaired)
    assert a.corr(b) > 0.8  # the same luck moves both patterns' means


# -- one fault mapping -------------------------------------------------------------------------

BROKER = ("dual_write", "event_sourcing", "cdc", "polling", "outbox")
RELAY = ("cdc", "polling", "outbox")

# kind -> (fault, patterns it applies to, the effect it must have: metric, direction)
FAULTS = {
    "crash": (
        "{kind: crash, target: service:billing, start: 5s, duration: 8s}",
        None,
        "error_rate",
    ),
    "latency": (
        "{kind: latency, target: service:billing, start: 5s, duration: 8s, delay: 50ms}",
        None,
        "latency_p99",
    ),
    "error": (
        "{kind: error, target: service:billing, start: 5s, duration: 8s, probability: 50%}",
        None,
        "error_rate",
    ),
    "partition": (
        '{kind: partition, target: "link:billing<->broker", start: 5s, duration: 8s}',
        BROKER,
        "billing_delay",
    ),
    "connector-crash": (  # (after the poller's poll at 5 s published rows)
        "{kind: connector-crash, target: connector:users, start: 7s, duration: 3s}",
        RELAY,
        "duplicates",
    ),
    "connector-stall": (
        "{kind: connector-stall, target: connector:users, start: 5s, duration: 8s}",
        RELAY,
        "billing_delay",
    ),
    "rewind": (
        "{kind: rewind, target: consumer:billing, start: 10s, by: 5s}",
        BROKER,
        "redelivered",
    ),
    "broker-leader-loss": (
        "{kind: broker-leader-loss, target: broker:0, start: 5s, duration: 8s}",
        BROKER,
        "elections",
    ),
    "broker-outage": (
        "{kind: broker-outage, target: broker, start: 5s, duration: 8s}",
        BROKER,
        "billing_delay",
    ),
    "consumer-crash": (
        "{kind: consumer-crash, target: consumer:billing, start: 5s, duration: 8s}",
        BROKER,
        "billing_delay",
    ),
    "consumer-pause": (
        "{kind: consumer-pause, target: consumer:billing, start: 5s, duration: 8s}",
        BROKER,
        "billing_delay",
    ),
}


def _effect(results: api.Results, pattern: str, what: str) -> float:
    run = next(r for r in results.runs if r.pattern == pattern)
    if what == "billing_delay":  # how late billing's copy got the changes that reached it
        spread = run.propagation
        return float(spread[spread["replica"] == "billing"]["delay"].mean())
    if what == "redelivered":
        consumed = run.tables.get("broker_consume")
        return 0.0 if consumed is None else float(consumed["redelivered"].sum())
    if what == "elections":
        elections = run.tables.get("leader_elections")
        return 0.0 if elections is None else float(len(elections))
    return results.metric(pattern, what)


@pytest.fixture(scope="module")
def quiet_run() -> api.Results:
    return api.run(_short_all_patterns(), workers=2)


@pytest.mark.parametrize("kind", list(FAULTS))
def test_every_fault_kind_changes_what_it_should_or_is_reported(kind, quiet_run) -> None:
    fault, applies_to, what = FAULTS[kind]
    scenario = _short_all_patterns(f"faults=[{fault}]")
    results = api.run(scenario, workers=2)
    assert set(results.faults["kind"]) == {kind}
    for pattern in results.patterns:
        applied = results.faults[results.faults["pattern"] == pattern]["applied"].all()
        expected = applies_to is None or pattern in applies_to
        assert applied == expected, (kind, pattern)
        if not applied:
            assert any(pattern in w and kind in w for w in api.warnings(scenario)), (kind, pattern)
            continue
        before, after = _effect(quiet_run, pattern, what), _effect(results, pattern, what)
        assert after > before, (kind, pattern, what, before, after)


def test_a_partition_between_a_replica_and_the_broker_delays_its_copies(quiet_run) -> None:
    cut = '{kind: partition, target: "link:billing<->broker", start: 5s, duration: 8s}'
    results = api.run(_short_all_patterns(f"faults=[{cut}]"), workers=2)
    for pattern in BROKER:
        run = next(r for r in results.runs if r.pattern == pattern)
        spread = run.propagation
        during = spread[(spread["commit_time"] > 5) & (spread["commit_time"] < 10)]
        billing = during[during["replica"] == "billing"]["delay"]
        orders = during[during["replica"] == "orders"]["delay"]
        assert billing.median() > orders.median() + 2.0, pattern  # only billing waits


def test_a_broker_outage_stops_propagation_and_fails_waiting_dual_writes() -> None:
    outage = "{kind: broker-outage, target: broker, start: 5s, duration: 10s}"
    scenario = _short_all_patterns(
        f"faults=[{outage}]",
        "workload.phases=[{duration: 25s, rate: 60/s}]",
        "broker.delivery_timeout=3s",
        "broker.request_timeout=2s",
    )
    results = api.run(scenario, workers=2)
    for pattern in BROKER:
        run = next(r for r in results.runs if r.pattern == pattern)
        applies = run.tables["applies"]
        assert not applies["time"].between(6, 14.5).any(), pattern  # nothing reaches a copy
    dual = next(r for r in results.runs if r.pattern == "dual_write").requests
    writes = dual[(dual["op"] == "write") & dual["start"].between(6, 11)]
    ends = writes["start"] + writes["latency"]
    # each waits for the broker, holding its slot: it fails after the delivery timeout, or
    # (when every slot is taken by such waits) queues and gets through after the outage
    failed = writes[writes["outcome"] != "ok"]
    assert len(failed) > 10 and (failed["latency"] >= 2.9).all()
    assert (ends[writes["outcome"] == "ok"] >= 15).all()


def test_crashing_billing_raises_staleness_at_billing_in_every_broker_pattern() -> None:
    crash = "{kind: crash, target: service:billing, start: 5s, duration: 8s}"
    quiet = api.run(_short_all_patterns(), workers=2)
    crashed = api.run(_short_all_patterns(f"faults=[{crash}]"), workers=2)
    for pattern in BROKER:
        worst = []
        for results in (quiet, crashed):
            run = next(r for r in results.runs if r.pattern == pattern)
            spread = run.propagation
            worst.append(spread[spread["replica"] == "billing"]["delay"].max())
        assert worst[1] > worst[0] + 5.0, (pattern, worst)  # the session timeout at least


# -- staleness counts what never arrived ----------------------------------------------------------


def test_copies_that_never_arrive_make_staleness_never_and_fail_the_slo(scenario_factory) -> None:
    crash = [{"kind": "crash", "target": "service:billing", "start": 5, "duration": 10}]
    scenario = scenario_factory(
        data={"keys": 100_000},  # a missed version is not carried by a later write of the key
        patterns=[{"kind": "sync_http", "timeout": "200ms"}],
        faults=crash,
        slo=["p99(staleness) < 5s"],
    )
    results = api.run(scenario, workers=1)
    never = results.metric("sync_http", "never_propagated")
    assert never > 0.01
    assert results.metric("sync_http", "staleness_p99") == float("inf")
    assert not results.verdicts["passed"].any()
    assert api.format_value("staleness_p99", float("inf")) == "never"


# -- lost means lost -----------------------------------------------------------------------------


def _event_sourcing_single(drain: str) -> api.Results:
    scenario = api.load(
        SCENARIOS / "event-sourcing.yaml",
        overrides=["replications=1", "faults=[]", f"drain={drain}"],
    )
    return api.run(scenario, patterns=["single"], workers=1)


def test_a_backlog_at_the_end_is_pending_not_lost() -> None:
    short = _event_sourcing_single("20s")
    assert short.metric("single", "lost_updates") == 0
    assert short.metric("single", "pending_at_end") > 0
    quiet = _event_sourcing_single("{until: quiet}")
    assert quiet.metric("single", "lost_updates") == 0
    assert quiet.metric("single", "pending_at_end") == 0
    assert quiet.metric("single", "drain_time") > 20  # it ran until the backlog was gone
    assert quiet.metric("single", "drain_capped") == 0


# -- TCP-like links --------------------------------------------------------------------------------


def test_a_partition_between_a_service_and_its_database_recovers_after_the_heal(
    scenario_factory,
) -> None:
    cut = [{"kind": "partition", "target": "link:users<->db:users", "start": 5, "duration": 2}]
    scenario = scenario_factory(
        patterns=[{"kind": "sync_http", "timeout": "1s"}],
        workload={"phases": [{"duration": 30, "rate": 50}], "mix": {"write": 0.5, "read": 0.5}},
        data={"replicas": [], "keys": 100},
        faults=cut,
    )
    requests = api.run(scenario, workers=1).runs[0].requests
    before = requests[requests["start"] < 5]
    after = requests[requests["start"] > 7 + 1.0]  # the link is back, and so is every query
    assert (before["outcome"] == "ok").mean() == 1.0
    assert (after["outcome"] == "ok").mean() == 1.0
    held = requests[requests["start"].between(5, 7)]
    assert (held["outcome"] == "ok").all()  # delivered after the heal, well inside the timeout
    assert held["latency"].max() > 1.0


# -- a producer lives and dies with its process ---------------------------------------------------


def test_owner_crashes_lose_what_their_producer_held(scenario_factory) -> None:
    crashes = [
        {"kind": "crash", "target": "instance:users/0", "start": 4 + 4 * i, "duration": 1}
        for i in range(4)
    ]
    scenario = scenario_factory(
        drain={"until": "quiet"},
        services={"users": {"instances": 2, "concurrency": 16, "service_time": "1ms"}},
        workload={"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 1.0, "read": 0.0}},
        data={"keys": 1_000_000},
        patterns=[{"kind": "dual_write"}],
        broker={"linger": "5ms"},
        faults=crashes,
    )
    results = api.run(scenario, workers=1)
    run = results.runs[0]
    lost = results.metric("dual_write", "lost_updates") / len(results.scenario.data.replicas)
    produced = run.tables["broker_produce"]
    acknowledgement = float(produced.loc[produced["error"] == "", "latency"].median())
    crashed_instance_rate = 100 / 2
    product = 4 * crashed_instance_rate * (0.005 + acknowledgement)
    assert lost > 0
    assert product / 10 < lost < product * 10, (lost, product, acknowledgement)
    assert (produced["error"] == "PRODUCER_CRASHED").any()


# -- the outbox and CDC pay their way ------------------------------------------------------------


def test_the_outbox_insert_costs_write_time_and_both_relays_load_the_database(
    scenario_factory,
) -> None:
    scenario = scenario_factory(
        replications=2,
        patterns=[{"kind": "cdc"}, {"kind": "outbox"}],
        workload={"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 0.6, "read": 0.4}},
    )
    results = api.run(scenario, workers=1)
    writes = results.requests[results.requests["op"] == "write"]
    by_pattern = writes.groupby("pattern")["latency"].mean()
    assert by_pattern["outbox"] > by_pattern["cdc"]
    assert results.metric("cdc", "connector_db_load") > 0
    assert results.metric("outbox", "connector_db_load") > 0
    assert results.metric("outbox", "outbox_rows_max") > 0
    assert results.metric("cdc", "wal_retained_bytes_max") == pytest.approx(
        results.metric("cdc", "wal_retained_max") * 1024
    )


@pytest.mark.parametrize(
    ("relay", "interval"),
    [
        ("cdc", {"cleanup_interval": 2, "connector": {"offset_flush_interval": 2}}),
        ("polling", {"poll_interval": 1}),
    ],
)
def test_the_outbox_table_holds_only_what_its_relay_has_not_yet_published(
    scenario_factory, relay: str, interval: dict
) -> None:
    # 60 writes/s for 20 s: 1200 rows in all; the table holds about one cleanup (or poll)
    # interval of writes, plus the acknowledgement and offset-flush delays (the cleanup deletes
    # only what a stored source offset covers)
    scenario = scenario_factory(
        patterns=[{"kind": "outbox", "relay": relay, **interval}],
        workload={"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 0.6, "read": 0.4}},
    )
    results = api.run(scenario, workers=1)
    writes = (results.requests["op"] == "write").sum()
    rows_max = results.metric("outbox", "outbox_rows_max")
    assert 0 < rows_max < writes / 2, (rows_max, writes)


def test_an_invalidated_outbox_slot_loses_the_rows_in_between(scenario_factory) -> None:
    stall = [{"kind": "connector-stall", "target": "connector:users", "start": 3, "duration": 10}]
    connector = {"max_slot_wal_keep_size": 50 * 1024}  # 50 changes of 1 KiB
    scenario = scenario_factory(
        patterns=[{"kind": "outbox", "relay": "cdc", "connector": connector}],
        workload={"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 0.6, "read": 0.4}},
        faults=stall,
    )
    results = api.run(scenario, workers=1)
    assert results.metric("outbox", "slot_invalidations") >= 1
    assert results.metric("outbox", "lost_updates") > 0  # nothing to snapshot them from


def test_a_slot_past_max_slot_wal_keep_size_is_invalidated_and_snapshots_again(
    scenario_factory,
) -> None:
    stall = [{"kind": "connector-stall", "target": "connector:users", "start": 3, "duration": 10}]
    connector = {"max_slot_wal_keep_size": 50 * 1024}  # 50 changes of 1 KiB
    scenario = scenario_factory(
        patterns=[{"kind": "cdc", "connector": connector}],
        workload={"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 0.6, "read": 0.4}},
        faults=stall,
    )
    results = api.run(scenario, workers=1)
    assert results.metric("cdc", "slot_invalidations") >= 1
    # the new snapshot carries each row's latest version: the copies converge, but the
    # versions overwritten meanwhile never reached them
    assert results.metric("cdc", "divergent_keys") == 0
    assert results.metric("cdc", "lost_updates") > 0
