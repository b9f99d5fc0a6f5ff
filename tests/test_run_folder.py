"""Run folders are replaced whole or not at all: an interrupt at any moment leaves the previous
folder byte-identical and the new work in ``NAME.partial``, marked ``INCOMPLETE``; a bad
``--out`` is refused before anything runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app
from sim.outputs import folder as folder_module
from sim.outputs.store import RunStore

QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"
SHORT = [
    "--replications",
    "2",
    "--workers",
    "1",
    "--set",
    "workload.phases=[{duration: 10s, rate: 20/s}]",
    "--set",
    "warmup=2s",
    "--set",
    "drain=2s",
]


def run(out: Path, *extra: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["run", str(QUICKSTART), "-o", str(out), *SHORT, *extra])
    return result.exit_code, result.output


def snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()
    }


@pytest.fixture
def previous(tmp_path: Path) -> tuple[Path, dict[str, bytes]]:
    out = tmp_path / "run"
    code, output = run(out, "--seed", "3")
    assert code == 0, output
    return out, snapshot(out)


def interrupt_on_call(
    monkeypatch: pytest.MonkeyPatch, owner: object, name: str, after: int
) -> None:
    original = getattr(owner, name)
    calls = [0]

    def wrapped(*args: object, **kwargs: object) -> object:
        calls[0] += 1
        if calls[0] > after:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapped)


@pytest.mark.parametrize(
    ("owner", "name", "after"),
    [
        (RunStore, "save", 1),  # while the runs are being stored
        (pd.DataFrame, "to_csv", 2),  # in the middle of writing the data files
        (folder_module, "write_report", 0),  # while the report is rendered, the last step
    ],
    ids=["storing runs", "writing files", "rendering the report"],
)
def test_an_interrupt_leaves_the_previous_folder_as_it_was(
    monkeypatch: pytest.MonkeyPatch, previous, owner: object, name: str, after: int
) -> None:
    out, before = previous
    interrupt_on_call(monkeypatch, owner, name, after)
    code, output = run(out)
    assert code == 130, output
    assert snapshot(out) == before
    work = api.staging(out)
    assert (work / "INCOMPLETE").exists() and str(work) in output
    assert "--resume" in (work / "INCOMPLETE").read_text()
    monkeypatch.undo()
    code, output = run(out, "--resume")
    assert code == 0, output
    assert not work.exists() and not (out / "INCOMPLETE").exists()
    assert snapshot(out) != before  # the new run replaced it whole


def test_a_rerun_replaces_the_folder_but_keeps_the_users_own_files(previous) -> None:
    out, _ = previous
    (out / "notes.txt").write_text("mine")
    code, output = run(out, "--set", "slo=['p99(latency) < 1h']")
    assert code == 0, output
    assert (out / "verdicts.csv").exists()
    assert run(out)[0] == 0
    assert not (out / "verdicts.csv").exists()
    assert (out / "notes.txt").read_text() == "mine"


def test_an_out_that_is_a_file_is_refused_before_any_simulation(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.write_text("a file")
    code, output = run(target)
    assert code == 2 and "is a file, not a folder" in output
    assert "runs done" not in output and not api.staging(target).exists()
