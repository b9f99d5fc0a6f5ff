"""Sweeps and the run store: points in the order written, streams keyed by the point, every
finished run kept, ``--resume`` completing an interrupted experiment as if it never stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
POLL = ROOT / "scenarios" / "poll-interval.yaml"
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = [
    "--set",
    "workload.phases=[{duration: 20s, rate: 40/s}]",
    "--set",
    "drain=5s",
    "--set",
    "warmup=2s",
]


def _run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", *args])
    return result.exit_code, result.output


def test_a_sweep_gives_one_summary_with_the_swept_column_in_the_order_written(tmp_path):
    out = tmp_path / "three"
    code, output = _run(
        str(POLL),
        "--sweep",
        "patterns.polling.poll_interval=5s,1s,30s",
        "--replications",
        "1",
        "-o",
        str(out),
        *SHORT,
    )
    assert code == 0, output
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns[:3]) == ["point", "poll_interval", "pattern"]
    assert list(dict.fromkeys(summary["poll_interval"])) == ["5s", "1s", "30s"]
    assert list(dict.fromkeys(summary["point"])) == [0, 1, 2]
    points = pd.read_csv(out / "points.csv")
    assert list(points["label"]) == ["poll_interval=5s", "poll_interval=1s", "poll_interval=30s"]
    staleness = summary[summary["metric"] == "staleness_p50"].set_index("poll_interval")["mean"]
    assert staleness["1s"] < staleness["5s"] < staleness["30s"]  # half an interval, about


def test_adding_a_point_leaves_the_other_points_byte_identical(tmp_path):
    def rows(values: str, out: Path) -> list[str]:
        code, output = _run(
            str(POLL),
            "--sweep",
            f"patterns.polling.poll_interval={values}",
            "--replications",
            "2",
            "-o",
            str(out),
            *SHORT,
        )
        assert code == 0, output
        lines = (out / "summary.csv").read_text().splitlines()[1:]
        return [line.split(",", 1)[1] for line in lines]  # without the point index

    three = rows("1s,5s,30s", tmp_path / "three")
    four = rows("1s,5s,30s,60s", tmp_path / "four")
    assert four[: len(three)] == three
    inserted = rows("1s,2s,5s,30s", tmp_path / "inserted")  # a point in the middle
    assert set(three) <= set(inserted)


def test_a_grid_varies_the_first_path_slowest_and_zip_pairs_the_values():
    scenario = api.load(QUICKSTART, ["replications=1"])
    over = {"workload.phases[0].rate": ["20/s", "40/s"], "network.latency": ["1ms", "2ms", "3ms"]}
    grid = api.points(api.with_sweep(scenario, over))
    assert [p.label for p in grid[:4]] == [
        "rate=20/s, network.latency=1ms",  # not "latency": a column of the tables already
        "rate=20/s, network.latency=2ms",
        "rate=20/s, network.latency=3ms",
        "rate=40/s, network.latency=1ms",
    ]
    assert grid[4].scenario.workload.phases[0].rate == 40.0
    assert grid[4].scenario.network.latency.value == pytest.approx(0.002)
    paired = {"workload.phases[0].rate": ["20/s", "40/s"], "network.latency": ["1ms", "2ms"]}
    zipped = api.points(api.with_sweep(scenario, paired, "zip"))
    assert [p.label for p in zipped] == [
        "rate=20/s, network.latency=1ms",
        "rate=40/s, network.latency=2ms",
    ]
    assert len({p.key for p in grid}) == len(grid)  # each point its own streams


def test_common_streams_give_every_point_the_same_requests():
    short = [
        "replications=1",
        "drain=5s",
        "warmup=2s",
        "workload.phases=[{duration: 10s, rate: 40/s}]",
    ]
    for streams, same in (("common", True), ("per-point", False)):
        sweep = f"sweep={{over: {{network.latency: [1ms, 3ms]}}, streams: {streams}}}"
        scenario = api.load(QUICKSTART, [*short, sweep])
        requests = api.run(scenario, patterns=["shared_db"], workers=1).requests
        first, second = (requests[requests["point"] == i] for i in (0, 1))
        assert (first["start"].tolist() == second["start"].tolist()) == same, streams
        assert (first["latency"].mean() < second["latency"].mean()) or not same  # 2 ms more a hop


def test_a_bad_swept_value_is_reported_where_it_is_written(tmp_path):
    path = tmp_path / "bad.yaml"
    text = POLL.read_text().replace(
        "patterns.polling.poll_interval: [1s, 5s, 30s]",
        "patterns.polling.poll_interval: [1s, -5s, 30s]",
    )
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "-5s" in row)
    column = text.splitlines()[line - 1].index("-5s") + 1
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 3
    assert f"bad.yaml:{line}:{column}" in result.output
    assert "sweep point 2 (poll_interval=-5s)" in result.output
    assert "must be positive" in result.output
    result = CliRunner().invoke(
        app, ["run", str(POLL), "--sweep", "patterns.nothing.poll_interval=1s"]
    )
    assert result.exit_code == 3
    assert "no item of patterns is named 'nothing'" in result.output


def test_a_rerun_leaves_no_file_of_the_older_run(tmp_path):
    out = tmp_path / "run"
    with_slo = ["--set", "slo=['p99(latency) < 1s']"]
    assert _run(str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT, *with_slo)[0] == 0
    assert (out / "verdicts.csv").exists()
    code, output = _run(
        str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT, "--set", "slo=[]"
    )
    assert code == 0, output
    assert not (out / "verdicts.csv").exists()
    (out / "notes.txt").write_text("mine")
    _run(str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT)
    assert (out / "notes.txt").read_text() == "mine"  # only patternsim's own files go


def test_an_interrupted_experiment_resumes_to_the_same_results(tmp_path):
    scenario = api.load(
        QUICKSTART, ["replications=2", "drain=5s", "workload.phases=[{duration: 15s, rate: 40/s}]"]
    )
    whole = api.run(scenario, workers=1)

    def stop_after_two(progress: api.Progress) -> None:
        if progress.done == 2 and progress.last is not None:
            raise KeyboardInterrupt

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        api.run(scenario, workers=1, out=out, progress=stop_after_two)
    assert not out.exists()  # nothing is published before it is complete
    assert len(list((api.staging(out) / "runs").iterdir())) == 2
    seen: list[api.Progress] = []
    resumed = api.run(scenario, workers=2, out=out, resume=True, progress=seen.append)
    assert seen[0].resumed == 2 and seen[-1].done == 4
    pd.testing.assert_frame_equal(resumed.summary, whole.summary)
    pd.testing.assert_frame_equal(resumed.requests, whole.requests)
    pd.testing.assert_frame_equal(resumed.per_replication, whole.per_replication)


def test_resume_refuses_a_folder_of_another_scenario(tmp_path):
    out = tmp_path / "run"
    assert _run(str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT)[0] == 0
    code, output = _run(
        str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT, "--seed", "9", "--resume"
    )
    assert code == 2
    assert "another experiment" in output


def test_sigint_exits_130_and_resume_completes_the_sweep(tmp_path):
    args = [
        str(POLL),
        "--sweep",
        "patterns.polling.poll_interval=1s,2s,3s,4s,5s,6s,7s,8s",
        "--replications",
        "1",
        "--workers",
        "1",
        *SHORT,
    ]
    whole = tmp_path / "whole"
    assert _run(*args, "-o", str(whole))[0] == 0
    out = tmp_path / "cut"
    assert _run(str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT)[0] == 0
    before = {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    work = api.staging(out)
    command = [sys.executable, "-m", "sim", "run", *args, "-o", str(out)]
    env = {**os.environ, "NO_COLOR": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 300
    while not (work / "runs").exists() or not any(
        not p.name.startswith(".") for p in (work / "runs").iterdir()
    ):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)  # waiting for the first stored run, not for a duration
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=300)
    assert process.returncode == 130, stderr.decode()
    assert "--resume" in stderr.decode() and str(work) in stderr.decode()
    stored = [p for p in (work / "runs").iterdir() if not p.name.startswith(".")]
    assert 1 <= len(stored) < 8
    assert (work / "INCOMPLETE").exists()
    assert {p: p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()} == before
    code, output = _run(*args, "-o", str(out), "--resume")
    assert code == 0, output
    assert not work.exists() and not (out / "INCOMPLETE").exists()
    for name in ("summary.csv", "requests.parquet", "replications.csv", "points.csv"):
        assert (out / name).read_bytes() == (whole / name).read_bytes(), name
