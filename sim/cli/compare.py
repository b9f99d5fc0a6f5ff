"""``patternsim compare RUN_A RUN_B``: what changed between two run folders, beyond the noise,
and exit 4 when a watched metric regressed past its threshold."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim import api
from sim.cli.shell import EXIT_INVALID, EXIT_SLO, EXIT_USAGE, app, consoles


@app.command()
def compare(
    run_a: Annotated[
        Path, typer.Argument(help="the run folder to compare against", metavar="RUN_A")
    ],
    run_b: Annotated[Path, typer.Argument(help="the run folder to compare", metavar="RUN_B")],
    fail_on: Annotated[
        list[str] | None,
        typer.Option(
            "--fail-on",
            help="exit 4 when METRIC regresses by more than CHANGE, beyond the noise: "
            "'p99(latency) +10%', 'throughput -5%', 'error_rate +0.5pp' (repeatable)",
        ),
    ] = None,
    show_all: Annotated[
        bool, typer.Option("--all", help="every metric, not only the changes beyond the noise")
    ] = False,
) -> None:
    """Compare two run folders metric by metric (B against A)."""
    console, err = consoles()
    try:
        found = api.compare(run_a, run_b, fail_on or [])
    except api.RuleError as error:
        err.print(f"--fail-on: {error}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    except FileNotFoundError as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    for note in found.notes:
        err.print(f"note: {note}", highlight=False)
    table = found.table if show_all else found.table[found.table["beyond_noise"]]
    if not console.is_terminal:
        console.width = max(console.width, 120)
    shown = Table(
        title=f"{run_b} against {run_a}" + ("" if show_all else ": changes beyond the noise")
    )
    for column in ("pattern", "metric", "A", "B", "change", ""):
        shown.add_column(column, justify="left" if column in ("pattern", "metric", "") else "right")
    for row in table.to_dict("records"):
        metric = str(row["metric"])
        relative = float(row["relative"])
        change = api.format_value(metric, float(row["change"]))
        if math.isfinite(relative):
            change += f" ({relative:+.1%})"
        name = str(row["pattern"]) + (f" @ point {row['point']}" if "point" in row else "")
        shown.add_row(
            name,
            metric,
            api.format_value(metric, float(row["a"])),
            api.format_value(metric, float(row["b"])),
            change,
            "beyond the noise" if row["beyond_noise"] else "",
        )
    console.print(shown)
    if len(found.failures):
        for row in found.failures.to_dict("records"):
            err.print(
                f"regressed: {row['pattern']} {row['metric']} "
                f"{api.format_value(str(row['metric']), float(row['a']))} → "
                f"{api.format_value(str(row['metric']), float(row['b']))} ({row['rule']})",
                highlight=False,
            )
        raise typer.Exit(EXIT_SLO)
