"""``committed_versions``: the versions the owner committed from the warm-up on, the count
that ``lost_updates`` is a share of (one (version, copy) pair per copy)."""

from __future__ import annotations

import pytest

from sim import api


@pytest.fixture(scope="module")
def inserts(scenario_factory):
    scenario = scenario_factory(
        warmup=5,
        data={"replicas": ["orders"], "keys": 100},
        databases={"users": {"write_time": {"dist": "lognormal", "mean": "20ms", "p99": "200ms"}}},
        workload={
            "phases": [{"duration": 20, "rate": 100}],
            "mix": {"insert": 0.7, "write": 0.1, "read": 0.2},
        },
        patterns=[{"kind": "shared_db"}, {"kind": "polling", "poll_interval": "500ms"}],
    )
    return api.run(scenario, workers=1)


def test_without_a_warm_up_every_acknowledged_write_is_a_committed_version(scenario_factory):
    scenario = scenario_factory(
        workload={
            "phases": [{"duration": 10, "rate": 80}],
            "mix": {"insert": 0.5, "write": 0.2, "read": 0.3},
        },
        patterns=[{"kind": "shared_db"}],
    )
    results = api.run(scenario, workers=1)
    requests = results.requests
    writes = requests[(requests["op"] != "read") & (requests["outcome"] == "ok")]
    assert len(writes) > 500
    assert results.metric("shared_db", "committed_versions") == len(writes)


def test_committed_versions_counts_only_commits_from_the_warm_up_on(inserts):
    requests = inserts.requests
    mine = requests[(requests["pattern"] == "polling") & (requests["op"] != "read")]
    ok = mine[mine["outcome"] == "ok"]
    committed = inserts.metric("polling", "committed_versions")
    # every measured write committed after the warm-up; writes begun in the warm-up did not
    assert (ok["start"] >= 5).sum() <= committed < len(ok)


def test_each_copy_has_one_pair_per_committed_version(inserts):
    copies = inserts.copies
    polling = copies[copies["pattern"] == "polling"]
    committed = inserts.metric("polling", "committed_versions")
    assert list(polling["commits"]) == [committed]
    lost = inserts.metric("polling", "lost_updates")
    assert 0 < lost < committed  # out-of-order commits skip some rows: a fraction of them


def test_committed_versions_is_in_the_summary_with_its_unit(inserts):
    row = inserts.summary[
        (inserts.summary["pattern"] == "polling")
        & (inserts.summary["metric"] == "committed_versions")
    ]
    assert len(row) == 1
    assert api.format_value("committed_versions", 1234.0) == "1234"
    from sim.metrics.catalog import metric

    assert metric("committed_versions").unit == "count"
