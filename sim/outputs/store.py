"""The run store: every finished run written as it completes, so nothing computed is lost.

A run folder holds ``manifest.json`` — what the folder is a run of: the scenario's hash, its
seed, its points, the patterns and the generator version — and ``runs/``, one folder per
finished (point, pattern, replication) with its metrics (``run.json``) and its frames
(Parquet, which keeps every column's type and every float's bits, so a run read back is the
run that was written). A run is written under a temporary name and renamed when complete, so
an interrupted write leaves nothing that looks finished.

A fresh run clears the files of an older run from the folder first (and only those: the names
patternsim writes); ``resume`` keeps the finished runs of a folder whose manifest matches and
refuses one that does not.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.config.model import Scenario
from sim.runner import RunResult
from sim.scenario import cell, points, resolved_dict

__all__ = ["OUTPUT_FILES", "Manifest", "RunStore", "StoreMismatch", "scenario_hash"]

OUTPUT_FILES = (
    "manifest.json",
    "scenario.resolved.yaml",
    "requests.csv",
    "propagation.csv",
    "faults.csv",
    "replications.csv",
    "copies.csv",
    "summary.csv",
    "verdicts.csv",
    "compare.csv",
    "points.csv",
    "summary.json",
    "decision.md",
    "report.html",
    "plotly.min.js",
)
"""Every file patternsim writes at the top of a run folder (``runs/`` aside)."""

MANIFEST_VERSION = 1


class StoreMismatch(ValueError):
    """A folder to resume that holds a run of something else."""


def scenario_hash(scenario: Scenario, patterns: list[str]) -> str:
    """SHA-256 of the resolved scenario (every default filled in, its sweep included) and the
    patterns run: two folders with the same hash ran the same experiment."""
    document = {"scenario": resolved_dict(scenario), "patterns": patterns}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Manifest:
    """What a run folder is a run of."""

    scenario: str
    scenario_hash: str
    seed: int
    generator: str
    patterns: list[str]
    points: list[dict[str, Any]]

    @classmethod
    def of(cls, scenario: Scenario, patterns: list[str]) -> Manifest:
        return cls(
            scenario.name,
            scenario_hash(scenario, patterns),
            scenario.seed,
            f"patternsim {sim.__version__}",
            list(patterns),
            [
                {
                    "point": p.index,
                    "label": p.label,
                    "values": {k: cell(v) for k, v in p.values.items()},
                    "stream_key": str(p.key),
                }
                for p in points(scenario)
            ],
        )

    def document(self) -> dict[str, Any]:
        return {
            "manifest_version": MANIFEST_VERSION,
            "scenario": self.scenario,
            "scenario_hash": self.scenario_hash,
            "seed": self.seed,
            "generator": self.generator,
            "patterns": self.patterns,
            "points": self.points,
        }

    @classmethod
    def read(cls, folder: Path) -> Manifest | None:
        """The manifest of ``folder``, or None when it has none (or an unreadable one)."""
        try:
            data = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
            return cls(
                str(data["scenario"]),
                str(data["scenario_hash"]),
                int(data["seed"]),
                str(data["generator"]),
                [str(p) for p in data["patterns"]],
                list(data["points"]),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class RunStore:
    """The finished runs of one run folder."""

    def __init__(self, folder: Path, manifest: Manifest) -> None:
        self.folder = folder
        self.manifest = manifest
        self.runs = folder / "runs"

    def begin(self, resume: bool = False) -> dict[tuple[int, str, int], RunResult]:
        """Prepare the folder; return the runs already finished (none unless ``resume``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if resume:
            found = Manifest.read(self.folder)
            if found is not None and found.scenario_hash != self.manifest.scenario_hash:
                raise StoreMismatch(
                    f"{self.folder} holds a run of another experiment (scenario "
                    f"{found.scenario!r}, hash {found.scenario_hash[:12]}; this one is "
                    f"{self.manifest.scenario!r}, hash {self.manifest.scenario_hash[:12]}): "
                    "run without --resume to replace it, or choose another --out"
                )
            if found is not None and found.generator != self.manifest.generator:
                raise StoreMismatch(
                    f"{self.folder} was written by {found.generator}, this is "
                    f"{self.manifest.generator}: its runs may differ; run without --resume"
                )
        else:
            self.clear()
        self._write_manifest()
        return self.finished() if resume else {}

    def clear(self) -> None:
        """Remove the files an older run left (only the names patternsim writes)."""
        for name in OUTPUT_FILES:
            (self.folder / name).unlink(missing_ok=True)
        if self.runs.exists():
            shutil.rmtree(self.runs)

    def _write_manifest(self) -> None:
        text = json.dumps(self.manifest.document(), indent=2, allow_nan=False) + "\n"
        temporary = self.folder / ".manifest.json.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, self.folder / "manifest.json")

    def save(self, run: RunResult) -> None:
        """Write one finished run (atomically: a complete folder, or nothing)."""
        self.runs.mkdir(exist_ok=True)
        name = _run_name(run.point, run.pattern, run.replication)
        final = self.runs / name
        temporary = self.runs / f".{name}.tmp"
        if temporary.exists():
            shutil.rmtree(temporary)
        temporary.mkdir()
        for label, frame in _frames(run).items():
            frame.to_parquet(temporary / f"{label}.parquet", index=False)
        document = {
            "pattern": run.pattern,
            "replication": run.replication,
            "point": run.point,
            "metrics": {k: _encode(v) for k, v in run.metrics.items()},
            "not_applicable": run.not_applicable,
            "tables": list(run.tables),
        }
        (temporary / "run.json").write_text(json.dumps(document, indent=1) + "\n", "utf-8")
        if final.exists():
            shutil.rmtree(final)
        os.replace(temporary, final)

    def finished(self) -> dict[tuple[int, str, int], RunResult]:
        """Every complete run in the folder, by ``(point, pattern, replication)``."""
        found: dict[tuple[int, str, int], RunResult] = {}
        if not self.runs.exists():
            return found
        for folder in sorted(self.runs.iterdir()):
            if folder.name.startswith(".") or not (folder / "run.json").exists():
                continue
            run = _read_run(folder)
            found[(run.point, run.pattern, run.replication)] = run
        return found


def _run_name(point: int, pattern: str, replication: int) -> str:
    return f"p{point:04d}-r{replication:05d}-{pattern}"


def _frames(run: RunResult) -> dict[str, pd.DataFrame]:
    frames = {"requests": run.requests, "propagation": run.propagation, "faults": run.faults}
    frames.update({f"table-{name}": frame for name, frame in run.tables.items()})
    return frames


def _read_run(folder: Path) -> RunResult:
    document = json.loads((folder / "run.json").read_text(encoding="utf-8"))

    def frame(label: str) -> pd.DataFrame:
        return pd.read_parquet(folder / f"{label}.parquet")

    return RunResult(
        pattern=str(document["pattern"]),
        replication=int(document["replication"]),
        metrics={k: _decode(v) for k, v in document["metrics"].items()},
        requests=frame("requests"),
        propagation=frame("propagation"),
        faults=frame("faults"),
        tables={name: frame(f"table-{name}") for name in document["tables"]},
        not_applicable=[str(s) for s in document["not_applicable"]],
        point=int(document["point"]),
    )


def _encode(value: float) -> float | str:
    """A metric for JSON: a float, or ``"inf"``, ``"-inf"``, ``"nan"`` (exact either way)."""
    if math.isfinite(value):
        return value
    return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")


def _decode(value: float | str) -> float:
    return float(value)
