"""The command line's shared parts: the Typer app, exit codes, consoles, loading a scenario."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sim import api

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_SLO",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "ScenarioPath",
    "SetOption",
    "app",
    "consoles",
    "load",
    "warn",
]

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_INVALID, EXIT_SLO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130

app = typer.Typer(
    name="patternsim",
    help="Compare how microservices share data: latency, throughput and consistency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def consoles() -> tuple[Console, Console]:
    no_color = "NO_COLOR" in os.environ
    out = Console(file=sys.stdout, no_color=no_color, soft_wrap=True)
    err = Console(file=sys.stderr, no_color=no_color, soft_wrap=True)
    return out, err


def load(
    path: Path,
    overrides: list[str],
    err: Console,
    sweep: dict[str, list[Any]] | None = None,
    sweep_mode: str | None = None,
) -> api.Scenario:
    try:
        return api.load(path, overrides, sweep, sweep_mode)
    except api.ScenarioError as error:
        for issue in error.issues:
            err.print(str(issue), markup=False, highlight=False)
        count = len(error.issues)
        err.print(f"{count} error{'s' if count != 1 else ''} in the scenario", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None


def warn(scenario: api.Scenario, err: Console) -> None:
    for warning in api.warnings(scenario):
        err.print(f"warning: {warning}", markup=False, highlight=False)


ScenarioPath = Annotated[
    Path, typer.Argument(help="scenario file (YAML)", show_default=False, metavar="SCENARIO")
]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="override a value before validation: key.path=value (YAML)"),
]
