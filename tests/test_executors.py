"""Executors: the same seed gives the same ``summary.csv``, byte for byte, whether the runs run
in this process, in local worker processes or on a Dask cluster (one started for the run, or
one already running, reached by its address); a bad ``--executor`` is a usage error (exit 2)
with a message, never a traceback."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import types
from pathlib import Path

import pandas as pd
import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.executors import cluster
from sim.outputs.store import RunStore

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"
SHORT = [
    "--replications",
    "3",
    "--plotlyjs",
    "cdn",
    "--set",
    "workload.phases=[{duration: 8s, rate: 20/s}]",
    "--set",
    "warmup=2s",
    "--set",
    "drain=2s",
    "--set",
    "faults=[{kind: crash, target: 'service:billing', start: 3s, duration: 2s}]",
]


def run(out: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", str(QUICKSTART), "-o", str(out), *SHORT, *options])
    return result.exit_code, result.output


def summary(out: Path, *options: str) -> bytes:
    code, output = run(out, *options)
    assert code == 0, output
    return (out / "summary.csv").read_bytes()


def test_every_executor_gives_the_same_summary_byte_for_byte(tmp_path: Path) -> None:
    alone = summary(tmp_path / "local-1", "--executor", "local:1")
    assert summary(tmp_path / "local-2", "--executor", "local:2") == alone
    assert summary(tmp_path / "workers-2", "--workers", "2") == alone
    assert summary(tmp_path / "dask", "--executor", "dask:local:2") == alone
    assert b"latency_p99" in alone


def test_an_interrupted_dask_run_keeps_its_runs_and_resumes_to_the_same_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    alone = summary(tmp_path / "local", "--executor", "local:1")
    saved = RunStore.save
    calls = [0]

    def save_then_interrupt(store: RunStore, result: api.RunResult) -> None:
        calls[0] += 1
        if calls[0] > 2:
            raise KeyboardInterrupt
        saved(store, result)

    monkeypatch.setattr(RunStore, "save", save_then_interrupt)
    out = tmp_path / "dask"
    code, output = run(out, "--executor", "dask:local:2")
    assert code == 130, output
    assert len(list((api.staging(out) / "runs").iterdir())) == 2
    monkeypatch.undo()
    code, output = run(out, "--executor", "dask:local:2", "--resume")
    assert code == 0, output
    assert "2 runs already stored" in output
    assert (out / "summary.csv").read_bytes() == alone


def test_a_running_cluster_is_reached_by_its_address_and_serves_several_calls() -> None:
    scenario = api.load(
        QUICKSTART,
        ["replications=2", "workload.phases=[{duration: 5s, rate: 20/s}]", "warmup=1s"],
    )
    alone = api.run(scenario, executor="local:1").summary
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
    ) as running:
        address = running.scheduler_address.replace("tcp://", "dask://")
        with api.parse_executor(address).open() as pool:
            assert pool.description == address
            first = api.run(scenario, executor=pool).summary
            again = api.run(scenario, patterns=["sync_http"], executor=pool).summary
    pd.testing.assert_frame_equal(first, alone, check_exact=True)
    alone_http = alone[alone["pattern"] == "sync_http"].reset_index(drop=True)
    pd.testing.assert_frame_equal(again, alone_http, check_exact=True)


@pytest.mark.parametrize(
    ("options", "says"),
    [
        (["--executor", "ray"], "expected local, local:N, dask:local"),
        (["--executor", "local:0"], "at least 1"),
        (["--executor", "dask://host:99999"], "the port must be 1 to 65535"),
        (["--executor", "local:2", "--workers", "3"], "disagree"),
        (["--executor", "dask://localhost:8786", "--workers", "2"], "disagree"),
    ],
)
def test_a_bad_executor_is_a_usage_error_before_anything_runs(
    tmp_path: Path, options: list[str], says: str
) -> None:
    code, output = run(tmp_path / "out", *options)
    assert code == 2, output
    assert says in output and "Traceback" not in output
    assert "runs done" not in output and not (tmp_path / "out").exists()


def test_capacity_takes_the_executor_too(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["capacity", str(QUICKSTART), "-o", str(tmp_path), "--executor", "nowhere"]
    )
    assert result.exit_code == 2 and "expected local" in result.output


def test_without_dask_installed_a_dask_executor_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    for spec in ("dask:local", "dask://localhost:8786"):
        code, output = run(tmp_path / "out", "--executor", spec)
        assert code == 2, output
        assert "install patternsim[dask]" in output and "Traceback" not in output
    with pytest.raises(api.ExecutorError, match=r"install patternsim\[dask\]"):
        api.ExecutorSpec("dask", 2).open()


def test_a_scheduler_that_does_not_answer_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    code, output = run(tmp_path / "out", "--executor", "dask://127.0.0.1:9")
    assert code == 2, output
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in output
    assert "Traceback" not in output


def test_a_scheduler_without_workers_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cluster, "WAIT_FOR_WORKERS", 0.5)
    with LocalCluster(
        n_workers=0, processes=False, protocol="tcp://", dashboard_address=None
    ) as empty:
        address = empty.scheduler_address.replace("tcp://", "dask://")
        code, output = run(tmp_path / "out", "--executor", address)
    assert code == 2, output
    assert "has no worker" in output and "dask worker" in output


def test_ctrl_c_stops_a_dask_local_run_quietly_and_keeps_its_runs(tmp_path: Path) -> None:
    """Ctrl-C reaches the whole foreground process group: the cluster's workers ignore it, so
    only patternsim answers (exit 130, the finished runs kept), with no worker tracebacks."""
    out = tmp_path / "run"
    command = [sys.executable, "-m", "sim", "run", str(QUICKSTART), "-o", str(out), *SHORT]
    child = subprocess.Popen(
        [*command, "--executor", "dask:local:2"],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert child.stderr is not None
    said = []
    for line in child.stderr:
        said.append(line)
        if "runs done" in line:
            os.killpg(child.pid, signal.SIGINT)  # as a terminal's Ctrl-C does
            break
    said.append(child.stderr.read())
    output = "".join(said)
    assert child.wait() == 130, output
    assert "Traceback" not in output and "KeyboardInterrupt" not in output
    assert "--resume" in output
    assert any((api.staging(out) / "runs").iterdir())


def _raised_in(filename: str, error: type[BaseException]) -> logging.LogRecord:
    """The record tornado logs for a callback named ``cancel``, defined in ``filename``,
    that raised ``error``."""

    def cancel() -> None:
        raise error("cannot access free variable 'future'")

    code = cancel.__code__.replace(co_filename=filename)
    failing = types.FunctionType(code, {"error": error}, "cancel", None, cancel.__closure__)
    try:
        failing()
    except BaseException:
        info = sys.exc_info()
    return logging.LogRecord(
        "tornado.application", logging.ERROR, "ioloop.py", 1, "Exception in callback", (), info
    )


def test_only_dasks_failed_cancel_after_an_interrupt_is_dropped_from_the_log() -> None:
    keep = cluster.CancelBeforeStart().filter
    dask = os.path.join("site-packages", "distributed", "utils.py")
    assert not keep(_raised_in(dask, NameError))
    assert keep(_raised_in(os.path.join("site-packages", "distributed", "client.py"), NameError))
    assert keep(_raised_in(dask, RuntimeError))
    assert keep(logging.LogRecord("tornado.application", logging.ERROR, "x", 1, "m", (), None))
