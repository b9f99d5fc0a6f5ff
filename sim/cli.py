"""The ``patternsim`` command line: thin Typer commands over :mod:`sim.api`.

Data goes to stdout (the summary table, or one JSON document with ``--json``); messages and
progress go to stderr, progress only when stderr is a terminal. ``NO_COLOR`` is honoured.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 invalid scenario, 4 an SLO failed,
130 interrupted.
"""

from __future__ import annotations

import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sim import api

__all__ = ["app", "main"]

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_INVALID, EXIT_SLO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

app = typer.Typer(
    name="patternsim",
    help="Compare how microservices share data: latency, throughput and consistency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _consoles() -> tuple[Console, Console]:
    no_color = "NO_COLOR" in os.environ
    out = Console(file=sys.stdout, no_color=no_color, soft_wrap=True)
    err = Console(file=sys.stderr, no_color=no_color, soft_wrap=True)
    return out, err


def _load(path: Path, overrides: list[str], err: Console) -> api.Scenario:
    try:
        return api.load(path, overrides)
    except api.ScenarioError as error:
        for issue in error.issues:
            err.print(str(issue), markup=False, highlight=False)
        count = len(error.issues)
        err.print(f"{count} error{'s' if count != 1 else ''} in the scenario", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def _warn(scenario: api.Scenario, err: Console) -> None:
    for warning in api.warnings(scenario):
        err.print(f"warning: {warning}", markup=False, highlight=False)


ScenarioPath = Annotated[
    Path, typer.Argument(help="scenario file (YAML)", show_default=False, metavar="SCENARIO")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a value before validation: key.path=value (YAML)"),
]


@app.command()
def validate(scenario: ScenarioPath, set_: SetOption = None) -> None:
    """Check a scenario file and report every problem with its file:line:col."""
    _, err = _consoles()
    loaded = _load(scenario, set_ or [], err)
    _warn(loaded, err)
    err.print(
        f"{scenario}: ok ({len(loaded.patterns)} patterns, {len(loaded.faults)} faults)",
        highlight=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and validation)."""
    sys.stdout.write(json.dumps(api.schema(), indent=2) + "\n")


@app.command()
def run(
    scenario: ScenarioPath,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="run folder [default: reports/<name>]")
    ] = None,
    pattern: Annotated[
        list[str] | None, typer.Option("--pattern", "-p", help="run only this pattern (repeatable)")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="override the scenario's seed", min=0)] = None,
    replications: Annotated[
        int | None, typer.Option(help="override the number of replications", min=1)
    ] = None,
    set_: SetOption = None,
    workers: Annotated[
        int | None, typer.Option(help="worker processes [default: the cores available]", min=1)
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
) -> None:
    """Simulate every pattern of a scenario and write its run folder and report."""
    console, err = _consoles()
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"seed={seed}")
    if replications is not None:
        overrides.append(f"replications={replications}")
    loaded = _load(scenario, overrides, err)
    _warn(loaded, err)
    try:
        results = api.run(loaded, patterns=pattern, workers=workers, on_result=_progress(err))
    except api.UnknownPatternError as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    folder = api.write(results, out if out is not None else Path("reports") / loaded.name)
    if as_json:
        sys.stdout.write(json.dumps(api.summary_document(results), indent=2) + "\n")
    else:
        if not console.is_terminal:  # a file or a pipe: no reason to wrap at 80 columns
            console.width = max(console.width, 30 + 16 * len(results.patterns))
        verdicts = results.verdicts
        if not verdicts.empty:
            console.print(_verdict_table(verdicts))
        console.print(_summary_table(results))
    err.print(f"wrote {folder}/report.html", highlight=False)
    failed = int((~results.verdicts["passed"]).sum()) if not results.verdicts.empty else 0
    if failed:
        err.print(f"{failed} SLO check{'s' if failed != 1 else ''} failed", highlight=False)
        raise typer.Exit(EXIT_SLO)


def _progress(err: Console) -> Callable[[api.RunResult], None] | None:
    if not err.is_terminal:
        return None

    def show(result: api.RunResult) -> None:
        err.print(
            f"  done {result.pattern} replication {result.replication}",
            highlight=False,
        )

    return show


def _verdict_table(verdicts: Any) -> Table:
    table = Table(title="SLOs (mean over replications)")
    for column in ("", "pattern", "slo", "value"):
        table.add_column(column)
    for row in verdicts.to_dict("records"):
        mark = "[green]✓[/green]" if row["passed"] else "[red]✗[/red]"
        value = api.format_value(str(row["metric"]), float(row["value"]))
        table.add_row(mark, str(row["pattern"]), str(row["slo"]), value)
    return table


def _summary_table(results: api.Results) -> Table:
    summary = results.summary
    compact = len(results.patterns) > 3  # intervals stay in summary.csv and the report
    what = "mean" if compact else "mean [95% CI]"
    table = Table(title=f"{results.scenario.name}: {what} over replications")
    table.add_column("metric")
    for name in results.patterns:
        table.add_column(name, justify="right")
    for metric in dict.fromkeys(summary["metric"]):
        cells = []
        for name in results.patterns:
            row = summary[(summary["pattern"] == name) & (summary["metric"] == metric)].iloc[0]
            text = api.format_value(metric, row["mean"])
            if not compact and math.isfinite(row["ci_low"]):
                text += f" [{api.format_value(metric, row['ci_low'])}, {api.format_value(metric, row['ci_high'])}]"
            cells.append(text)
        table.add_row(metric, *cells)
    return table


def main() -> None:
    """Console entry point: Typer maps usage errors to 2 and Ctrl-C to 130; any other failure
    becomes exit code 1 with a one-line message instead of a traceback."""
    try:
        app()
    except Exception as error:  # the promise: never a traceback for the user
        if os.environ.get("PATTERNSIM_DEBUG"):
            raise
        sys.stderr.write(
            f"patternsim: unexpected error: {type(error).__name__}: {error}\n"
            "(set PATTERNSIM_DEBUG=1 to see the traceback)\n"
        )
        sys.exit(EXIT_UNEXPECTED)
