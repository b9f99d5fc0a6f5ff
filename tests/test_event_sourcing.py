"""Event sourcing on the partitioned log: the acknowledged append is the commit, listeners
project into read stores, readers answer from them; a replay rebuilds the same state."""

from __future__ import annotations

import pandas as pd

from sim import api

ES = "event_sourcing"


def _scenario(scenario_factory, pattern=None, faults=(), **changes):
    base = {
        "workload": {"phases": [{"duration": 20, "rate": 100}], "mix": {"write": 0.5, "read": 0.5}},
        "patterns": [{"kind": ES, **(pattern or {})}],
        "faults": list(faults),
    }
    return scenario_factory(**{**base, **changes})


def _run(scenario):
    results = api.run(scenario, workers=1)
    return results, results.runs[0]


def _final(projections: pd.DataFrame, store: str) -> pd.Series:
    """The version each key holds in a read store at the end."""
    mine = projections[(projections["store"] == store) & (projections["applied"] == 1)]
    return mine.sort_values("time", kind="stable").groupby("key")["version"].last()


def test_without_faults_every_event_reaches_every_read_store(scenario_factory):
    results, run = _run(_scenario(scenario_factory))
    for metric in ("lost_updates", "divergent_keys", "duplicates", "reorders", "phantom_writes"):
        assert results.metric(ES, metric) == 0, metric
    assert results.metric(ES, "error_rate") == 0
    owner_history = run.tables["commits"].groupby("key")["version"].max()
    for store in ("users", "orders", "billing"):  # the owner's projection too
        assert _final(run.tables["projections"], store).sort_index().equals(owner_history)
    assert set(run.tables["broker_consume"]["group"]) == {"users", "orders", "billing"}
    # no database log is tailed and no connector queries a database: not measured at all
    assert {"wal_retained_max", "connector_db_load"}.isdisjoint(results.summary["metric"])


def test_reads_at_the_owner_do_not_see_its_own_acknowledged_writes(scenario_factory):
    # every read goes to the owner's own read service, which reads the owner's projection
    scenario = _scenario(
        scenario_factory,
        data={"replicas": [], "keys": 20},
        workload={"phases": [{"duration": 20, "rate": 200}], "mix": {"write": 0.5, "read": 0.5}},
    )
    results, run = _run(scenario)
    assert set(run.requests["service"]) == {"users"}
    assert results.metric(ES, "read_your_writes_violations") > 0
    assert results.metric(ES, "stale_read_rate") > 0


def _lag_with(scenario_factory, listeners):
    scenario = _scenario(
        scenario_factory,
        {"listeners": listeners},
        # an apply takes the read service's 10 ms of work and the store write: about 75
        # events/s per listener
        services={"users": {"service_time": "10ms"}},
        data={"replicas": [], "keys": 1000},
        workload={"phases": [{"duration": 30, "rate": 200}], "mix": {"write": 0.9, "read": 0.1}},
    )
    return api.run(scenario, workers=1).metric(ES, "consumer_lag_max")


def test_more_listeners_lower_the_lag_one_listener_cannot_keep_up_with(scenario_factory):
    # 180 events/s on 6 partitions: one listener and two fall further behind every second,
    # three keep up; the lag left then is what the 5 s auto-commit interval leaves [K-CONS]
    lags = [_lag_with(scenario_factory, n) for n in (1, 2, 3)]
    assert lags[0] > lags[1] > lags[2], lags
    assert lags[0] > 2 * lags[2]


def test_a_rewind_replays_events_and_rebuilds_the_same_read_stores(scenario_factory):
    rewind = [{"kind": "rewind", "target": "consumer:orders", "start": 15, "by": 10}]
    _, plain = _run(_scenario(scenario_factory))
    results, replayed = _run(_scenario(scenario_factory, faults=rewind))
    for metric in ("lost_updates", "divergent_keys", "duplicates", "reorders"):
        assert results.metric(ES, metric) == 0, metric
    owner_history = replayed.tables["commits"].groupby("key")["version"].max()
    for store in ("users", "orders", "billing"):
        assert _final(replayed.tables["projections"], store).sort_index().equals(owner_history)
        assert _final(replayed.tables["projections"], store).equals(
            _final(plain.tables["projections"], store)
        )
    # the events appended from 5 s to 15 s were projected again at orders, and changed nothing
    produced = replayed.tables["broker_produce"]
    sent = produced["time"] - produced["latency"]
    in_window = int(((sent >= 5.0) & (sent < 15.0) & (produced["error"] == "")).sum())
    projections = replayed.tables["projections"]
    orders = projections[projections["store"] == "orders"]
    before = plain.tables["projections"]
    extra = len(orders) - int((before["store"] == "orders").sum())
    assert abs(extra - in_window) <= 5, (extra, in_window)
    assert int((orders["applied"] == 0).sum()) == extra
    assert int((projections[projections["store"] != "orders"]["applied"] == 0).sum()) == 0
    consumed = replayed.tables["broker_consume"]
    assert int(consumed[consumed["group"] == "orders"]["redelivered"].sum()) == extra


def test_a_rewind_by_less_than_the_lag_moves_the_group_forward_and_skips_events(scenario_factory):
    # --by-duration counts from now [K-OPS]: one listener (about 75 events/s) under 180
    # events/s is some 9 s behind at 15 s, so "back by 2 s" jumps over the events in between
    def run(faults):
        scenario = _scenario(
            scenario_factory,
            {"listeners": 1},
            faults,
            services={"orders": {"service_time": "10ms"}},
            drain=60,
            data={"replicas": ["orders"], "keys": 100_000},
            workload={
                "phases": [{"duration": 20, "rate": 200}],
                "mix": {"write": 0.9, "read": 0.1},
            },
        )
        return api.run(scenario, workers=1)

    assert run([]).metric(ES, "lost_updates") == 0
    rewound = run([{"kind": "rewind", "target": "consumer:orders", "start": 15, "by": 2}])
    assert rewound.metric(ES, "lost_updates") > 0
    assert rewound.metric(ES, "divergent_keys") > 0


def test_a_broker_leader_loss_with_acks_all_loses_nothing(scenario_factory):
    loss = [{"kind": "broker-leader-loss", "target": "broker:0", "start": 5, "duration": 5}]
    broker = {"acks": "all", "replication_factor": 3, "min_insync_replicas": 2}
    broker["unclean_leader_election"] = False
    results, run = _run(_scenario(scenario_factory, faults=loss, broker=broker))
    assert len(run.tables["leader_elections"]) >= 1
    assert results.metric(ES, "lost_updates") == 0
    assert results.metric(ES, "divergent_keys") == 0
    # appends to the partitions that lost their leader waited for the election (~9.7 s)
    writes = run.requests[run.requests["op"] == "write"]
    assert writes["latency"].max() > 9.0
    assert results.metric(ES, "error_rate") == 0


def test_crashing_a_read_service_stops_its_listeners_too_and_they_catch_up(scenario_factory):
    # the listeners run in the read service's instances: a crash of the service takes them down
    crash = [{"kind": "crash", "target": "service:orders", "start": 5, "duration": 10}]
    results, run = _run(_scenario(scenario_factory, faults=crash, drain={"until": "quiet"}))
    requests = run.requests
    during = requests["start"].between(6, 14)
    reads = requests[during & (requests["op"] == "read") & (requests["service"] == "orders")]
    assert (reads["outcome"] == "error").all() and len(reads) > 0
    writes = requests[during & (requests["op"] == "write")]
    assert (writes["outcome"] == "ok").all()
    applies = run.tables["projections"]
    assert ((applies["store"] == "orders") & applies["time"].between(6, 14)).sum() == 0
    assert ((applies["store"] == "billing") & applies["time"].between(6, 14)).sum() > 50
    assert results.metric(ES, "divergent_keys") == 0  # caught up after the restart
    assert results.metric(ES, "lost_updates") == 0
    assert results.metric(ES, "staleness_max") > 9  # events of the outage waited for it


def _latency(scenario_factory, op, pattern, mix, rate):
    scenario = _scenario(
        scenario_factory,
        pattern,
        services={"users": {"instances": 1, "concurrency": 2, "service_time": "4ms"}},
        data={"replicas": [], "keys": 1000},
        workload={"phases": [{"duration": 10, "rate": rate}], "mix": mix},
    )
    requests = api.run(scenario, workers=1).runs[0].requests
    mine = requests[(requests["op"] == op) & (requests["outcome"] == "ok")]
    return float(mine["latency"].median())


def test_more_readers_lower_read_latency_under_read_heavy_load(scenario_factory):
    # 570 reads/s against the 500/s that one reader instance (2 slots, 4 ms each) can serve
    mix = {"write": 0.05, "read": 0.95}
    one = _latency(scenario_factory, "read", {"readers": 1}, mix, rate=600)
    three = _latency(scenario_factory, "read", {"readers": 3}, mix, rate=600)
    assert three < one / 10, (one, three)


def test_more_writers_lower_write_latency_under_write_heavy_load(scenario_factory):
    # a writer holds its slot until the broker acknowledges the append (4 ms of work, linger
    # 5 ms, acks=all: about 11 ms, so some 180 writes/s per instance of 2 slots); 380 writes/s
    mix = {"write": 0.95, "read": 0.05}
    one = _latency(scenario_factory, "write", {"writers": 1}, mix, rate=400)
    three = _latency(scenario_factory, "write", {"writers": 3}, mix, rate=400)
    assert three < one / 10, (one, three)


def test_the_same_seed_gives_the_same_run(scenario_factory):
    rewind = [{"kind": "rewind", "target": "consumer:billing", "start": 10, "by": 5}]
    first = _run(_scenario(scenario_factory, faults=rewind))[1]
    second = _run(_scenario(scenario_factory, faults=rewind))[1]
    pd.testing.assert_frame_equal(first.requests, second.requests)
    pd.testing.assert_frame_equal(first.tables["projections"], second.tables["projections"])
