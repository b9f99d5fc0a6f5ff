"""Trace replay: a recorded CSV is played back at exactly its (scaled) times, with its ops,
keys and targets; a bad trace is refused when the scenario is checked, with the line at
fault."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim import api
from sim.scenario import ScenarioError, load_scenario

SCENARIO = """\
name: replay
seed: 3
drain: 2s
services:
  users: {{}}
  orders: {{}}
  billing: {{}}
data: {{owner: users, replicas: [orders, billing], keys: 100}}
workload:
  phases:
{phases}
patterns:
  - {{kind: shared_db}}
  - {{kind: cdc}}
"""


def _write(tmp_path: Path, rows: str, phases: str) -> Path:
    (tmp_path / "traces").mkdir(exist_ok=True)
    (tmp_path / "traces" / "load.csv").write_text(rows, encoding="utf-8")
    path = tmp_path / "scenario.yaml"
    path.write_text(SCENARIO.format(phases=phases), encoding="utf-8")
    return path


def _trace(count: int, seed: int = 1) -> tuple[np.ndarray, str]:
    rng = np.random.default_rng(seed)
    times = np.sort(rng.uniform(0, 8, count))
    ops = rng.choice(["read", "write", "delete", "insert"], count, p=[0.6, 0.2, 0.1, 0.1])
    keys = rng.integers(0, 100, count)
    targets = rng.choice(["", "orders", "billing"], count)
    lines = ["time,op,key,target"]
    lines += [
        f"{float(t)!r},{op},{'' if op == 'insert' else key},{target if op == 'read' else ''}"
        for t, op, key, target in zip(times, ops, keys, targets, strict=True)
    ]
    return times, "\n".join(lines) + "\n"


@pytest.mark.parametrize("scale", [1.0, 0.5])
def test_replay_reproduces_the_trace_times_exactly(tmp_path: Path, scale: float) -> None:
    times, rows = _trace(400)
    phases = (
        "    - {duration: 5s, rate: 20/s}\n"
        f"    - {{duration: 10s, trace: traces/load.csv, time_scale: {scale}}}"
    )
    scenario = load_scenario(_write(tmp_path, rows, phases))
    requests = api.run(scenario, workers=1).requests
    for _pattern, frame in requests.groupby("pattern"):
        replayed = frame[frame["start"] >= 5.0]
        np.testing.assert_array_equal(replayed["start"].to_numpy(), 5.0 + times * scale)
        assert (frame["start"] < 5.0).sum() > 50  # the open phase before it still ran


def test_replay_keeps_the_ops_keys_and_targets(tmp_path: Path) -> None:
    rows = (
        "time,op,key,target\n"
        "0.1,read,7,billing\n0.2,write,8,\n0.3,insert,,\n0.4,read,9,orders\n0.5,delete,7,\n"
    )
    scenario = load_scenario(_write(tmp_path, rows, "    - {duration: 1s, trace: traces/load.csv}"))
    frame = api.run(scenario, workers=1).requests
    first = frame[frame["pattern"] == "shared_db"]
    assert first["op"].tolist() == ["read", "write", "insert", "read", "delete"]
    assert first["key"].tolist() == [7, 8, 100, 9, 7]  # the insert takes a fresh key
    assert first["service"].tolist() == ["billing", "users", "users", "orders", "users"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        (None, "traces/load.csv: no such trace file"),
        ("when,what,which\n1,read,1\n", "load.csv:1: the first line must name the columns"),
        ("time,op,key\n2,read,1\n1,read,2\n", "load.csv:3: times must not decrease"),
        ("time,op,key\n1,upsert,1\n", "load.csv:2: unknown op 'upsert'"),
        ("time,op,key\n1,read,100\n", "load.csv:2: key 100 is outside the keys 0 to 99"),
        ("time,op,key\n1,read,x\n", "load.csv:2: key 'x' is not an integer"),
        ("time,op,key\nsoon,read,1\n", "load.csv:2: 'soon' is not a time"),
        ("time,op,key\n12,read,1\n", "load.csv:2: at 12s (time × time_scale) the trace runs past"),
        ("time,op,key,target\n1,read,1,nobody\n", "target 'nobody' is not a read target"),
    ],
)
def test_a_bad_trace_is_a_located_error(tmp_path: Path, rows: str | None, message: str) -> None:
    path = _write(tmp_path, rows or "", "    - {duration: 10s, trace: traces/load.csv}")
    if rows is None:
        (tmp_path / "traces" / "load.csv").unlink()
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    shown = str(caught.value)
    assert message in shown, shown
    assert f"{path}:11:30 " in shown and "workload.phases[0].trace" in shown, shown


def test_a_sweep_still_finds_the_trace(tmp_path: Path) -> None:
    rows = "time,op,key\n0.1,read,1\n0.2,write,2\n"
    scenario = load_scenario(_write(tmp_path, rows, "    - {duration: 1s, trace: traces/load.csv}"))
    results = api.sweep(scenario, {"drain": ["1s", "2s"]}, workers=1)
    assert len(results.requests) == 2 * 2 * 2  # two points, two patterns, two requests


def test_the_work_budget_counts_the_trace_rows(tmp_path: Path) -> None:
    from sim.experiments.budget import estimate

    _times, rows = _trace(250)
    scenario = load_scenario(
        _write(tmp_path, rows, "    - {duration: 10s, trace: traces/load.csv}")
    )
    assert estimate(scenario, memory=10**12).requests_per_run == 250
