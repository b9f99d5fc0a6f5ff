"""Polling connector (Kafka Connect JDBC source): rows missed when transactions commit out of
order, invisible deletes, updates seen only as the latest row, staleness that grows with the
poll interval, the load its queries put on the owner's database, and redelivery after a crash.
"""

from __future__ import annotations

import pytest
from conftest import changed

from sim import api
from sim.metrics.consistency import final_versions

VARIED = {"dist": "lognormal", "mean": "20ms", "p99": "150ms"}
"""Write transactions of varied length: most are short, a few last ten times longer."""
CONSTANT = {"dist": "constant", "value": "5ms"}
"""Every write transaction lasts the same: commits come in the order the transactions began."""


def _scenario(scenario_factory, patterns, *, write_time, keys=100_000, rate=150, **changes):
    return scenario_factory(
        **{
            "drain": 20,
            "services": {"users": {"instances": 2, "concurrency": 32, "service_time": "1ms"}},
            "databases": {"users": {"write_time": write_time}},
            "workload": {
                "phases": [{"duration": 20, "rate": rate}],
                "mix": {"write": 0.8, "read": 0.2},
            },
            # many keys, so a row the poller skipped is rarely written again (and re-read)
            "data": {"keys": keys},
            "patterns": patterns,
            **changes,
        }
    )


@pytest.fixture(scope="module")
def varied(scenario_factory):
    patterns = [
        {"kind": "polling", "name": "no_delay", "poll_interval": "1s"},
        {"kind": "polling", "name": "delay", "poll_interval": "1s", "timestamp_delay": "1s"},
    ]
    return api.run(_scenario(scenario_factory, patterns, write_time=VARIED), workers=1)


def test_timestamp_mode_misses_rows_whose_transactions_commit_out_of_order(varied):
    assert varied.metric("no_delay", "lost_updates") > 0
    assert varied.metric("no_delay", "divergent_keys") > 0


def test_with_transactions_of_one_length_nothing_commits_out_of_order(scenario_factory):
    patterns = [{"kind": "polling", "poll_interval": "1s"}]
    results = api.run(_scenario(scenario_factory, patterns, write_time=CONSTANT), workers=1)
    assert results.metric("polling", "divergent_keys") == 0


def test_a_timestamp_delay_narrows_the_missed_row_window_and_delays_every_change(varied):
    assert varied.metric("delay", "lost_updates") < varied.metric("no_delay", "lost_updates")
    assert varied.metric("delay", "divergent_keys") < varied.metric("no_delay", "divergent_keys")
    added = varied.metric("delay", "staleness_p50") - varied.metric("no_delay", "staleness_p50")
    assert 0.8 < added < 1.2


@pytest.fixture(scope="module")
def intervals(scenario_factory):
    patterns = [
        {"kind": "polling", "name": "every_1s", "poll_interval": "1s"},
        {"kind": "polling", "name": "every_5s", "poll_interval": "5s"},
        {"kind": "polling", "name": "every_10s", "poll_interval": "10s"},
        {"kind": "polling", "name": "bulk_1s", "poll_interval": "1s", "mode": "bulk"},
        {"kind": "polling", "name": "incrementing", "poll_interval": "1s", "mode": "incrementing"},
    ]
    # a small table, so bulk mode's repeats stay cheap and keys are updated often
    scenario = _scenario(scenario_factory, patterns, write_time=CONSTANT, keys=100, rate=50)
    return api.run(scenario, workers=1)


def test_staleness_grows_with_the_poll_interval(intervals):
    p50 = [intervals.metric(f"every_{n}s", "staleness_p50") for n in (1, 5, 10)]
    assert p50[0] < p50[1] < p50[2]
    # a change waits for the next poll: half an interval on average
    assert p50[0] < 1.0 < p50[1] < 4.0 < p50[2]


def test_shorter_intervals_and_bulk_mode_load_the_database_more(intervals):
    load = {name: intervals.metric(name, "connector_db_load") for name in intervals.patterns}
    assert 0 < load["every_10s"] < load["every_5s"] < load["every_1s"]
    # one statement a second each; bulk reads the whole table, incrementing the new rows
    assert load["bulk_1s"] > load["incrementing"]
    assert "wal_retained_max" not in set(intervals.summary["metric"])  # no replication slot


def test_incrementing_mode_sees_new_rows_but_misses_updates(intervals):
    assert intervals.metric("every_1s", "divergent_keys") == 0
    assert intervals.metric("incrementing", "divergent_keys") > 0
    lost = intervals.metric("incrementing", "lost_updates")
    assert lost > intervals.metric("every_1s", "lost_updates")
    # every row reaches each copy once, as it was at the first poll after its insert
    run = next(r for r in intervals.runs if r.pattern == "incrementing")
    assert (run.tables["applies"].groupby(["replica", "key"]).size() == 1).all()


def test_bulk_mode_republishes_every_row_every_poll(intervals):
    assert intervals.metric("bulk_1s", "divergent_keys") == 0
    assert intervals.metric("bulk_1s", "duplicates") > 0
    assert intervals.metric("every_1s", "duplicates") == 0


@pytest.fixture(scope="module")
def against_cdc(scenario_factory):
    scenario = _scenario(
        scenario_factory,
        [{"kind": "polling", "poll_interval": "1s"}, {"kind": "cdc"}],
        write_time=CONSTANT,
        keys=300,
        rate=50,
        workload={
            "phases": [{"duration": 20, "rate": 50}],
            "mix": {"write": 0.5, "delete": 0.2, "read": 0.3},
        },
    )
    return api.run(scenario, workers=1)


def test_deleted_rows_stay_at_the_copies(against_cdc):
    results = against_cdc
    assert results.metric("cdc", "divergent_keys") == 0  # the log carries the deletes
    assert results.metric("polling", "divergent_keys") > 0
    run = next(r for r in results.runs if r.pattern == "polling")
    commits = run.tables["commits"]
    table = final_versions(commits, run.tables["applies"], results.scenario.data.replicas)
    held = table.loc[table.index.isin(_deleted_keys(results))]
    assert len(held) > 0
    # no copy ever hears of a delete; most still hold the row as it was before it
    for replica in results.scenario.data.replicas:
        assert (held[replica] < held["owner"]).all()
        assert (held[replica] > 0).mean() > 0.5


def test_polling_loads_the_database_more_than_log_based_cdc(against_cdc):
    polling = against_cdc.metric("polling", "connector_db_load")
    cdc = against_cdc.metric("cdc", "connector_db_load")
    assert polling > cdc > 0  # decoding loads the source database too, less than polls do


@pytest.mark.parametrize("pool", [1, 10])
def test_poll_queries_slow_the_owners_writes_when_the_pool_is_small(scenario_factory, pool):
    # a bulk poll every second reads the whole table (100 rows at 200 us: 20 ms on a
    # connection), against the same poller polling once an hour
    patterns = [
        {
            "kind": "polling",
            "name": name,
            "mode": "bulk",
            "poll_interval": every,
            "row_time": "200us",
        }
        for name, every in (("busy", "1s"), ("idle", "1h"))
    ]
    scenario = _scenario(
        scenario_factory,
        patterns,
        write_time=CONSTANT,
        keys=100,
        rate=50,
        databases={"users": {"pool": pool, "write_time": CONSTANT, "read_time": "1ms"}},
    )
    results = api.run(scenario, workers=1)
    writes = results.requests[results.requests["op"] == "write"]
    p99 = writes.groupby("pattern")["latency"].quantile(0.99)
    if pool == 1:
        assert p99["busy"] > p99["idle"] * 1.1  # writes wait behind the poll for the connection
    else:
        assert p99["busy"] == pytest.approx(p99["idle"], rel=0.01)  # a connection is free
    assert results.metric("busy", "connector_db_load") > 100 * results.metric(
        "idle", "connector_db_load"
    )


def test_a_connector_crash_redelivers_what_came_after_the_last_flushed_offset(scenario_factory):
    patterns = [
        {"kind": "polling", "poll_interval": "1s"},  # flushes every 60 s: none before the crash
        {"kind": "polling", "name": "flush_5s", "poll_interval": "1s", "offset_flush_interval": 5},
        {"kind": "polling", "name": "deduplicated", "poll_interval": "1s"},
    ]
    crash = [{"kind": "connector-crash", "target": "connector:users", "start": 17, "duration": 2}]
    scenario = _scenario(scenario_factory, patterns, write_time=CONSTANT, rate=50, faults=crash)
    listed = [p.model_dump(mode="json") for p in scenario.patterns]
    listed[2]["idempotent_consumers"] = True
    scenario = changed(scenario, patterns=listed)
    results = api.run(scenario, workers=1)
    # without a flushed offset the restarted task reads the whole table again; with a flush
    # at 15 s, only the rows read in the last two seconds
    copies = len(results.scenario.data.replicas)
    run = next(r for r in results.runs if r.pattern == "flush_5s")
    after_flush = run.tables["commits"]["time"].between(14, 17).sum()
    assert 0 < results.metric("flush_5s", "duplicates") <= copies * after_flush
    assert results.metric("flush_5s", "duplicates") < results.metric("polling", "duplicates")
    assert results.metric("deduplicated", "duplicates") == 0
    for name in ("polling", "flush_5s", "deduplicated"):
        assert results.metric(name, "divergent_keys") == 0


def test_a_stalled_connector_delays_changes_and_loses_nothing(scenario_factory):
    stall = [{"kind": "connector-stall", "target": "connector:users", "start": 5, "duration": 8}]
    patterns = [{"kind": "polling", "poll_interval": "1s"}]
    scenario = _scenario(scenario_factory, patterns, write_time=CONSTANT, rate=50, faults=stall)
    results = api.run(scenario, workers=1)
    assert results.metric("polling", "staleness_max") > 7
    assert results.metric("polling", "divergent_keys") == 0


def _deleted_keys(results):
    requests = results.requests
    ok = requests[(requests["pattern"] == "polling") & (requests["outcome"] == "ok")]
    last = ok[ok["op"] != "read"].sort_values("start").groupby("key")["op"].last()
    return set(last[last == "delete"].index)


@pytest.mark.parametrize("other_end", ["db:users", "broker"])
def test_a_connector_cut_off_its_database_or_the_broker_catches_up_after(
    scenario_factory, other_end
):
    cut = [
        {
            "kind": "partition",
            "target": f"link:connector:users<->{other_end}",
            "start": 5,
            "duration": 8,
        }
    ]
    patterns = [{"kind": "polling", "poll_interval": "1s"}]
    scenario = _scenario(scenario_factory, patterns, write_time=CONSTANT, rate=50, faults=cut)
    results = api.run(scenario, workers=1)
    assert results.metric("polling", "staleness_max") > 7
    assert results.metric("polling", "divergent_keys") == 0
