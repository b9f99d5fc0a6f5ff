"""The run store: every finished run written as it completes, so nothing computed is lost.

A run folder holds ``manifest.json`` — what the folder is a run of: the scenario's hash, its
seed, its points, the patterns and the generator version — and ``runs/``, one folder per
finished (point, pattern, replication) with its metrics (``run.json``) and its frames
(Parquet, which keeps every column's type and every float's bits, so a run read back is the
run that was written). A run is written under a temporary name and renamed when complete, so
an interrupted write leaves nothing that looks finished.

**Atomic folders.** A run never writes into its folder ``NAME`` directly: it works in the
sibling ``NAME.partial`` (:func:`staging`), marked by an ``INCOMPLETE`` file that says what
finished and how to resume, and only when every file is written is the marker removed and
``NAME.partial`` renamed to ``NAME`` (:func:`publish`): the previous ``NAME`` is replaced
whole (files patternsim did not write are carried over). An interrupted run leaves the
previous ``NAME`` untouched and its work in ``NAME.partial``. ``resume`` continues from
``NAME.partial`` when there is one, else from the runs of a finished ``NAME``; it refuses a
folder whose manifest is of another experiment.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.config.model import Scenario
from sim.runner import RunResult
from sim.scenario import cell, points, resolved_dict

__all__ = [
    "INCOMPLETE",
    "OUTPUT_FILES",
    "Manifest",
    "OutputFolderError",
    "RunStore",
    "StoreMismatch",
    "check_output_folder",
    "mark_incomplete",
    "publish",
    "scenario_hash",
    "staging",
]

INCOMPLETE = "INCOMPLETE"
"""The marker of a run folder that is not finished."""

OUTPUT_FILES = (
    "manifest.json",
    "scenario.resolved.yaml",
    "requests.parquet",
    "propagation.parquet",
    "requests.csv",
    "propagation.csv",
    "faults.csv",
    "replications.csv",
    "copies.csv",
    "occupancy.csv",
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


class OutputFolderError(ValueError):
    """An output folder that cannot be used (a file, or not creatable)."""


def staging(out: Path) -> Path:
    """Where a run into ``out`` works until it is complete: ``out`` + ``.partial``."""
    return out.with_name(out.name + ".partial")


def check_output_folder(out: Path) -> None:
    """Refuse, before any simulation, an ``out`` that is a file or cannot be created."""
    for path in (out, staging(out)):
        if path.exists() and not path.is_dir():
            raise OutputFolderError(f"{path} is a file, not a folder: choose another --out")
    parent = out.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputFolderError(f"cannot create {parent}: {error.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise OutputFolderError(f"cannot write in {parent}")


def mark_incomplete(folder: Path, note: str) -> None:
    """Write the ``INCOMPLETE`` marker of ``folder`` (a staging folder) with ``note``."""
    (folder / INCOMPLETE).write_text(note.rstrip() + "\n", encoding="utf-8")


def publish(out: Path) -> Path:
    """Make the complete staging folder of ``out`` the folder ``out``: carry over the files
    patternsim did not write, remove the marker, and swap the folders by renames."""
    work = staging(out)
    if out.is_dir():
        ours = {*OUTPUT_FILES, "runs", "capacity", INCOMPLETE}
        for entry in out.iterdir():
            if entry.name not in ours and not (work / entry.name).exists():
                if entry.is_dir():
                    shutil.copytree(entry, work / entry.name)
                else:
                    shutil.copy2(entry, work / entry.name)
    (work / INCOMPLETE).unlink(missing_ok=True)
    old = out.with_name(out.name + ".replaced")
    if old.exists():
        shutil.rmtree(old)
    if out.exists():
        os.replace(out, old)
    os.replace(work, out)
    if old.exists():
        shutil.rmtree(old)
    return out


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
    files: list[dict[str, Any]] = field(default_factory=list)
    """The files of the finished folder, each ``{name, format}`` (record files also with
    ``records``, ``rows`` and, for a sample, how it was drawn); empty until it is written."""

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
            "files": self.files,
        }

    def write(self, folder: Path) -> None:
        """Write ``folder/manifest.json`` (atomically: the old one or the new one)."""
        text = json.dumps(self.document(), indent=2, allow_nan=False) + "\n"
        temporary = folder / ".manifest.json.tmp"
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, folder / "manifest.json")

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
                list(data.get("files", [])),
            )
        except (OSError, ValueError, KeyError, TypeError):
            return None


class RunStore:
    """The finished runs of one run folder (kept in its staging folder while it runs)."""

    def __init__(self, folder: Path, manifest: Manifest, *, staged: bool = True) -> None:
        self.final = folder
        self.folder = staging(folder) if staged else folder
        self.manifest = manifest
        self.runs = self.folder / "runs"

    def begin(self, resume: bool = False) -> dict[tuple[int, str, int], RunResult]:
        """Prepare the staging folder; return the runs already finished (none unless
        ``resume``: then those of the staging folder, or else of the finished folder)."""
        check_output_folder(self.final)
        if resume and not (self.folder / "manifest.json").exists():
            self._adopt_finished()
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
        mark_incomplete(
            self.folder,
            f"This run of {self.manifest.scenario!r} has not finished: the runs done so far are "
            f"in runs/. `patternsim run SCENARIO --out {self.final} --resume` finishes it; "
            f"{self.final} is replaced only when it does.",
        )
        return self.finished() if resume else {}

    def _adopt_finished(self) -> None:
        """Resuming a finished folder: start the staging folder from its manifest and runs."""
        found = Manifest.read(self.final)
        if found is None or not (self.final / "runs").is_dir():
            return
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        shutil.copy2(self.final / "manifest.json", self.folder / "manifest.json")
        shutil.copytree(self.final / "runs", self.runs)

    def clear(self) -> None:
        """Start the staging folder afresh (an interrupted run's work in it is dropped)."""
        if self.folder.exists() and self.folder != self.final:
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.runs.exists():
            shutil.rmtree(self.runs)

    def _write_manifest(self) -> None:
        self.manifest.write(self.folder)

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
