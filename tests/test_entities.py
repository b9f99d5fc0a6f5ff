"""Several entities in one scenario: located errors, the single form unchanged, shared service
instances under the load of every entity, each entity's keys reaching only its own copies."""

from __future__ import annotations

import copy
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from conftest import BASE

from sim import api
from sim.config.data import EntitiesConfig
from sim.kernel.rng import Streams
from sim.scenario import ScenarioError, parse_scenario
from sim.workload.requests import draw_entity_keys

TWO: dict[str, Any] = {
    "entities": {
        "orders": {"owner": "orders", "replicas": ["billing", "users"], "keys": 300, "share": 3},
        "users": {"owner": "users", "replicas": ["orders"], "keys": 100, "share": 2},
    }
}


def _scenario(data: dict[str, Any] | None = None, **changes: Any):
    """The conftest scenario with ``data`` replaced whole (and top-level keys replaced)."""
    base = copy.deepcopy(BASE)
    base["data"] = copy.deepcopy(TWO if data is None else data)
    base["patterns"] = [
        {"kind": "shared_db"},
        {"kind": "dual_write"},
        {"kind": "cdc"},
        {"kind": "polling"},
        {"kind": "sync_http", "timeout": "200ms"},
    ]
    base.update(copy.deepcopy(changes))
    return parse_scenario(json.dumps(base), "<test>")


def _errors(data: dict[str, Any] | None = None, **changes: Any) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        _scenario(data, **changes)
    return [str(issue) for issue in caught.value.issues]


def _entity(**keys: Any) -> dict[str, Any]:
    data = copy.deepcopy(TWO)
    data["entities"]["orders"].update(keys)
    return data


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (_entity(owner="nobody"), "data.entities.orders.owner: must name a service"),
        (_entity(replicas=["orders"]), "data.entities.orders.replicas[0]: the owner cannot"),
        (_entity(replicas=["billing", "nobody"]), "data.entities.orders.replicas[1]: must name"),
        (_entity(keys=0), "data.entities.orders.keys"),
        (_entity(share=0), "data.entities.orders.share"),
        ({"entities": {}}, "data.entities"),
        ({"entities": TWO["entities"], "owner": "users"}, "data.owner"),
    ],
)
def test_errors_in_an_entity_are_located(data, expected):
    found = _errors(data)
    assert any(expected in line for line in found), found


def test_a_pattern_without_entities_refuses_them_at_its_kind():
    found = _errors(patterns=[{"kind": "shared_db"}, {"kind": "two_phase_commit"}])
    assert any(
        "patterns[1].kind: this pattern runs only the single-entity form" in line for line in found
    ), found
    assert not any("patterns[0]" in line for line in found)


def test_a_workload_entities_cannot_share_is_refused_where_it_is_written():
    found = _errors(
        workload={"phases": [{"duration": 5, "rate": 10}], "mix": {"write": 0.5, "insert": 0.5}}
    )
    assert any("workload.mix.insert: inserts need the single-entity form" in f for f in found)
    closed = {"phases": [{"duration": 5, "closed": {"users": 2, "think_time": "1s"}}]}
    assert any("workload.phases[0].closed" in line for line in _errors(workload=closed))


def test_connectors_need_one_owner_per_entity():
    shared = {
        "entities": {
            "orders": {"owner": "users", "replicas": ["billing"], "keys": 10},
            "users": {"owner": "users", "replicas": ["orders"], "keys": 10},
        }
    }
    found = _errors(shared)
    for cdc_then_polling in (2, 3):
        expected = f"patterns[{cdc_then_polling}].kind: one connector per owner database"
        assert any(expected in line for line in found), found
    assert not any("patterns[1]" in line for line in found)  # dual_write takes them


def test_shares_are_normalised_and_keys_are_global_ranges():
    data = _scenario().data
    assert isinstance(data, EntitiesConfig)
    orders, users = data.entity_list()
    assert (orders.share, users.share) == pytest.approx((0.6, 0.4))
    assert (orders.key_range, users.key_range) == ((0, 300), (300, 400))
    assert data.copies == ["orders.billing", "orders.users", "users.orders"]
    keys, targets = draw_entity_keys(data, 20_000, Streams(1))
    in_users = keys >= 300
    assert abs(in_users.mean() - 0.4) < 0.02
    assert keys.min() >= 0 and keys.max() < 400
    assert targets[~in_users].max() == 1 and targets[in_users].max() == 0  # copies per entity


def test_one_entity_in_the_entities_form_runs_as_the_single_form():
    single = {"owner": "users", "replicas": ["orders", "billing"], "keys": 100}
    named = {"entities": {"users": single}}
    one = api.run(_scenario(single), workers=1).summary
    other = api.run(_scenario(named), workers=1).summary
    pd.testing.assert_frame_equal(one, other)


def _entity_runs(scenario):
    results = api.run(scenario, workers=1)
    data = scenario.data
    ranges = {
        name: entity.key_range for entity in data.entity_list() for name in entity.data.copies
    }
    return results, ranges


def test_each_entity_reaches_only_its_own_copies():
    results, ranges = _entity_runs(_scenario())
    spread = results.propagation
    assert set(spread["replica"]) == set(ranges)
    for name, (first, end) in ranges.items():
        keys = spread.loc[spread["replica"] == name, "key"]
        assert len(keys) > 0 and keys.between(first, end - 1).all(), name
    for run in results.runs:
        applies = run.tables["applies"]
        copies = list(ranges)
        for index, name in enumerate(copies):
            keys = applies.loc[applies["replica"] == index, "key"]
            first, end = ranges[name]
            assert keys.between(first, end - 1).all(), (run.pattern, name)
    for pattern in ("shared_db", "dual_write", "cdc", "sync_http"):
        for metric in ("lost_updates", "divergent_keys", "phantom_writes", "never_propagated"):
            assert results.metric(pattern, metric) == 0, (pattern, metric)


def test_every_request_is_answered_and_every_ok_write_committed_once():
    results, _ = _entity_runs(_scenario())
    for run in results.runs:
        requests = run.requests
        assert set(requests["outcome"]) <= {"ok", "error", "timeout"}
        writes = requests[(requests["op"] == "write") & (requests["outcome"] == "ok")]
        commits = run.tables["commits"]
        assert len(commits) == len(writes), run.pattern
        assert not commits.duplicated(["key", "version"]).any()


def _latency_of_orders(kind: str, users_share: float, rate: float, users_owner: str) -> float:
    """Mean write latency of entity orders (about 50 writes/s) while entity users adds the
    rest of ``rate``, owned by ``users_owner``."""
    data = {
        "entities": {
            "orders": {"owner": "orders", "replicas": ["billing"], "keys": 1000, "share": 1},
            "users": {
                "owner": users_owner,
                "replicas": ["billing"],
                "keys": 1000,
                "share": users_share,
            },
        }
    }
    services = {
        "users": {"instances": 1, "concurrency": 2, "service_time": "4ms"},
        "orders": {"instances": 1, "concurrency": 3, "service_time": "4ms"},
        "billing": {"instances": 2, "concurrency": 8, "service_time": "1ms"},
    }
    workload = {"phases": [{"duration": 20, "rate": rate}], "mix": {"write": 1.0}}
    scenario = _scenario(
        data, services=services, workload=workload, warmup=2, patterns=[{"kind": kind}]
    )
    requests = api.run(scenario, workers=1).requests
    mine = requests[
        (requests["key"] < 1000) & (requests["outcome"] == "ok") & (requests["start"] >= 2)
    ]
    return float(mine["latency"].mean())


@pytest.mark.parametrize(("kind", "share"), [("dual_write", 2), ("sync_http", 3)])
def test_load_on_one_entity_slows_another_with_the_same_owner(kind, share):
    alone = _latency_of_orders(kind, users_share=0.01, rate=50.5, users_owner="orders")
    rate = 50 * (1 + share)
    together = _latency_of_orders(kind, users_share=share, rate=rate, users_owner="orders")
    apart = _latency_of_orders(kind, users_share=share, rate=rate, users_owner="users")
    # orders' one instance (3 slots, each held for the work, the commit and the broker's
    # acknowledgement or the call to billing) at 50 writes/s, then at 150 or 200/s (about
    # 80 % busy): its queue grows
    assert together > 1.2 * alone, (alone, together)
    assert apart < 1.1 * alone, (alone, apart)  # another owner: orders' instance is not shared


def test_same_seed_same_figures_with_entities():
    scenario = _scenario()
    first = api.run(scenario, workers=1).summary
    again = api.run(scenario, workers=1).summary
    pd.testing.assert_frame_equal(first, again)
    assert np.isfinite(first.loc[first["metric"] == "latency_p99", "mean"]).all()


def test_consumer_groups_are_named_after_their_copy():
    crash = {"kind": "consumer-crash", "target": "consumer:orders.billing", "start": 5}
    scenario = _scenario(faults=[{**crash, "duration": 2}])
    results = api.run(scenario, workers=1)
    skipped = results.not_applied.get("consumer-crash consumer:orders.billing", [])
    assert set(skipped) == {"shared_db", "sync_http"}  # no consumers there
    wrong = {**crash, "target": "consumer:billing", "duration": 2}
    found = _errors(faults=[wrong])
    assert any("faults[0].target: no consumer group 'billing'" in line for line in found), found


def test_the_search_judges_each_copy_on_its_own_entity():
    scenario = _scenario(patterns=[{"kind": "cdc"}], drain={"max": 120})  # past the rebalance
    found = api.explore(
        scenario, "cdc", "convergence", budget=3, kinds=["consumer-crash"], max_faults=1, seed=1
    )
    assert "consumer:users.orders" in found.space.targets["consumer-crash"]
    assert not found.found  # a copy is not divergent on the keys of another entity
