"""Client sessions: read-your-writes and monotonic reads judged per session, as Jepsen's
processes are. One session is the old judgment of every client as one; more sessions find a
subset of its violations; the invariant and the metric agree; closed users are sessions of
their own; nothing else moves."""

from __future__ import annotations

import pandas as pd
from conftest import make_scenario

from sim import api
from sim.metrics.invariants import History, check
from sim.outputs.history import history_operations


def _cdc(**workload: object) -> api.Scenario:
    return make_scenario(
        warmup=0,
        data={"keys": 20},
        workload={"phases": [{"duration": 20, "rate": 60}], "mix": {"write": 0.4, "read": 0.6}}
        | workload,
        patterns=[{"kind": "cdc"}],
    )


def _ryw(results: api.Results) -> float:
    return results.metric("cdc", "read_your_writes_violations")


def test_one_session_is_every_client_as_one_and_nothing_else_moves() -> None:
    alone, one = api.run(_cdc(), workers=1), api.run(_cdc(sessions=1), workers=1)
    assert _ryw(alone) > 0
    columns = ["pattern", "metric", "mean"]
    pd.testing.assert_frame_equal(alone.summary[columns], one.summary[columns])
    assert set(one.requests["session"]) == {0}


def test_more_sessions_find_a_subset_and_the_invariant_agrees_with_the_metric() -> None:
    results = api.run(_cdc(sessions=4), workers=1)
    everyone = _ryw(api.run(_cdc(), workers=1))
    per_session = _ryw(results)
    assert 0 < per_session < everyone
    run = results.runs[0]
    history = History(
        run.tables["commits"], run.tables["applies"], run.requests, ["orders", "billing"]
    )
    assert len(check("read-your-writes", history)) == per_session
    # monotonic reads per session: each violation is a read after an answered read of its session
    for violation in check("monotonic-reads", history):
        assert violation.invariant == "monotonic-reads"
    assert {op["session"] for op in history_operations(run.requests)} <= set(range(4))


def test_closed_users_are_sessions_of_their_own() -> None:
    scenario = make_scenario(
        warmup=0,
        workload={
            "sessions": 3,
            "phases": [{"duration": 5, "closed": {"users": 4, "think_time": "50ms"}}],
            "mix": {"write": 0.5, "read": 0.5},
        },
        patterns=[{"kind": "shared_db"}],
    )
    sessions = set(api.run(scenario, workers=1).requests["session"])
    assert len(sessions) == 4 and min(sessions) >= 3
