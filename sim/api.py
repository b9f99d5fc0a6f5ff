"""The Python API: everything the command line does, callable from a notebook.

>>> from sim import api
>>> scenario = api.load("scenarios/quickstart.yaml", overrides=["replications=2"])
>>> results = api.run(scenario)
>>> results.summary.head()          # pattern, metric, mean, ci_low, ci_high, n
>>> api.write(results, "reports/quickstart")
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from sim.config.model import Scenario, ensure_current
from sim.metrics.catalog import metrics_for
from sim.metrics.summarize import format_value, summarize
from sim.metrics.verdicts import evaluate
from sim.outputs import summary_document, write_run_folder
from sim.patterns import model_class
from sim.results import Results
from sim.runner import ModelError, RunResult, Task, default_workers, not_applicable, run_many
from sim.scenario import ScenarioError, load_scenario, parse_scenario

__all__ = [
    "ModelError",
    "Results",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "UnknownPatternError",
    "format_value",
    "load",
    "parse",
    "run",
    "schema",
    "summary_document",
    "warnings",
    "write",
]


class UnknownPatternError(ValueError):
    """A pattern name that the scenario does not define."""


def load(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Load and validate a scenario file (raises :class:`ScenarioError`)."""
    return load_scenario(path, overrides)


def parse(text: str, overrides: Iterable[str] = ()) -> Scenario:
    """Validate a scenario given as YAML text."""
    return parse_scenario(text, "<text>", overrides)


def schema() -> dict[str, Any]:
    """The JSON Schema of scenario files (every registered pattern and fault kind)."""
    ensure_current()
    document = Scenario.model_json_schema(mode="validation")
    document["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    document["title"] = "patternsim scenario"
    return document


def warnings(scenario: Scenario) -> list[str]:
    """What a user should know before running: a fault that starts after the load (never
    applied: the drain runs fault-free), a fault that some pattern has no component for (not
    applied to that pattern)."""
    found = []
    load_end = scenario.workload.load_duration
    for index, fault in enumerate(scenario.faults):
        if fault.start >= load_end:
            found.append(
                f"faults[{index}] ({fault.kind}) starts at {fault.start:g}s, after the load ends "
                f"at {load_end:g}s: it is never applied (faults act during the load, the drain "
                f"runs fault-free); start it before {load_end:g}s"
            )
    for index, names in not_applicable(scenario).items():
        fault = scenario.faults[index]
        found.append(
            f"faults[{index}] ({fault.kind} {getattr(fault, 'target', '')}) reaches nothing in "
            f"{', '.join(names)}: it is not applied there"
        )
    return found


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
    kinds = [scenario.patterns[names.index(name)].kind for name in chosen]
    metrics = metrics_for(model_class(kind) for kind in kinds)
    summary = summarize(((r.pattern, r.metrics) for r in runs), [m.name for m in metrics])
    verdicts = evaluate(list(scenario.slo), summary, chosen)
    return Results(scenario, chosen, runs, summary, metrics, verdicts)


def write(results: Results, out: str | Path) -> Path:
    """Write the run folder (see :mod:`sim.outputs`); returns its path."""
    return write_run_folder(results, Path(out))
