"""Bad input never crashes patternsim: every case of ``tests/badinputs/`` (one file per kind of
mistake, with its expected exit code and message in ``expected.txt``) is refused with a
located message and exit 3 — or, where a user might mean it, a warning and exit 0 — never a
traceback or exit 1."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app

HERE = Path(__file__).parent / "badinputs"
QUICKSTART = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def cases() -> list[tuple[str, int, str]]:
    found = []
    for line in (HERE / "expected.txt").read_text(encoding="utf-8").splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, code, fragment = (part.strip() for part in line.split("|", 2))
        found.append((name, int(code), fragment))
    return found


def validate(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["validate", *arguments])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def test_every_file_of_the_corpus_is_listed() -> None:
    listed = {name for name, _, _ in cases()}
    assert listed == {p.name for p in HERE.glob("*.yaml")}


@pytest.mark.parametrize(("name", "code", "fragment"), cases(), ids=[c[0] for c in cases()])
def test_bad_input_is_refused_with_a_located_message(name: str, code: int, fragment: str) -> None:
    path = HERE / name
    exit_code, output = validate(str(path))
    assert exit_code == code, output
    assert fragment in output, output
    assert "Traceback" not in output and "unexpected error" not in output
    assert "\x1b" not in output and "\x00" not in output  # nothing raw reaches the terminal
    if code == 3:
        problems = [
            line
            for line in output.splitlines()
            if line and not line.startswith(("warning:", " ")) and "in the scenario" not in line
        ]
        assert problems and all(line.startswith(str(path)) for line in problems), output
        assert all(len(line) < 1_000 for line in output.splitlines())


def test_what_is_not_a_regular_file_is_refused(tmp_path: Path) -> None:
    assert validate(str(tmp_path))[0] == 3
    assert validate(str(tmp_path / "missing.yaml")) == (
        3,
        f"{tmp_path / 'missing.yaml'} no such file\n1 error in the scenario\n",
    )
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    code, output = validate(str(fifo))  # would block for ever if it were opened
    assert code == 3 and "not a regular file" in output


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_text(QUICKSTART.read_text() + "#" * 3_000_000 + "\n")
    code, output = validate(str(big))
    assert code == 3 and "a scenario may be at most 2 MB" in output


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("seed=" + "9" * 5001, "a number of 5,001 digits"),
        ("seed=!foo 3", "a YAML tag (!foo)"),
        ("data.keys=" + "[" * 500 + "]" * 500, "nested more than 64 levels"),
        ("seed=[1,", "not valid YAML"),
        ("patterns[1].timeot=1s", "did you mean 'timeout'?"),
        ("services.users.instances=true", "not true"),
        ("patterns.99999999999999999999.timeout=1s", "the index is too large"),
    ],
)
def test_set_values_pass_the_same_checks(value: str, fragment: str) -> None:
    code, output = validate(str(QUICKSTART), "--set", value)
    assert code == 3 and fragment in output, output
    assert all(len(line) < 1_000 for line in output.splitlines())


def test_max_requests_is_the_knob_named_in_the_refusal() -> None:
    code, output = validate(str(QUICKSTART), "--max-requests", "1000")
    assert code == 3 and "--max-requests" in output
    assert validate(str(QUICKSTART), "--max-requests", "1000000")[0] == 0


def test_a_pattern_named_twice_runs_once_and_does_not_change_n() -> None:
    scenario = api.load(
        QUICKSTART,
        [
            "workload.phases=[{duration: 10s, rate: 20/s}]",
            "drain=2s",
            "warmup=2s",
            "replications=2",
        ],
    )
    once = api.run(scenario, patterns=["sync_http"], workers=1)
    twice = api.run(scenario, patterns=["sync_http", "sync_http"], workers=1)
    assert twice.patterns == ["sync_http"]
    assert set(twice.summary["n"]) <= {0, 2}
    assert twice.summary.equals(once.summary)


def test_user_text_in_command_line_messages_is_neither_markup_nor_raw_control() -> None:
    result = CliRunner().invoke(app, ["run", str(QUICKSTART), "--pattern", "x\x1b[31m[bold]y"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and "x\\x1b[31m[bold]y" in result.output
