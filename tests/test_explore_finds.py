"""Searches that must find a violation within a small budget, on small scenarios (each with
the fault kinds that matter, so the budget stays small): sync_http loses a change once its
retries are exhausted, and cdc without idempotent consumers applies duplicates after a
connector crash."""

from __future__ import annotations

import pytest
from conftest import make_scenario

from sim import api


def _small(**changes: object) -> api.Scenario:
    return make_scenario(
        warmup=0,
        drain=20,
        data={"keys": 5_000},
        workload={"phases": [{"duration": 6, "rate": 80}], "mix": {"write": 1.0, "read": 0.0}},
        **changes,
    )


@pytest.mark.parametrize(
    ("pattern", "invariant", "kinds", "changes"),
    [
        ("sync_http", "no-loss", ["error"], {"patterns": [{"kind": "sync_http"}]}),
        ("cdc", "no-duplicates", ["connector-crash"], {"patterns": [{"kind": "cdc"}]}),
    ],
    ids=["sync_http-retries-exhausted", "cdc-duplicates"],
)
def test_the_search_finds_the_violation(
    pattern: str, invariant: str, kinds: list[str], changes: dict
) -> None:
    found = api.explore(
        _small(**changes), pattern, invariant, budget=15, kinds=kinds, max_faults=1, seed=1
    )
    assert found.found, f"{len(found.tries)} schedules tried"
    assert len(found.counterexample.faults) == 1  # type: ignore[union-attr]
    assert found.violations and all(v.invariant == invariant for v in found.violations)
