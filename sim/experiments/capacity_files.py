"""The folder of a capacity search: the breaking points, every probe's figures, as they come.

``probes.csv`` (every probe's summary: each metric against the load) and
``probe_verdicts.csv`` (every probe against every SLO) grow by one probe as each finishes, so an
interrupted search keeps what it measured; ``capacity.csv`` (the breaking point of each
pattern), ``capacity.json`` and the page ``report.html`` are written at the end, with the
resolved scenario.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

import sim
from sim.experiments.capacity import CapacityResult, Probe
from sim.scenario import resolved_yaml

__all__ = ["CAPACITY_FILES", "CapacityWriter"]

CAPACITY_FILES = (
    "capacity.csv",
    "capacity.json",
    "probes.csv",
    "probe_verdicts.csv",
    "scenario.resolved.yaml",
    "report.html",
)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


class CapacityWriter:
    """Writes one capacity search into ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for name in CAPACITY_FILES:
            (folder / name).unlink(missing_ok=True)

    def probe(self, probe: Probe) -> None:
        """Append one finished probe to ``probes.csv`` and ``probe_verdicts.csv``."""
        self._append("probes.csv", probe.curve())
        self._append("probe_verdicts.csv", probe.judged())

    def _append(self, name: str, frame: pd.DataFrame) -> None:
        path = self.folder / name
        frame.to_csv(path, mode="a", header=not path.exists(), index=False)

    def finish(self, result: CapacityResult) -> Path:
        """Write the breaking points and the resolved scenario."""
        (self.folder / "scenario.resolved.yaml").write_text(
            resolved_yaml(result.scenario), encoding="utf-8"
        )
        result.breaking.to_csv(self.folder / "capacity.csv", index=False)
        document = {
            "generator": f"patternsim {sim.__version__}",
            "scenario": result.scenario.name,
            "seed": result.scenario.seed,
            "slo": [slo.text for slo in result.slos],
            "scaled": result.settings.rate or "every phase's rate and ramp_to",
            "base_rate": result.base_rate,
            "tolerance": result.settings.tolerance,
            "breaking": [
                {
                    "pattern": str(row["pattern"]),
                    "status": str(row["status"]),
                    "low": _number(row["low"]),
                    "high": _number(row["high"]),
                    "low_rate": _number(row["low_rate"]),
                    "high_rate": _number(row["high_rate"]),
                    "broke_first": str(row["broke_first"]) or None,
                    "probes": int(row["probes"]),
                }
                for row in result.breaking.to_dict("records")
            ],
        }
        text = json.dumps(document, indent=2, allow_nan=False) + "\n"
        (self.folder / "capacity.json").write_text(text, encoding="utf-8")
        from sim.report.capacity_page import render_capacity  # plotly: only for the page

        page = render_capacity(self.folder)
        (self.folder / "report.html").write_text(page, encoding="utf-8")
        return self.folder
