"""Explore with several searches: they share the budget, the first is the single search with its
share, the others draw other schedules; the smallest counterexample wins; the exploration is
the same, try for try, in this process, in local workers and on a Dask cluster; the command
line takes ``--searches`` with ``--executor`` and refuses more searches than schedules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from conftest import dual_write_writes
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.experiments.explore import Searched, budgets, search_seed, smallest
from sim.scenario import resolved_yaml


def _explore(pattern: str, budget: int, **options: Any) -> api.Exploration:
    return api.explore(
        dual_write_writes(), pattern, "no-loss", budget=budget, kinds=["crash"], max_faults=2, seed=3,
        **options,
    )


def test_the_budget_is_shared_out_and_more_searches_than_schedules_is_refused() -> None:
    assert budgets(10, 1) == [10]
    assert budgets(10, 3) == [4, 3, 3]
    assert budgets(3, 3) == [1, 1, 1]
    with pytest.raises(ValueError, match="3 searches need a budget of at least 3"):
        budgets(2, 3)
    assert search_seed(7, 1) == 7
    assert len({search_seed(7, n) for n in range(1, 6)}) == 5
    assert search_seed(7, 2) != search_seed(8, 2)


def test_the_first_search_is_the_search_alone_and_the_second_draws_other_schedules() -> None:
    both = _explore("cdc", 8, searches=2, executor="local:1")
    alone = _explore("cdc", 4)
    log = both.log()
    assert list(log["search"]) == [1] * 4 + [2] * 4  # cdc keeps its promise: the whole budget
    first = log[log["search"] == 1].reset_index(drop=True)
    pd.testing.assert_frame_equal(first, alone.log())
    second = log[log["search"] == 2]
    assert set(second["schedule"]) != set(first["schedule"])
    assert both.searches == 2 and not both.found and both.found_by is None


def _searched(number: int, faults: int | None, load: float = 1.0) -> Searched:
    minimal = None if faults is None else {"schedule": [{}] * faults, "load": load}
    return Searched(number, [], minimal)


def test_the_smallest_counterexample_wins_then_the_lightest_load_then_the_first_search() -> None:
    assert smallest([_searched(1, None), _searched(2, None)]) is None
    fewer = smallest([_searched(1, 2, 0.25), _searched(2, 1, 1.0), _searched(3, None)])
    assert fewer is not None and fewer.number == 2
    lighter = smallest([_searched(1, 1, 1.0), _searched(2, 1, 0.5)])
    assert lighter is not None and lighter.number == 2
    first = smallest([_searched(2, 1, 0.5), _searched(1, 1, 0.5)])
    assert first is not None and first.number == 1


@pytest.fixture(scope="module")
def alone() -> tuple[api.Exploration, list[api.Try]]:
    heard: list[api.Try] = []
    return _explore("dual_write", 20, searches=2, executor="local:1", on_try=heard.append), heard


@pytest.mark.parametrize("executor", ["local:2", "dask:local:2"])
def test_an_exploration_is_the_same_on_every_executor(
    alone: tuple[api.Exploration, list[api.Try]], executor: str
) -> None:
    base, heard_alone = alone
    heard: list[api.Try] = []
    found = _explore("dual_write", 20, searches=2, executor=executor, on_try=heard.append)
    assert base.found and found.found
    pd.testing.assert_frame_equal(found.log(), base.log())
    assert found.counterexample == base.counterexample
    assert found.found_by == base.found_by
    assert [v.key for v in found.violations] == [v.key for v in base.violations]
    # every try is heard of: as it goes in this process, when its search ends elsewhere
    assert heard_alone == base.tries
    assert sorted(heard, key=lambda t: (t.search, t.number)) == base.tries


def test_explore_takes_searches_and_an_executor(tmp_path: Path) -> None:
    scenario = tmp_path / "dual.yaml"
    scenario.write_text(resolved_yaml(dual_write_writes()))
    runner = CliRunner()
    common = ["explore", str(scenario), "--pattern", "dual_write", "--invariant", "no-loss"]
    common += ["--faults", "crash", "--seed", "3", "--max-faults", "2", "--budget", "20"]
    out = tmp_path / "found"
    result = runner.invoke(app, [*common, "--searches", "2", "--workers", "2", "-o", str(out)])
    assert result.exit_code == 4, result.output
    assert "by 2 searches" in result.output and "search 1, schedule" in result.output
    tries = pd.read_csv(out / "tries.csv")
    assert set(tries["search"]) == {1, 2}
    summary = json.loads((out / "explore.json").read_text())
    assert summary["searches"] == 2 and summary["found_by_search"] in (1, 2)
    assert summary["schedules_tried"] == len(tries)
    assert (out / "counterexample.yaml").exists()
    refused = runner.invoke(app, [*common, "--searches", "21"])
    assert refused.exit_code == 2
    assert "21 searches need a budget of at least 21 schedules" in refused.output
    for searches in ("1", "2"):
        bad = runner.invoke(app, [*common, "--searches", searches, "--executor", "ray"])
        assert bad.exit_code == 2 and "expected local, local:N" in bad.output
    alone = runner.invoke(app, [*common, "--workers", "2", "-o", str(tmp_path / "alone")])
    assert alone.exit_code == 4, alone.output
    assert "one search runs in this process" in alone.output
