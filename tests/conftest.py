"""Shared test settings: hypothesis profiles and small scenario builders."""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from sim.config.model import Scenario
from sim.scenario import parse_scenario

# Every run the suite makes checks the model's invariants as it goes (sim.kernel.always): a
# broken one fails the test that ran it, with the simulated time, component and key.
os.environ.setdefault("PATTERNSIM_CHECK_INVARIANTS", "1")

settings.register_profile(
    "ci",
    max_examples=40,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=100, deadline=None)
settings.load_profile(
    "ci" if os.environ.get("CI") == "true" else os.environ.get("HYPOTHESIS_PROFILE", "dev")
)

BASE: dict[str, Any] = {
    "name": "unit",
    "seed": 1,
    "warmup": 0,
    "drain": 10,
    "replications": 1,
    "services": {
        "users": {"instances": 1, "concurrency": 8, "service_time": "1ms"},
        "orders": {"instances": 1, "concurrency": 8, "service_time": "1ms"},
        "billing": {"instances": 1, "concurrency": 8, "service_time": "1ms"},
    },
    "databases": {"default": {"pool": 10, "read_time": "1ms", "write_time": "2ms"}},
    "network": {"latency": "0.5ms"},
    "data": {"owner": "users", "replicas": ["orders", "billing"], "keys": 100},
    "workload": {"phases": [{"duration": 20, "rate": 50}], "mix": {"write": 0.5, "read": 0.5}},
    "patterns": [{"kind": "shared_db"}, {"kind": "sync_http", "timeout": "200ms"}],
    "faults": [],
}


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_scenario(**changes: Any) -> Scenario:
    """A small valid scenario with ``changes`` deep-merged in (mappings merge, others replace)."""
    return parse_scenario(json.dumps(_merge(BASE, changes)), "<test>")


def dual_write_writes(**changes: Any) -> Scenario:
    """Writes only, 100/s for 6 s, to dual_write and cdc: what explore's tests search."""
    return make_scenario(
        warmup=0,
        drain=5,
        data={"keys": 10_000},
        workload={"phases": [{"duration": 6, "rate": 100}], "mix": {"write": 1.0, "read": 0.0}},
        patterns=[{"kind": "dual_write"}, {"kind": "cdc"}],
        **changes,
    )


def changed(scenario: Scenario, **changes: Any) -> Scenario:
    """``scenario`` with ``changes`` deep-merged in, validated again like any scenario file."""
    data = scenario.model_dump(mode="json", exclude={"databases"})
    data["databases"] = {name: dict(v) for name, v in scenario.databases.model_dump().items()}
    return parse_scenario(json.dumps(_merge(data, changes)), "<test>")


@pytest.fixture(scope="session")
def scenario_factory() -> Callable[..., Scenario]:
    """Build a small scenario: ``scenario_factory(workload={...}, faults=[...])``."""
    return make_scenario


@pytest.fixture(scope="session")
def small_results():
    """A small real run (two patterns, SLOs, a decision, a fault) for the report tests."""
    from sim import api
    from tests.report.small_run import SMALL

    return api.run(api.parse(SMALL), workers=1)
