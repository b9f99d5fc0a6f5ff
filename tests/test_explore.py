"""Invariants over a run's history, and the search for the smallest fault schedule that breaks
one: it finds dual write's lost change and shrinks it, the counterexample reproduces it, a
pattern that keeps the promise passes its budget, and the search is deterministic."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
from conftest import dual_write_writes
from hypothesis.internal.conjecture import engine
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.experiments.schedules import fault_space
from sim.metrics.invariants import History, check, timeline
from sim.scenario import resolved_yaml


def _history(
    commits: list[tuple[int, int, float]],
    applies: list[tuple[int, int, int, float]],
    requests: list[tuple[str, int, str, float, float, str, int]] = (),  # type: ignore[assignment]
    pending: list[tuple[int, int, int]] = (),  # type: ignore[assignment]
) -> History:
    return History(
        pd.DataFrame(commits, columns=["key", "version", "time"]),
        pd.DataFrame(applies, columns=["replica", "key", "version", "time"]),
        pd.DataFrame(
            list(requests),
            columns=["op", "key", "service", "start", "latency", "outcome", "version"],
        ),
        ["orders", "billing"],
        0.0,
        pd.DataFrame(list(pending), columns=["replica", "key", "version"]),
    )


def test_no_loss_flags_a_version_that_can_no_longer_arrive_and_spares_one_that_can() -> None:
    history = _history(
        commits=[(1, 1, 1.0), (1, 2, 2.0)],
        applies=[(0, 1, 1, 1.1), (0, 1, 2, 2.1), (1, 1, 2, 2.2)],
        pending=[],
    )
    lost = check("no-loss", history)
    assert [(v.key, v.copy, v.time) for v in lost] == [(1, "billing", 1.0)]  # version 1
    waiting = _history([(1, 1, 1.0)], [(0, 1, 1, 1.1)], pending=[(1, 1, 1)])
    assert check("no-loss", waiting) == []


def test_apply_anomalies_are_found_once_each() -> None:
    history = _history(
        commits=[(1, 1, 1.0), (1, 2, 2.0)],
        applies=[(0, 1, 2, 2.1), (0, 1, 1, 2.2), (0, 1, 2, 2.3), (1, 1, 9, 3.0), (1, 1, 2, 3.1)],
    )
    # orders applied 1 after 2; billing applied 2 after a phantom 9
    ordered = check("per-key-order", history)
    assert [(v.key, v.copy) for v in ordered] == [(1, "orders"), (1, "billing")]
    assert [(v.key, v.copy) for v in check("no-duplicates", history)] == [(1, "orders")]
    assert [(v.key, v.copy) for v in check("no-phantoms", history)] == [(1, "billing")]
    # billing ends at 2 like the owner, orders too (its last apply is 2)
    assert check("convergence", history) == []
    diverged = _history([(1, 1, 1.0), (1, 2, 2.0)], [(0, 1, 2, 2.1), (1, 1, 1, 1.1)])
    assert [(v.key, v.copy) for v in check("convergence", diverged)] == [(1, "billing")]


def test_read_invariants() -> None:
    history = _history(
        commits=[(1, 1, 1.0), (1, 2, 3.0)],
        applies=[(0, 1, 1, 1.5), (0, 1, 2, 6.0)],
        requests=[
            ("write", 1, "users", 0.9, 0.2, "ok", 1),
            ("write", 1, "users", 2.9, 0.2, "ok", 2),
            ("read", 1, "orders", 2.0, 0.1, "ok", 1),  # fresh: version 1 is the latest
            ("read", 1, "orders", 4.0, 0.1, "ok", 1),  # stale, and older than an acked write
            ("read", 1, "orders", 7.0, 0.1, "ok", 2),
        ],
    )
    assert [v.time for v in check("no-stale-reads", history)] == [4.0]
    assert [v.time for v in check("read-your-writes", history)] == [4.0]
    assert check("monotonic-reads", history) == []
    bounded = check("bounded-staleness(2s)", history)
    assert [(v.copy, v.time) for v in bounded] == [
        ("orders", 3.0),
        ("billing", 1.0),
        ("billing", 3.0),
    ]
    assert [(v.copy, v.time) for v in check("bounded-staleness(5s)", history)] == [
        ("billing", 1.0),
        ("billing", 3.0),
    ]
    events = timeline(history, 1)
    assert list(events["time"]) == sorted(events["time"])
    assert {"commit", "apply", "read ok", "write ok"} <= set(events["event"])


def test_an_unknown_invariant_names_the_known_ones() -> None:
    with pytest.raises(api.InvariantError, match="known: no-loss, convergence"):
        check("no-lost", _history([], []))


_dual_write = dual_write_writes


@pytest.fixture(scope="module")
def lost(tmp_path_factory: pytest.TempPathFactory) -> tuple[api.Exploration, Path]:
    folder = tmp_path_factory.mktemp("explore")
    found = api.explore(
        _dual_write(),
        "dual_write",
        "no-loss",
        budget=30,
        kinds=["crash"],
        max_faults=2,
        seed=3,
        out=folder,
    )
    return found, folder


def test_the_search_finds_dual_writes_lost_change_and_shrinks_it(
    lost: tuple[api.Exploration, Path],
) -> None:
    found, folder = lost
    assert found.found
    faults = found.counterexample.faults  # type: ignore[union-attr]
    assert len(faults) == 1 and faults[0].kind == "crash"
    assert str(faults[0].target) in ("service:users", "instance:users/0")
    assert faults[0].duration == pytest.approx(0.1)  # the shortest window
    first = found.violations[0]
    events = found.timeline()
    commit = events[(events["event"] == "commit")]
    assert first.key in set(found.history.commits["key"])  # type: ignore[union-attr]
    assert len(commit) >= 1
    summary = json.loads((folder / "explore.json").read_text())
    assert summary["found"] and summary["schedules_tried"] == len(found.tries)
    assert (folder / "timeline.md").read_text().startswith("# no-loss broken by dual_write")


def test_the_counterexample_reproduces_the_loss(lost: tuple[api.Exploration, Path]) -> None:
    _found, folder = lost
    rerun = api.run(api.load(folder / "counterexample.yaml"), workers=1)
    assert rerun.metric("dual_write", "lost_updates") > 0
    assert (folder / "timeline.csv").exists() and (folder / "tries.csv").exists()


def test_a_pattern_that_keeps_its_promise_spends_the_budget() -> None:
    found = api.explore(
        _dual_write(), "cdc", "no-loss", budget=6, kinds=["crash"], max_faults=2, seed=3
    )
    assert not found.found and len(found.tries) == 6
    assert found.space.targets["crash"]


def test_an_operators_rewind_is_explored_only_when_named() -> None:
    """A reset of a group's offsets is an operator's action, not a failure: the default space
    leaves it out and says so; naming it puts it back."""
    scenario = _dual_write()
    default = fault_space(scenario, 1)
    assert "rewind" not in default.targets
    assert "operator" in default.left_out["rewind"]
    assert "crash" in default.targets and "connector-crash" in default.targets
    # a kind whose window has no default (a consumer's pause) is explored like any other
    assert default.targets["consumer-pause"]
    named = fault_space(scenario, 1, ["rewind", "crash"])
    assert named.targets["rewind"]
    assert all(target.startswith("consumer:") for target in named.targets["rewind"])
    assert "rewind" not in named.left_out


def test_the_search_is_deterministic_for_a_seed() -> None:
    runs = [
        api.explore(_dual_write(), "cdc", "no-loss", budget=4, kinds=["crash"], seed=5).log()
        for _ in range(2)
    ]
    pd.testing.assert_frame_equal(*runs)


def test_the_shrink_does_not_depend_on_the_wall_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hypothesis gives up shrinking after five minutes of wall-clock time; the search lifts
    that limit, so a clock that runs 1000 s between two readings shrinks just as far."""

    def search() -> pd.DataFrame:
        found = api.explore(
            _dual_write(), "dual_write", "no-loss", budget=10, kinds=["crash"], seed=3
        )
        assert found.found
        return found.log()

    plain = search()

    class Racing:
        now = 0.0

        def perf_counter(self) -> float:
            self.now += 1000.0
            return self.now

        def __getattr__(self, name: str) -> object:
            return getattr(time, name)

    monkeypatch.setattr(engine, "time", Racing())
    raced = search()
    assert len(plain) > 11  # it did shrink past the ten schedules generated
    pd.testing.assert_frame_equal(raced, plain)


def test_explore_exits_4_with_a_counterexample_and_starts_from_the_last_one(
    lost: tuple[api.Exploration, Path], tmp_path: Path
) -> None:
    found, folder = lost
    scenario = tmp_path / "dual.yaml"
    scenario.write_text(resolved_yaml(_dual_write()))
    runner = CliRunner()
    common = ["explore", str(scenario), "--invariant", "no-loss", "--faults", "crash"]
    common += ["--seed", "3", "--max-faults", "2"]
    again = runner.invoke(
        app, [*common, "--pattern", "dual_write", "--budget", "30", "-o", str(folder)]
    )
    assert again.exit_code == 4, again.output
    tries = pd.read_csv(folder / "tries.csv")
    # the example database replays the last counterexample first
    assert tries["violations"].iloc[0] > 0
    assert len(tries) < len(found.tries)
    rerun = api.load(folder / "counterexample.yaml")
    assert [f.model_dump() for f in rerun.faults] == [
        f.model_dump()
        for f in found.counterexample.faults  # type: ignore[union-attr]
    ]
    held = runner.invoke(
        app, [*common, "--pattern", "cdc", "--budget", "2", "-o", str(tmp_path / "b")]
    )
    assert held.exit_code == 0, held.output
    assert "2 schedules tried" in held.output
    unknown = runner.invoke(app, [*common, "--pattern", "cdc", "--invariant", "nope"])
    assert unknown.exit_code == 2


def test_a_compensated_version_is_withdrawn_not_lost() -> None:
    base = _history(commits=[(1, 1, 1.0)], applies=[(0, 1, 1, 1.1)])
    undone = pd.DataFrame([(1, 1, 0, 2.0)], columns=["key", "version", "restored", "time"])
    reverts = pd.DataFrame(
        [(0, 1, 1, 0, 2.1)], columns=["replica", "key", "version", "restored", "time"]
    )
    history = History(
        base.commits, base.applies, base.requests, base.replicas, 0.0, base.pending, undone, reverts
    )
    assert check("no-loss", base) != [] and check("no-loss", history) == []
    assert check("convergence", history) == []  # both back at 0
