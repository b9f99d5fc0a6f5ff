"""The Python API: everything the command line does, callable from a notebook.

>>> from sim import api
>>> scenario = api.load("scenarios/quickstart.yaml", overrides=["replications=2"])
>>> results = api.run(scenario)
>>> results.summary.head()          # pattern, metric, mean, ci_low, ci_high, n
>>> api.write(results, "reports/quickstart")

A sweep runs the scenario at several points (a ``sweep:`` block, or ``api.sweep``); every
table of its results starts with the point's columns:

>>> results = api.sweep(scenario, {"workload.phases[0].rate": [50, 100, 200]})

The runs run on an executor (:mod:`sim.executors`): this process, worker processes
(``executor="local:4"``, or ``workers=4``), a Dask ``LocalCluster`` (``"dask:local"``) or a
running Dask cluster (``"dask://host:8786"``); an executor opened once can serve several calls:

>>> with api.parse_executor("dask:local:2").open() as pool:
...     results = api.run(scenario, executor=pool)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sim.config.model import Scenario, ensure_current
from sim.executors import Executor, ExecutorError, ExecutorSpec, parse_executor
from sim.experiments import (
    DATABASE,
    MAX_REQUESTS,
    Budget,
    CapacityResult,
    CapacityWriter,
    Comparison,
    Exploration,
    Probe,
    Progress,
    RuleError,
    Try,
    UnknownPatternError,
    compare_folders,
    estimate,
    parse_rule,
    run_experiment,
    search_capacity,
    write_exploration,
)
from sim.experiments import explore as search_schedules
from sim.experiments.explore import with_pattern
from sim.kernel.always import InvariantBroken
from sim.kernel.registry import PATTERNS
from sim.metrics.invariants import InvariantError, describe_invariants
from sim.metrics.summarize import format_value, shown_interval
from sim.outputs import (
    OutputFolderError,
    StoreMismatch,
    check_output_folder,
    read_results,
    staging,
    summary_document,
    write_report,
    write_run_folder,
)
from sim.outputs.records import RECORD_FORMATS, RECORD_MODES, RECORD_TABLES, read_records
from sim.report.modes import PLOTLYJS_FILE, PLOTLYJS_MODES
from sim.results import Results
from sim.runner import ModelError, RunResult, not_applicable
from sim.scenario import (
    Point,
    ScenarioError,
    load_scenario,
    parse_scenario,
    parse_values,
    points,
)
from sim.scenario import with_sweep as swept

__all__ = [
    "MAX_REQUESTS",
    "PLOTLYJS_MODES",
    "RECORD_FORMATS",
    "RECORD_MODES",
    "RECORD_TABLES",
    "Budget",
    "CapacityResult",
    "Comparison",
    "Executor",
    "ExecutorError",
    "ExecutorSpec",
    "Exploration",
    "InvariantBroken",
    "InvariantError",
    "ModelError",
    "OutputFolderError",
    "Point",
    "Probe",
    "Progress",
    "Results",
    "RuleError",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "StoreMismatch",
    "Try",
    "UnknownPatternError",
    "budget",
    "capacity",
    "check_output_folder",
    "compare",
    "explore",
    "format_value",
    "invariants",
    "load",
    "parse",
    "parse_executor",
    "parse_values",
    "points",
    "read_records",
    "report",
    "run",
    "schema",
    "shown_interval",
    "staging",
    "summary_document",
    "sweep",
    "warnings",
    "with_sweep",
    "write",
]

Sweep = Mapping[str, Sequence[Any]]


def load(
    path: str | Path,
    overrides: Iterable[str] = (),
    sweep: Sweep | None = None,
    sweep_mode: str | None = None,
) -> Scenario:
    """Load and validate a scenario file (raises :class:`ScenarioError`); ``sweep`` adds paths
    to its ``sweep:`` block and ``sweep_mode`` (``grid`` or ``zip``) sets its mode."""
    return load_scenario(path, overrides, sweep, sweep_mode)


def parse(
    text: str,
    overrides: Iterable[str] = (),
    sweep: Sweep | None = None,
    sweep_mode: str | None = None,
) -> Scenario:
    """Validate a scenario given as YAML text."""
    return parse_scenario(text, "<text>", overrides, sweep, sweep_mode)


def with_sweep(scenario: Scenario, over: Sweep, mode: str | None = None) -> Scenario:
    """``scenario`` with ``over`` added to its sweep (validated again, at every point)."""
    return swept(scenario, over, mode)


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


def budget(
    scenario: Scenario,
    *,
    patterns: Sequence[str] | None = None,
    workers: int | None = None,
    max_requests: int = MAX_REQUESTS,
) -> Budget:
    """What running ``scenario`` will cost (requests per run, runs, memory) and whether it
    fits: ``budget.errors`` say why it would not, ``budget.warnings`` what is close."""
    count = len(dict.fromkeys(patterns)) if patterns else None
    return estimate(scenario, patterns=count, workers=workers, max_requests=max_requests)


def run(
    scenario: Scenario,
    *,
    patterns: Sequence[str] | None = None,
    workers: int | None = None,
    executor: str | ExecutorSpec | Executor | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    progress: Callable[[Progress], None] | None = None,
    baseline: str | None = None,
    check_invariants: bool = False,
) -> Results:
    """Simulate the scenario's patterns (all, or those named) over its replications, at every
    point of its sweep. With ``out``, each finished run is stored in that run folder as it
    completes; with ``resume``, the runs already stored there are kept, not run again (the
    folder must hold a run of the same scenario: :class:`StoreMismatch`). ``baseline`` names
    the pattern ``results.compare`` differences the others against (every pair, without).
    ``executor`` says where the runs run (see :func:`parse_executor`; default ``local``, one
    process per core); ``workers=N`` is short for ``executor="local:N"``. The results are the
    same, bit for bit, on any executor and with any number of workers. ``check_invariants``
    checks the model's invariants as every run goes (in worker processes too): the first broken
    one raises :class:`InvariantBroken` (simulated time, pattern, component, key, expected,
    found), with the runs finished before it kept in ``out``; the checks change no figure."""
    folder = Path(out) if out is not None else None
    return run_experiment(
        scenario,
        patterns=patterns,
        workers=workers,
        executor=executor,
        out=folder,
        resume=resume,
        progress=progress,
        baseline=baseline,
        check=check_invariants,
    )


def sweep(scenario: Scenario, over: Sweep, mode: str | None = None, **options: Any) -> Results:
    """Run ``scenario`` at every point of ``over`` (key path → values; ``mode`` grid or zip);
    ``options`` as for :func:`run`."""
    return run(with_sweep(scenario, over, mode), **options)


def write(
    results: Results,
    out: str | Path,
    capacity: CapacityResult | None = None,
    plotlyjs: str = "inline",
    history: str | None = None,
    records: str = "auto",
    fmt: str = "parquet",
) -> Path:
    """Write the run folder (see :mod:`sim.outputs`); returns its path. ``capacity`` adds a
    capacity search's breaking points to the decision record; ``plotlyjs`` is how the report
    gets plotly.js: ``inline`` (one file that opens offline), ``directory`` (``plotly.min.js``
    beside it) or ``cdn``; ``history`` (``json`` or ``edn``) writes each run's operations as a
    Jepsen history under ``history/``; ``records`` says which request and propagation rows go
    into their files (``auto``: ``all`` without a sweep, ``sample`` with one; ``all``;
    ``sample``; ``none``) and ``fmt`` in which format (``parquet`` or ``csv``), see
    :mod:`sim.outputs.records`."""
    breaking = capacity.breaking if capacity is not None else None
    return write_run_folder(results, Path(out), breaking, plotlyjs, history, records, fmt)


def report(run_dir: str | Path, plotlyjs: str = "inline") -> Path:
    """Render the report of a run folder again from the runs it stores, without simulating
    (the same page ``run`` wrote, for the same ``plotlyjs``), or the page of a capacity
    search's folder from its probes; returns the report's path.
    Raises ``FileNotFoundError`` for a folder that is not a run folder."""
    from sim.report.capacity_page import is_capacity_folder, render_capacity
    from sim.report.page import plotly_js

    folder = Path(run_dir)
    if is_capacity_folder(folder):
        path = folder / "report.html"
        path.write_text(render_capacity(folder, plotlyjs=plotlyjs), encoding="utf-8")
        if plotlyjs == "directory" and not (folder / PLOTLYJS_FILE).exists():
            (folder / PLOTLYJS_FILE).write_text(plotly_js(), encoding="utf-8")
        return path
    return write_report(read_results(folder), folder, plotlyjs)


def capacity(
    scenario: Scenario,
    *,
    workers: int | None = None,
    executor: str | ExecutorSpec | Executor | None = None,
    out: str | Path | None = None,
    on_probe: Callable[[Probe], None] | None = None,
    check_invariants: bool = False,
) -> CapacityResult:
    """Search the load at which each pattern stops meeting its SLOs (the scenario's
    ``capacity:`` block, or the defaults: every rate scaled, from 1× by doubling or halving,
    then bisection to 5 %). With ``out``, each probe is written to that folder as it finishes
    (``probes.csv``, ``probe_verdicts.csv``) and the breaking points at the end
    (``capacity.csv``, ``capacity.json``). Each probe's replications run on ``executor`` (as
    for :func:`run`); ``check_invariants`` as for :func:`run`."""
    writer = CapacityWriter(Path(out)) if out is not None else None

    def probed(probe: Probe) -> None:
        if writer is not None:
            writer.probe(probe)
        if on_probe is not None:
            on_probe(probe)

    result = search_capacity(
        scenario, workers=workers, executor=executor, on_probe=probed, check=check_invariants
    )
    if writer is not None:
        writer.finish(result)
    return result


def explore(
    scenario: Scenario,
    pattern: str,
    invariant: str,
    *,
    budget: int = 100,
    kinds: Sequence[str] | None = None,
    max_faults: int = 3,
    seed: int = 0,
    out: str | Path | None = None,
    on_try: Callable[[Try], None] | None = None,
    check_invariants: bool = False,
    searches: int = 1,
    executor: str | ExecutorSpec | Executor | None = None,
    workers: int | None = None,
) -> Exploration:
    """Search fault schedules against ``pattern`` (a pattern of the scenario, by name or kind,
    or a pattern kind it lacks, with that kind's defaults) for one that breaks ``invariant``
    and shrink it to a minimal counterexample (:mod:`sim.experiments.explore`; raises
    :class:`InvariantError` for an unknown invariant, :class:`UnknownPatternError` for a pattern
    the scenario does not have). With ``out``, the search keeps its example database there and
    writes ``counterexample.yaml``, ``timeline.csv``, ``timeline.md``, ``tries.csv`` and
    ``explore.json``. ``searches`` independent searches share the budget, at once on
    ``executor`` (``workers`` as for :func:`run`); the result depends on the seed and the number
    of searches, not on the executor. ``check_invariants`` as for :func:`run`."""
    labels = scenario.pattern_names()
    if pattern not in labels and pattern not in [p.kind for p in scenario.patterns]:
        if pattern not in PATTERNS:
            raise UnknownPatternError(
                f"no pattern called {pattern!r} ({', '.join(labels)}), and no pattern kind of "
                f"that name ({', '.join(PATTERNS.kinds())})"
            )
        scenario = with_pattern(scenario, pattern)  # a kind the scenario lacks: its defaults
    folder = Path(out) if out is not None else None
    found = search_schedules(
        scenario,
        pattern,
        invariant,
        budget=budget,
        kinds=list(kinds) if kinds is not None else None,
        max_faults=max_faults,
        seed=seed,
        database=(folder / DATABASE).resolve() if folder is not None else None,  # for workers
        progress=on_try,
        check_model=check_invariants,
        searches=searches,
        executor=executor,
        workers=workers,
    )
    if folder is not None:
        write_exploration(found, folder, seed, budget)
    return found


def invariants() -> list[tuple[str, str]]:
    """``(name, promise)`` of every invariant ``explore`` can check."""
    return describe_invariants()


def compare(run_a: str | Path, run_b: str | Path, fail_on: Sequence[str] = ()) -> Comparison:
    """Compare run folder ``run_b`` against ``run_a``: every metric's change, whether it is
    beyond the noise, and which ``fail_on`` rules (``"p99(latency) +10%"``) it breaks
    (raises :class:`RuleError` for a rule that does not parse, ``FileNotFoundError`` for a
    folder that is not a run folder)."""
    rules = [parse_rule(text) for text in fail_on]
    return compare_folders(Path(run_a), Path(run_b), rules)
