"""The record files of a run folder: Parquet or CSV, every row, a sample or none."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sim import api
from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
QUICKSTART = ROOT / "scenarios" / "quickstart.yaml"
SHORT = ["--set", "workload.phases=[{duration: 20s, rate: 40/s}]", "--set", "drain=5s"]
FAULTS = [{"kind": "crash", "target": "service:billing", "start": 4, "duration": 3}]


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def _files(folder: Path) -> dict[str, dict]:
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    return {entry["name"]: entry for entry in manifest["files"]}


@pytest.fixture(scope="module")
def results():
    scenario = api.load(QUICKSTART, overrides=[*SHORT[1::2], "replications=2"])
    return api.run(scenario, workers=1)


def test_parquet_and_csv_of_the_same_run_read_back_equal(results, tmp_path):
    parquet = api.write(results, tmp_path / "parquet", records="all", fmt="parquet")
    csv = api.write(results, tmp_path / "csv", records="all", fmt="csv")
    for table, in_memory in (("requests", results.requests), ("propagation", results.propagation)):
        assert (parquet / f"{table}.parquet").exists() and not (parquet / f"{table}.csv").exists()
        assert (csv / f"{table}.csv").exists() and not (csv / f"{table}.parquet").exists()
        from_parquet = api.read_records(parquet, table)
        from_csv = api.read_records(csv, table)
        assert len(from_parquet) == len(in_memory) > 0
        pd.testing.assert_frame_equal(from_parquet, from_csv)
        pd.testing.assert_frame_equal(from_parquet, in_memory)
    assert (parquet / "summary.csv").read_bytes() == (csv / "summary.csv").read_bytes()


def test_parquet_keeps_types_and_stores_text_as_categories(results, tmp_path):
    folder = api.write(results, tmp_path / "run", records="all")
    frame = pd.read_parquet(folder / "requests.parquet")
    for column in ("pattern", "op", "service", "outcome"):
        assert isinstance(frame[column].dtype, pd.CategoricalDtype), column
    assert frame["key"].dtype == "int64" and frame["replication"].dtype == "int64"
    assert frame["start"].dtype == "float64" and frame["latency"].dtype == "float64"
    assert set(frame["outcome"].cat.categories) <= {"ok", "error", "timeout"}
    csv = api.write(results, tmp_path / "csv", records="all", fmt="csv")
    assert (folder / "requests.parquet").stat().st_size < (csv / "requests.csv").stat().st_size / 2


def test_the_summary_does_not_depend_on_the_records_written(results, tmp_path):
    every = api.write(results, tmp_path / "all", records="all")
    none = api.write(results, tmp_path / "none", records="none", fmt="csv")
    for name in ("summary.csv", "summary.json", "replications.csv", "copies.csv"):
        assert (every / name).read_bytes() == (none / name).read_bytes(), name
    assert not list(none.glob("requests.*")) and not list(none.glob("propagation.*"))
    listed = _files(none)
    assert "requests.parquet" not in listed and "requests.csv" not in listed
    assert listed["summary.csv"]["format"] == "csv"
    assert listed["summary.json"]["format"] == "json"
    assert {e["name"]: e for e in _files(every).values()}["requests.parquet"] == {
        "name": "requests.parquet",
        "format": "parquet",
        "records": "all",
        "rows": len(results.requests),
    }
    with pytest.raises(FileNotFoundError, match="--records none"):
        api.read_records(none, "requests")


def test_writing_again_in_another_format_leaves_only_the_new_files(results, tmp_path):
    out = tmp_path / "run"
    api.write(results, out, records="all", fmt="csv")
    assert (out / "requests.csv").exists()
    api.write(results, out, records="all", fmt="parquet")
    assert (out / "requests.parquet").exists() and not (out / "requests.csv").exists()
    api.write(results, out, records="none")
    assert not list(out.glob("requests.*")) and not list(out.glob("propagation.*"))


def test_a_sample_keeps_every_kth_request_of_each_run_and_is_the_same_for_the_same_seed(tmp_path):
    load = ["--set", "workload.phases=[{duration: 12s, rate: 1000/s}]", "--set", "drain=2s"]
    common = [str(QUICKSTART), "-p", "shared_db", "--replications", "2", *load]
    assert _cli("run", *common, "-o", str(tmp_path / "all"), "--records", "all")[0] == 0
    for name in ("one", "two"):
        code, output = _cli("run", *common, "-o", str(tmp_path / name), "--records", "sample")
        assert code == 0, output
    every = api.read_records(tmp_path / "all", "requests")
    sample = api.read_records(tmp_path / "one", "requests")
    kept = []
    for replication, rows in every.groupby("replication", sort=True):
        assert len(rows) > 10_000
        step = -(-len(rows) // 10_000)
        kept.append(rows.iloc[::step])
        mine = sample[sample["replication"] == replication]
        assert len(mine) <= 10_000
    expected = pd.concat(kept, ignore_index=True)
    pd.testing.assert_frame_equal(sample, expected)
    assert (tmp_path / "one" / "requests.parquet").read_bytes() == (
        tmp_path / "two" / "requests.parquet"
    ).read_bytes()
    entry = _files(tmp_path / "one")["requests.parquet"]
    assert entry["records"] == "sample" and entry["rows"] == len(sample)
    for name in ("summary.csv", "replications.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "all" / name).read_bytes()


def test_a_sweep_writes_a_sample_unless_told_otherwise(tmp_path):
    sweep = ["--sweep", "workload.phases[0].rate=20/s,40/s", "-p", "shared_db"]
    args = [str(QUICKSTART), "--replications", "1", *SHORT, *sweep]
    assert _cli("run", *args, "-o", str(tmp_path / "auto"))[0] == 0
    assert _cli("run", *args, "-o", str(tmp_path / "all"), "--records", "all")[0] == 0
    assert _files(tmp_path / "auto")["requests.parquet"]["records"] == "sample"
    assert _files(tmp_path / "all")["requests.parquet"]["records"] == "all"
    frame = api.read_records(tmp_path / "auto", "requests")
    assert list(frame.columns[:3]) == ["point", "rate", "pattern"]
    assert set(frame["point"]) == {0, 1}


def test_a_column_a_run_adds_reaches_both_formats(scenario_factory, tmp_path):
    scenario = scenario_factory(workload={"sessions": 3})
    results = api.run(scenario, workers=1)
    for fmt in api.RECORD_FORMATS:
        folder = api.write(results, tmp_path / fmt, records="all", fmt=fmt)
        frame = api.read_records(folder, "requests")
        assert set(frame["session"]) == {0, 1, 2}, fmt


def test_a_report_renders_again_from_a_folder_without_record_files(tmp_path):
    out = tmp_path / "run"
    args = [str(QUICKSTART), "-o", str(out), "--replications", "1", *SHORT, "--records", "none"]
    assert _cli("run", *args)[0] == 0
    assert not list(out.glob("requests.*"))
    (out / "report.html").unlink()
    code, output = _cli("report", str(out))
    assert code == 0, output
    assert (out / "report.html").stat().st_size > 0


@pytest.mark.parametrize(
    ("option", "value"), [("--records", "some"), ("--format", "xlsx"), ("--format", "CSV")]
)
def test_an_unknown_records_or_format_choice_is_a_usage_error(option, value, tmp_path):
    code, output = _cli("run", str(QUICKSTART), "-o", str(tmp_path / "x"), option, value)
    assert code == 2
    assert f"{option} must be one of" in output and repr(value) in output
    assert not (tmp_path / "x").exists()


def test_a_sweep_over_mixed_values_reads_back_the_same_from_either_format(tmp_path):
    sweep = ["--sweep", "patterns.sync_http.timeout=200ms,1", "-p", "sync_http"]
    args = [str(QUICKSTART), "--replications", "1", *SHORT, *sweep, "--records", "all"]
    for fmt in api.RECORD_FORMATS:
        code, output = _cli("run", *args, "-o", str(tmp_path / fmt), "--format", fmt)
        assert code == 0, output
    for table in api.RECORD_TABLES:
        from_parquet = api.read_records(tmp_path / "parquet", table)
        from_csv = api.read_records(tmp_path / "csv", table)
        assert set(from_parquet["timeout"]) == {"200ms", "1"}
        pd.testing.assert_frame_equal(from_parquet, from_csv)
