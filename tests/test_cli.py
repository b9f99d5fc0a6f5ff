"""The command line through Typer's CliRunner: exit codes, files written, messages."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from typer.testing import CliRunner

from sim.cli import app
from sim.metrics.catalog import metrics_for
from sim.patterns import model_class

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["--set", "workload.phases=[{duration: 20s, rate: 40/s}]", "--set", "drain=5s"]

BAD = """\
name: bad
colour: blue
services:
  users: {service_time: -3ms}
data: {owner: users}
workload:
  phases: [{duration: 10s, rate: 5/s}]
patterns:
  - kind: carrier_pigeon
"""


def test_run_writes_the_run_folder(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app, ["run", str(QUICKSTART), "--out", str(out), "--replications", "2", *SHORT]
    )
    assert result.exit_code == 0, result.output
    for name in (
        "scenario.resolved.yaml",
        "summary.csv",
        "summary.json",
        "requests.parquet",
        "report.html",
    ):
        assert (out / name).is_file(), name
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == ["pattern", "metric", "mean", "ci_low", "ci_high", "n"]
    expected = {m.name for m in metrics_for([model_class("shared_db"), model_class("sync_http")])}
    for pattern in ("shared_db", "sync_http"):
        names = set(summary.loc[summary["pattern"] == pattern, "metric"])
        assert {n for n in names if "{" not in n} == expected  # then each component's gauges
        assert {n.split("{")[0] for n in names if "{" in n} == {
            "utilisation",
            "queue_length",
            "in_system",
        }
    document = json.loads((out / "summary.json").read_text())
    assert document["schema_version"] == 1
    assert document["scenario"] == "quickstart"
    assert document["replications"] == 2
    assert set(document["patterns"]) == {"shared_db", "sync_http"}
    assert set(document["patterns"]["sync_http"]["latency_p99"]) == {
        "mean",
        "ci_low",
        "ci_high",
        "n",
    }
    assert "latency_p99" in result.stdout


def test_run_json_prints_one_document(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "run",
            str(QUICKSTART),
            "--out",
            str(tmp_path),
            "--json",
            "--pattern",
            "shared_db",
            "--replications",
            "1",
            *SHORT,
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document["patterns"]) == ["shared_db"]
    assert document["patterns"]["shared_db"]["latency_p50"]["ci_low"] is None  # n = 1


def test_single_replication_leaves_the_interval_empty(tmp_path):
    result = CliRunner().invoke(
        app, ["run", str(QUICKSTART), "--out", str(tmp_path), "--replications", "1", *SHORT]
    )
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert summary["ci_low"].isna().all() and summary["ci_high"].isna().all()
    assert (summary["n"] <= 1).all()


def test_unknown_pattern_is_a_usage_error(tmp_path):
    result = CliRunner().invoke(
        app, ["run", str(QUICKSTART), "--out", str(tmp_path), "--pattern", "nope"]
    )
    assert result.exit_code == 2
    assert "no pattern called nope" in result.output


def test_validate_reports_every_error_with_its_position(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 3
    lines = [line for line in result.output.splitlines() if line.startswith(str(path))]
    assert len(lines) == 3, result.output
    assert lines[0].startswith(f"{path}:2:1 colour: unknown key")
    assert lines[1].startswith(f"{path}:4:25 services.users.service_time: must not be negative")
    assert "(got '-3ms')" in lines[1]
    assert lines[2].startswith(f"{path}:9:11 patterns[0].kind: unknown")
    assert "(got 'carrier_pigeon')" in lines[2]
    assert "Traceback" not in result.output


def test_validate_accepts_a_good_file():
    result = CliRunner().invoke(app, ["validate", str(QUICKSTART)])
    assert result.exit_code == 0
    assert "ok" in result.output


def test_invalid_yaml_points_at_the_problem(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nservices: {users: [1, 2}\n")
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 3
    assert f"{path}:2:" in result.output
    assert "invalid YAML" in result.output


def test_missing_file_is_an_invalid_scenario(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "none.yaml")])
    assert result.exit_code == 3
    assert "no such file" in result.output


def test_set_errors_name_the_override(tmp_path):
    result = CliRunner().invoke(app, ["validate", str(QUICKSTART), "--set", "workload.mix.write=2"])
    assert result.exit_code == 3
    assert "--set workload.mix.write" in result.output


def test_schema_is_json_with_the_top_level_keys():
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    for key in ("name", "services", "workload", "patterns", "faults", "data"):
        assert key in schema["properties"]
    assert schema["additionalProperties"] is False


def test_report_renders_a_run_folder_again_and_refuses_what_is_not_one(tmp_path):
    out = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(QUICKSTART), "--out", str(out), *SHORT])
    assert result.exit_code == 0, result.output
    written = (out / "report.html").read_bytes()
    again = CliRunner().invoke(app, ["report", str(out)])
    assert again.exit_code == 0, again.output
    assert (out / "report.html").read_bytes() == written
    small = CliRunner().invoke(app, ["report", str(out), "--plotlyjs", "directory"])
    assert small.exit_code == 0, small.output
    assert (out / "plotly.min.js").exists()
    assert (out / "report.html").stat().st_size < 1_000_000
    assert CliRunner().invoke(app, ["report", str(tmp_path / "nothing")]).exit_code == 2
    assert CliRunner().invoke(app, ["report", str(out), "--plotlyjs", "web"]).exit_code == 2
