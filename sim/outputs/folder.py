"""The run folder: resolved scenario, summary (CSV and JSON), per-request data and report.

Files are written into the run's staging folder (``NAME.partial``), which replaces ``NAME``
only when every file is there, so an interrupted write never leaves a folder half old, half
new. They are written in order of how cheap they are to lose: the resolved scenario first,
then the data files, then the summary, and the HTML report last, so that a failure while
rendering the report loses nothing already computed (the runs themselves are already in the folder's store,
:mod:`sim.outputs.store`). Floats are written with full precision and no wall-clock time
appears anywhere, so the same seed gives byte-identical files. A file an older run left and
this one does not write (``verdicts.csv`` of a run with SLOs, when this one has none) is
removed. With a sweep every table starts with the point's columns, ``points.csv`` lists the
points, and the report shows each (pattern, point) as its own variant. ``copies.csv`` holds the
consistency metrics of every run copy by copy, ``occupancy.csv`` each run's services and
databases: slots, utilisation, queue length and number in system over the measured window.
The request and propagation records are written by :mod:`sim.outputs.records` (Parquet or
CSV; all, a sample or none); the summary never reads them back. Last, ``manifest.json`` is
written again with the list of the folder's files and their formats.
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.outputs.history import write_histories
from sim.outputs.record import decision_record
from sim.outputs.records import write_records
from sim.outputs.store import (
    OUTPUT_FILES,
    Manifest,
    check_output_folder,
    mark_incomplete,
    publish,
    staging,
)
from sim.report.modes import PLOTLYJS_FILE
from sim.results import Results
from sim.scenario import cell, resolved_yaml

__all__ = ["SCHEMA_VERSION", "summary_document", "write_report", "write_run_folder"]

SCHEMA_VERSION = 1


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def summary_document(results: Results) -> dict[str, Any]:
    """The content of ``summary.json``."""
    scenario = results.scenario
    by_point: dict[int, dict[str, dict[str, dict[str, Any]]]] = {}
    for row in results.summary.to_dict("records"):
        patterns = by_point.setdefault(int(row.get("point", 0)), {})
        patterns.setdefault(str(row["pattern"]), {})[str(row["metric"])] = {
            "mean": _number(float(row["mean"])),
            "ci_low": _number(float(row["ci_low"])),
            "ci_high": _number(float(row["ci_high"])),
            "n": int(row["n"]),
        }
    where: dict[str, Any] = {"patterns": by_point.get(0, {})}
    if results.swept:
        where = {
            "points": [
                {
                    "point": p.index,
                    "label": p.label,
                    "values": {k: cell(v) for k, v in p.values.items()},
                    "patterns": by_point.get(p.index, {}),
                }
                for p in results.points
            ]
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"patternsim {sim.__version__}",
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replications": scenario.replications
        if isinstance(scenario.replications, int)
        else scenario.replications.model_dump(mode="json"),
        "replication_streams": "numpy SeedSequence(entropy=seed, spawn_key=(point key, "
        "replication, stream)); the point key is 0 without a sweep",
        "warmup": scenario.warmup,
        "warmup_mser5": results.suggested_warmup(),
        "load_end": scenario.workload.load_duration,
        "drain": scenario.drain
        if isinstance(scenario.drain, float)
        else scenario.drain.model_dump(mode="json"),
        "confidence": "95% Student-t interval across replications; null when n < 2",
        "paired_differences": "compare: pattern_a minus pattern_b, replication by replication "
        "(the same draws), mean with its 95% Student-t interval; null where 'never' is involved",
        "units": {m.name: m.unit for m in results.metrics},
        "meanings": {m.name: m.meaning for m in results.metrics},
        "percentiles": "latency_pNN: NNth percentile (linear interpolation) of successful "
        "requests started after the warm-up; p999 is the 99.9th",
        **where,
        "slo": [slo.text for slo in scenario.slo],
        "verdicts": [
            {
                **({"point": int(row["point"])} if "point" in row else {}),
                "pattern": str(row["pattern"]),
                "slo": str(row["slo"]),
                "metric": str(row["metric"]),
                "value": _number(float(row["value"])),
                "passed": bool(row["passed"]),
                "margin": _number(float(row["margin"])),
            }
            for row in results.verdicts.to_dict("records")
        ],
        "rollup": [
            {
                **({"point": int(row["point"])} if "point" in row else {}),
                "pattern": str(row["pattern"]),
                "checks": int(row["checks"]),
                "failed": int(row["failed"]),
                "passes": bool(row["passes"]),
                "first_failed": str(row["first_failed"]) or None,
            }
            for row in results.rollup.to_dict("records")
        ],
        "passed": bool(results.verdicts["passed"].all()) if len(results.verdicts) else True,
        "baseline": results.baseline,
        "compare": [
            {
                **({"point": int(row["point"])} if "point" in row else {}),
                "pattern_a": str(row["pattern_a"]),
                "pattern_b": str(row["pattern_b"]),
                "metric": str(row["metric"]),
                "diff": _number(float(row["diff"])),
                "ci_low": _number(float(row["ci_low"])),
                "ci_high": _number(float(row["ci_high"])),
                "n": int(row["n"]),
            }
            for row in results.compare.to_dict("records")
        ],
    }


def write_run_folder(
    results: Results,
    out: Path,
    capacity: pd.DataFrame | None = None,
    plotlyjs: str = "inline",
    history: str | None = None,
    records: str = "auto",
    fmt: str = "parquet",
) -> Path:
    """Write every file of a run into ``out`` (created if needed); ``capacity`` is the
    breaking-point table of a capacity search, for the decision record; ``plotlyjs`` how the
    report gets plotly.js (:data:`sim.report.page.PLOTLYJS_MODES`); ``history`` (``json`` or
    ``edn``) adds each run's operations as a Jepsen history (:mod:`sim.outputs.history`);
    ``records`` (``auto``, ``all``, ``sample``, ``none``) and ``fmt`` (``parquet``, ``csv``)
    say which request and propagation rows are written and how (:mod:`sim.outputs.records`).

    Everything is written into the staging folder (where the runs were stored, or a new one),
    which replaces ``out`` only once complete (:func:`sim.outputs.store.publish`)."""
    final = out
    check_output_folder(final)
    out = staging(final)
    manifest = Manifest.of(results.scenario, results.patterns)
    found = Manifest.read(out)
    if found is None or found.scenario_hash != manifest.scenario_hash:
        if out.exists():  # the work of another experiment
            shutil.rmtree(out)
        out.mkdir(parents=True)
        manifest.write(out)
        mark_incomplete(out, f"This run of {manifest.scenario!r} was interrupted while written.")
    written = {"manifest.json"}

    def put(name: str, frame: pd.DataFrame) -> None:
        frame.to_csv(out / name, index=False)
        written.add(name)

    (out / "scenario.resolved.yaml").write_text(resolved_yaml(results.scenario), encoding="utf-8")
    written.add("scenario.resolved.yaml")
    if results.swept:
        put("points.csv", _points_table(results))
    listed = write_records(results, out, fmt, records)
    written.update(entry["name"] for entry in listed)
    put("faults.csv", results.faults)
    put("replications.csv", results.per_replication)
    put("copies.csv", results.copies)
    put("occupancy.csv", results.table("occupancy"))
    put("summary.csv", results.summary)
    if len(results.verdicts):
        put("verdicts.csv", results.verdicts)
    if len(results.compare):
        put("compare.csv", results.compare)
    document = json.dumps(summary_document(results), indent=2, allow_nan=False)
    (out / "summary.json").write_text(document + "\n", encoding="utf-8")
    written.add("summary.json")
    if results.decisions:
        (out / "decision.md").write_text(decision_record(results, capacity), encoding="utf-8")
        written.add("decision.md")
    if history is not None:
        write_histories(results.runs, out, history)
        listed.append({"name": "history/", "format": "jsonl" if history == "json" else "edn"})
    elif (out / "history").is_dir():  # an older run's, not this one's
        shutil.rmtree(out / "history")
    for name in OUTPUT_FILES:  # what an older run wrote and this one does not
        if name not in written and name != "report.html":
            (out / name).unlink(missing_ok=True)
    write_report(results, out, plotlyjs)
    written.add("report.html")
    if plotlyjs == "directory":
        written.add(PLOTLYJS_FILE)
    records_listed = {entry["name"]: entry for entry in listed}
    files = [
        records_listed.pop(name, {"name": name, "format": _format(name)})
        for name in OUTPUT_FILES
        if name in written
    ]
    files += [*records_listed.values(), {"name": "runs/", "format": "parquet"}]
    if (out / "capacity").is_dir():
        files.append({"name": "capacity/", "format": "csv"})
    replace(manifest, files=files).write(out)
    return publish(final)


_FORMATS = {
    ".csv": "csv",
    ".json": "json",
    ".parquet": "parquet",
    ".yaml": "yaml",
    ".md": "markdown",
    ".html": "html",
    ".js": "javascript",
}


def _format(name: str) -> str:
    """The format of a file of the folder, by its suffix."""
    return _FORMATS[Path(name).suffix]


def _points_table(results: Results) -> pd.DataFrame:
    """``point, <swept columns>, label, stream_key``: one row per point, in order."""
    columns = results.point_columns
    rows = []
    for point in results.points:
        values = [cell(v) for v in point.values.values()]
        rows.append([point.index, *values, point.label, str(point.key)])
    return pd.DataFrame(rows, columns=[*columns, "label", "stream_key"])


def write_report(results: Results, out: Path, plotlyjs: str = "inline") -> Path:
    """Render ``report.html`` into ``out`` (with ``plotlyjs="directory"``, ``plotly.min.js``
    beside it, written once)."""
    from sim.report.page import plotly_js, render_report  # plotly: only when a page is drawn

    page = render_report(results, plotlyjs=plotlyjs)
    if plotlyjs == "directory" and not (out / PLOTLYJS_FILE).exists():
        (out / PLOTLYJS_FILE).write_text(plotly_js(), encoding="utf-8")
    path = out / "report.html"
    path.write_text(page, encoding="utf-8")
    return path
