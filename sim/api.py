"""The Python API: everything the command line does, callable from a notebook.

>>> from sim import api
>>> scenario = api.load("scenarios/quickstart.yaml", overrides=["replications=2"])
>>> results = api.run(scenario)
>>> results.summary.head()          # pattern, metric, mean, ci_low, ci_high, n
>>> api.write(results, "reports/quickstart")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from sim.config.model import Scenario
from sim.metrics.summarize import METRICS, summarize
from sim.runner import RunResult, Task, default_workers, run_many
from sim.scenario import load_scenario, parse_scenario
from sim.slo import evaluate, parse_slo

__all__ = ["Results", "UnknownPatternError", "load", "parse", "run", "write"]


class UnknownPatternError(ValueError):
    """A pattern name that the scenario does not define."""


def load(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate a scenario file (raises :class:`sim.scenario.ScenarioError`)."""
    return load_scenario(path, overrides)


def parse(text: str, overrides: Iterable[str] = ()) -> Scenario:
    """Validate a scenario given as YAML text."""
    return parse_scenario(text, "<text>", overrides)


@dataclass
class Results:
    """Every run of a scenario, with the summary across replications."""

    scenario: Scenario
    patterns: list[str]
    runs: list[RunResult]
    summary: pd.DataFrame

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
    def fault_windows(self) -> pd.DataFrame:
        """The fault windows as applied in the first replication: ``kind, target, start, end``."""
        columns = ["kind", "target", "start", "end"]
        if not self.runs:
            return pd.DataFrame(columns=columns)
        first = self.runs[0].replication
        # a fault applies only in the patterns that have its target (a connector crash in a
        # pattern with no connector): show every window any pattern saw
        frames = [r.faults[columns] for r in self.runs if r.replication == first]
        union = pd.concat(frames, ignore_index=True).drop_duplicates(["kind", "target", "start"])
        return union.sort_values(["start", "kind", "target"], kind="stable").reset_index(drop=True)

    @property
    def verdicts(self) -> pd.DataFrame:
        """Each pattern against each SLO of the scenario (empty when it has none):
        ``pattern, slo, metric, value, ci_low, ci_high, passed``."""
        slos = [parse_slo(text) for text in self.scenario.slo]
        return evaluate(slos, self.summary, self.patterns)

    def metric(self, pattern: str, name: str) -> float:
        """The mean of one metric for one pattern."""
        row = self.summary[(self.summary["pattern"] == pattern) & (self.summary["metric"] == name)]
        if row.empty:
            raise KeyError(f"no metric {name!r} for pattern {pattern!r}")
        return float(row["mean"].iloc[0])


def run(
    scenario: Scenario,
    *,
    patterns: Sequence[str] | None = None,
    workers: int | None = None,
    on_result: Callable[[RunResult], None] | None = None,
) -> Results:
    """Simulate the scenario's patterns (all, or those named) over its replications."""
    names = scenario.pattern_names()
    chosen = list(patterns) if patterns else names
    unknown = [name for name in chosen if name not in names]
    if unknown:
        raise UnknownPatternError(
            f"no pattern called {', '.join(unknown)} in this scenario (it has {', '.join(names)})"
        )
    tasks = [
        Task(scenario, names.index(name), replication)
        for name in chosen
        for replication in range(scenario.replications)
    ]
    count = default_workers() if workers is None else workers
    runs = run_many(tasks, workers=min(count, len(tasks)), on_result=on_result)
    summary = summarize(((r.pattern, r.metrics) for r in runs), METRICS)
    return Results(scenario, chosen, runs, summary)


def write(results: Results, out: str | Path) -> Path:
    """Write the run folder (see :mod:`sim.outputs`); returns its path."""
    from sim.outputs import write_run_folder

    return write_run_folder(results, Path(out))
