"""A run exported as a Jepsen history: a small reader re-derives the read-your-writes
violations from the file alone and finds the run's metric; EDN carries the same operations."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from conftest import make_scenario
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.outputs.history import history_operations, to_edn
from sim.scenario import resolved_yaml


def _scenario(kind: str = "cdc") -> api.Scenario:
    pattern = {"kind": kind, "timeout": "200ms"} if kind == "sync_http" else {"kind": kind}
    return make_scenario(
        warmup=0,
        data={"keys": 20},
        workload={"phases": [{"duration": 20, "rate": 60}], "mix": {"write": 0.4, "read": 0.6}},
        patterns=[pattern],
        faults=[{"kind": "crash", "target": "service:billing", "start": 5, "duration": 5}],
    )


def read_your_writes(lines: list[dict]) -> int:
    """Reads that returned an older version of a key than a write acknowledged before the read
    was invoked: the definition, applied to the history alone."""
    invoked = {op["process"]: op["time"] for op in lines if op["type"] == "invoke"}
    acknowledged: list[tuple[int, int, int]] = []  # (time, key, version)
    reads: list[tuple[int, int, int]] = []  # (invoked, key, version)
    for op in lines:
        if op["type"] != "ok":
            continue
        key, version = op["value"]
        if op["f"] in ("write", "insert") and version and version > 0:
            acknowledged.append((op["time"], key, version))
        elif op["f"] == "read":
            reads.append((invoked[op["process"]], key, version))
    return sum(
        1
        for at, key, seen in reads
        if any(t < at and k == key and v > seen for t, k, v in acknowledged)
    )


@pytest.mark.parametrize("kind", ["sync_http", "cdc"])
def test_the_exported_history_gives_the_runs_read_your_writes_violations(
    kind: str, tmp_path: Path
) -> None:
    scenario = tmp_path / "ryw.yaml"
    scenario.write_text(resolved_yaml(_scenario(kind)))
    out = tmp_path / "run"
    done = CliRunner().invoke(
        app, ["run", str(scenario), "-o", str(out), "--export-history", "json"]
    )
    assert done.exit_code == 0, done.output
    lines = [
        json.loads(line) for line in (out / "history" / f"{kind}-0.jsonl").read_text().splitlines()
    ]
    results = api.run(_scenario(kind), workers=1)
    counted = results.metric(kind, "read_your_writes_violations")
    if kind == "cdc":
        assert counted > 0  # acknowledged at the owner's commit, read from a lagging copy
    assert read_your_writes(lines) == counted
    assert {op["type"] for op in lines} >= {"invoke", "ok", "fail"}
    assert [op["index"] for op in lines] == list(range(len(lines)))
    assert all(a["time"] <= b["time"] for a, b in itertools.pairwise(lines))


def test_edn_carries_the_same_operations() -> None:
    results = api.run(_scenario(), workers=1)
    operations = history_operations(results.runs[0].requests)
    line = to_edn(operations[0])
    assert line.startswith("{:index 0, :type :invoke, :f :")
    assert ":value [" in line and " nil]" in line and ":process " in line


def test_an_unknown_history_format_is_a_usage_error(tmp_path: Path) -> None:
    scenario = tmp_path / "ryw.yaml"
    scenario.write_text(resolved_yaml(_scenario()))
    done = CliRunner().invoke(app, ["run", str(scenario), "--export-history", "xml"])
    assert done.exit_code == 2


@pytest.mark.parametrize("form", ["json", "edn"])
def test_every_request_is_invoked_once_and_completed_once(form: str, tmp_path: Path) -> None:
    results = api.run(_scenario(), workers=1)
    from sim.outputs.history import write_histories

    (path,) = write_histories(results.runs, tmp_path, form)
    count = len(results.runs[0].requests)
    assert len(path.read_text().splitlines()) == 2 * count
