"""The command line's shared parts: the Typer app, exit codes, consoles, loading a scenario."""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sim import api

__all__ = [
    "EXIT_INTERRUPTED",
    "EXIT_INVALID",
    "EXIT_INVARIANT",
    "EXIT_OK",
    "EXIT_SLO",
    "EXIT_UNEXPECTED",
    "EXIT_USAGE",
    "CheckOption",
    "ExecutorOption",
    "MaxRequestsOption",
    "PlotlyjsOption",
    "ScenarioPath",
    "SetOption",
    "WorkersOption",
    "app",
    "check_budget",
    "check_executor",
    "check_plotlyjs",
    "consoles",
    "invariant_broken",
    "load",
    "warn",
]

EXIT_OK, EXIT_UNEXPECTED, EXIT_USAGE, EXIT_INVALID, EXIT_SLO, EXIT_INTERRUPTED = 0, 1, 2, 3, 4, 130
EXIT_INVARIANT = 5
"""A model invariant broke during a run (``--check-invariants``): a bug of the model."""

app = typer.Typer(
    name="patternsim",
    help="Compare how microservices share data: latency, throughput and consistency.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _clean(text: str) -> str:
    """A message safe for a terminal: control characters (escape sequences) shown as
    ``\\xNN``, each line cut to 2,000 characters."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return "\n".join(line if len(line) <= 2000 else line[:1999] + "…" for line in text.split("\n"))


class _MessageConsole(Console):
    """The stderr console: user text in messages is never markup and never raw control
    characters."""

    def print(self, *objects: Any, **options: Any) -> None:
        options.setdefault("markup", False)
        super().print(*(_clean(o) if isinstance(o, str) else o for o in objects), **options)


def consoles() -> tuple[Console, Console]:
    no_color = "NO_COLOR" in os.environ
    out = Console(file=sys.stdout, no_color=no_color, soft_wrap=True)
    err = _MessageConsole(file=sys.stderr, no_color=no_color, soft_wrap=True)
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
PlotlyjsOption = Annotated[
    str,
    typer.Option(
        "--plotlyjs",
        help="how the report gets plotly.js: inline (one file, opens offline), directory "
        "(plotly.min.js beside the report, written once) or cdn",
    ),
]


def check_plotlyjs(plotlyjs: str, err: Console) -> None:
    """Exit 2 for a ``--plotlyjs`` mode the report does not know."""
    if plotlyjs not in api.PLOTLYJS_MODES:
        err.print(
            f"Usage error: --plotlyjs must be one of {', '.join(api.PLOTLYJS_MODES)} "
            f"(got {plotlyjs!r})",
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE)


CheckOption = Annotated[
    bool,
    typer.Option(
        "--check-invariants",
        help="check the model's invariants as each run goes; the first broken one exits 5",
    ),
]
ExecutorOption = Annotated[
    str | None,
    typer.Option(
        "--executor",
        help="where the runs run: local (processes, one per core), local:N, dask:local[:N] "
        "(a Dask LocalCluster), dask://HOST:PORT (a running Dask scheduler) [default: local]",
        show_default=False,
    ),
]
WorkersOption = Annotated[
    int | None,
    typer.Option(
        help="worker processes: short for --executor local:N [default: the cores available]",
        min=1,
    ),
]


def invariant_broken(error: api.InvariantBroken, err: Console, kept: str = "") -> typer.Exit:
    """Print a broken invariant as one line (and where finished work is kept); the exit to
    raise (code 5)."""
    err.print(error.line(), highlight=False)
    if kept:
        err.print(kept, highlight=False)
    return typer.Exit(EXIT_INVARIANT)


def check_executor(executor: str | None, workers: int | None, err: Console) -> api.ExecutorSpec:
    """The executor of ``--executor`` and ``--workers``, or exit 2 saying what is wrong."""
    try:
        return api.parse_executor(executor, workers)
    except api.ExecutorError as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None


MaxRequestsOption = Annotated[
    int,
    typer.Option(
        "--max-requests",
        help="refuse a scenario whose runs would simulate more requests each",
        min=1,
    ),
]


def check_budget(
    path: Path,
    scenario: api.Scenario,
    err: Console,
    max_requests: int,
    patterns: list[str] | None = None,
    workers: int | None = None,
) -> None:
    """Warn about, or refuse (exit 3), a scenario too big for this machine, before running."""
    found = api.budget(scenario, patterns=patterns, workers=workers, max_requests=max_requests)
    for warning in found.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    for error in found.errors:
        err.print(f"{path}: {error}", markup=False, highlight=False)
    if found.errors:
        raise typer.Exit(EXIT_INVALID)
