"""Same seed, same output, bit for bit; another seed, other numbers; patterns share draws."""

from __future__ import annotations

import pandas as pd

from sim import api

FAULTS = [
    {"kind": "crash", "target": "service:billing", "start": 4, "duration": 3},
    {"kind": "error", "target": "service:orders", "start": 2, "duration": 5, "probability": 0.1},
]


def test_same_seed_gives_byte_identical_run_folders(scenario_factory, tmp_path):
    scenario = scenario_factory(faults=FAULTS, replications=2)
    first = api.write(api.run(scenario, workers=1), tmp_path / "a")
    second = api.write(api.run(scenario, workers=2), tmp_path / "b")
    for name in ("summary.csv", "summary.json", "requests.parquet", "propagation.parquet"):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_another_seed_gives_other_numbers(scenario_factory):
    one = api.run(scenario_factory(faults=FAULTS, seed=1), workers=1).summary
    two = api.run(scenario_factory(faults=FAULTS, seed=2), workers=1).summary
    assert not one["mean"].equals(two["mean"])


def test_every_pattern_sees_the_same_requests_and_faults(scenario_factory):
    results = api.run(scenario_factory(faults=FAULTS, replications=2), workers=1)
    by_key = {}
    for run in results.runs:
        stream = run.requests[["op", "key", "service", "start"]]
        reference = by_key.setdefault(run.replication, (stream, run.faults))
        pd.testing.assert_frame_equal(stream, reference[0])
        pd.testing.assert_frame_equal(run.faults, reference[1])
    # and replications differ from each other
    assert not by_key[0][0].equals(by_key[1][0])


def test_adding_a_pattern_does_not_change_another_patterns_results(scenario_factory):
    alone = api.run(scenario_factory(patterns=[{"kind": "shared_db"}]), workers=1)
    together = api.run(scenario_factory(), workers=1)
    left = alone.summary.reset_index(drop=True)
    right = together.summary[together.summary["pattern"] == "shared_db"]
    extra = right[~right["metric"].isin(left["metric"])]
    assert (extra["n"] == 0).all()  # only the other pattern's own metrics, not measured here
    right = right[right["metric"].isin(left["metric"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(left, right)


def test_all_patterns_answer_the_same_requests_under_the_same_faults():
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "all-patterns.yaml"
    scenario = api.load(
        path,
        overrides=[
            "replications=1",
            "drain=5s",
            "workload.phases=[{duration: 15s, rate: 40/s}]",
            "faults.0.start=5s",
            "faults.1.start=8s",
            "faults.2.start=10s",
            "faults.3.start=12s",
        ],
    )
    results = api.run(scenario, workers=1)
    assert len(results.runs) == 8
    first = results.runs[0]
    columns = ["op", "key", "service", "start"]
    for run in results.runs[1:]:
        pd.testing.assert_frame_equal(run.requests[columns], first.requests[columns])
    windows = {
        run.pattern: run.faults[run.faults["applied"] == 1][["kind", "target", "start"]]
        for run in results.runs
    }
    # every fault reached every pattern that has its target (no connector in five of them)
    for pattern, frame in windows.items():
        expected = {"crash", "latency"} | (
            {"connector-crash"} if pattern in ("cdc", "polling", "outbox") else set()
        )
        assert set(frame["kind"]) == expected, pattern


def test_a_run_does_not_depend_on_what_its_process_ran_before():
    """A crash fails the jobs and queries in flight in the order they began: were they kept
    in a set, the order would follow their addresses, so a second run of the same task in
    one worker process (other objects allocated in between) would answer differently."""
    from pathlib import Path

    from sim.infra.job import Job
    from sim.infra.statement import Statement
    from sim.runner import Task, run_one

    path = Path(__file__).resolve().parents[1] / "scenarios" / "saga-vs-2pc.yaml"
    scenario = api.load(path, overrides=["replications=1"])
    index = next(i for i, p in enumerate(scenario.patterns) if p.kind == "two_phase_commit")
    first = run_one(Task(scenario, index, 0))
    ballast = [Statement.__new__(Statement) for _ in range(500)]
    ballast += [Job.__new__(Job) for _ in range(500)]
    second = run_one(Task(scenario, index, 0))
    assert len(ballast) == 1000
    pd.testing.assert_frame_equal(first.requests, second.requests)
    pd.testing.assert_series_equal(pd.Series(first.metrics), pd.Series(second.metrics))
