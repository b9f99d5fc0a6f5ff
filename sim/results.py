"""The results of a scenario: every run, the summary across replications and the verdicts."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sim.config.model import Scenario
from sim.metrics.catalog import Metric
from sim.runner import RunResult

__all__ = ["Results"]


@dataclass
class Results:
    """Every run of a scenario, with the summary across replications."""

    scenario: Scenario
    patterns: list[str]
    runs: list[RunResult]
    summary: pd.DataFrame
    metrics: list[Metric]
    """The summary's metrics, in order, with their units and meanings."""
    verdicts: pd.DataFrame
    """Each pattern against each SLO of the scenario (empty when it has none):
    ``pattern, slo, metric, value, ci_low, ci_high, passed``."""

    def _stack(self, attribute: str) -> pd.DataFrame:
        frames = []
        for run in self.runs:
            frame = getattr(run, attribute)
            frames.append(
                frame.assign(pattern=run.pattern, replication=run.replication)[
                    ["pattern", "replication", *frame.columns]
                ]
            )
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def requests(self) -> pd.DataFrame:
        """Every request of every run: ``pattern, replication, op, key, service, start, ...``."""
        return self._stack("requests")

    @property
    def propagation(self) -> pd.DataFrame:
        """Every (commit, replica) pair of every run with its propagation delay."""
        return self._stack("propagation")

    @property
    def per_replication(self) -> pd.DataFrame:
        """Metrics of each run: ``pattern, replication, metric, value``."""
        rows = [
            (run.pattern, run.replication, metric, value)
            for run in self.runs
            for metric, value in run.metrics.items()
        ]
        return pd.DataFrame(rows, columns=["pattern", "replication", "metric", "value"])

    @property
    def faults(self) -> pd.DataFrame:
        """Every fault in each pattern's first replication: ``pattern, kind, target, start,
        end, applied`` (``applied`` False: the fault reaches no component of that pattern)."""
        columns = ["pattern", "kind", "target", "start", "end", "applied"]
        first = self.runs[0].replication if self.runs else 0
        frames = [
            r.faults.assign(pattern=r.pattern)[columns]
            for r in self.runs
            if r.replication == first and len(r.faults)
        ]
        if not frames:
            return pd.DataFrame(columns=columns)
        found = pd.concat(frames, ignore_index=True)
        return found.assign(applied=found["applied"].astype(bool))

    @property
    def fault_windows(self) -> pd.DataFrame:
        """The fault windows as applied in the first replication, in any pattern:
        ``kind, target, start, end``."""
        columns = ["kind", "target", "start", "end"]
        faults = self.faults
        if faults.empty or not faults["applied"].any():
            return pd.DataFrame(columns=columns)
        applied = faults[faults["applied"]][columns]
        union = applied.drop_duplicates(["kind", "target", "start"])
        return union.sort_values(["start", "kind", "target"], kind="stable").reset_index(drop=True)

    @property
    def not_applied(self) -> dict[str, list[str]]:
        """``kind target`` of each fault that some pattern has no component for, with those
        patterns."""
        faults = self.faults
        found: dict[str, list[str]] = {}
        if faults.empty:
            return found
        for row in faults[~faults["applied"]].itertuples(index=False):
            found.setdefault(f"{row.kind} {row.target}", []).append(str(row.pattern))
        return found

    def metric(self, pattern: str, name: str) -> float:
        """The mean of one metric for one pattern."""
        row = self.summary[(self.summary["pattern"] == pattern) & (self.summary["metric"] == name)]
        if row.empty:
            raise KeyError(f"no metric {name!r} for pattern {pattern!r}")
        return float(row["mean"].iloc[0])
