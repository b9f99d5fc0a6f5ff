"""The run folder: resolved scenario, summary (CSV and JSON), per-request data and report.

Files are written in order of how cheap they are to lose: the resolved scenario first, then the
data files, then the summary, and the HTML report last, so that a failure while rendering the
report loses nothing already computed. Floats are written with full precision and no
wall-clock time appears anywhere, so the same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import sim
from sim.metrics.summarize import format_value
from sim.report.page import render_report
from sim.results import Results
from sim.scenario import resolved_yaml

__all__ = ["SCHEMA_VERSION", "summary_document", "write_run_folder"]

SCHEMA_VERSION = 1


def _number(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def summary_document(results: Results) -> dict[str, Any]:
    """The content of ``summary.json``."""
    scenario = results.scenario
    patterns: dict[str, dict[str, dict[str, Any]]] = {}
    for row in results.summary.to_dict("records"):
        patterns.setdefault(str(row["pattern"]), {})[str(row["metric"])] = {
            "mean": _number(float(row["mean"])),
            "ci_low": _number(float(row["ci_low"])),
            "ci_high": _number(float(row["ci_high"])),
            "n": int(row["n"]),
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "generator": f"patternsim {sim.__version__}",
        "scenario": scenario.name,
        "seed": scenario.seed,
        "replications": scenario.replications,
        "replication_streams": "numpy SeedSequence(entropy=seed, spawn_key=(0, replication, stream))",
        "warmup": scenario.warmup,
        "load_end": scenario.workload.load_duration,
        "drain": scenario.drain
        if isinstance(scenario.drain, float)
        else scenario.drain.model_dump(mode="json"),
        "confidence": "95% Student-t interval across replications; null when n < 2",
        "units": {m.name: m.unit for m in results.metrics},
        "meanings": {m.name: m.meaning for m in results.metrics},
        "percentiles": "latency_pNN: NNth percentile (linear interpolation) of successful "
        "requests started after the warm-up; p999 is the 99.9th",
        "patterns": patterns,
        "slo": [slo.text for slo in scenario.slo],
        "verdicts": [
            {
                "pattern": str(row["pattern"]),
                "slo": str(row["slo"]),
                "metric": str(row["metric"]),
                "value": _number(float(row["value"])),
                "passed": bool(row["passed"]),
            }
            for row in results.verdicts.to_dict("records")
        ],
        "passed": bool(results.verdicts["passed"].all()) if len(results.verdicts) else True,
    }


def write_run_folder(results: Results, out: Path) -> Path:
    """Write every file of a run into ``out`` (created if needed)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "scenario.resolved.yaml").write_text(resolved_yaml(results.scenario), encoding="utf-8")
    results.requests.to_csv(out / "requests.csv", index=False)
    results.propagation.to_csv(out / "propagation.csv", index=False)
    results.faults.to_csv(out / "faults.csv", index=False)
    results.per_replication.to_csv(out / "replications.csv", index=False)
    results.summary.to_csv(out / "summary.csv", index=False)
    if len(results.verdicts):
        results.verdicts.to_csv(out / "verdicts.csv", index=False)
    document = json.dumps(summary_document(results), indent=2, allow_nan=False)
    (out / "summary.json").write_text(document + "\n", encoding="utf-8")
    _write_report(results, out)
    return out


def _write_report(results: Results, out: Path) -> None:
    scenario = results.scenario
    verdicts = results.verdicts
    shown = None
    if len(verdicts):
        shown = verdicts.assign(
            value=[
                format_value(str(m), float(v))
                for m, v in zip(verdicts["metric"], verdicts["value"], strict=True)
            ]
        ).drop(columns=["ci_low", "ci_high"])
    page = render_report(
        title=f"patternsim: {scenario.name}",
        summary=results.summary,
        requests=results.requests,
        propagation=results.propagation,
        fault_windows=results.fault_windows,
        meta={
            "scenario": scenario.name,
            "seed": scenario.seed,
            "replications": scenario.replications,
            "patterns": results.patterns,
            "warmup": scenario.warmup,
            "load_end": scenario.workload.load_duration,
        },
        verdicts=shown,
        not_applied=results.not_applied,
    )
    (out / "report.html").write_text(page, encoding="utf-8")
