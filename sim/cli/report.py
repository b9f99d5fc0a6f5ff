"""``patternsim report RUN_DIR``: render a run folder's report again from the runs it stores,
without simulating."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim import api
from sim.cli.shell import EXIT_USAGE, PlotlyjsOption, app, check_plotlyjs, consoles


@app.command()
def report(
    run_dir: Annotated[
        Path, typer.Argument(help="a run folder written by `patternsim run`", metavar="RUN_DIR")
    ],
    plotlyjs: PlotlyjsOption = "inline",
) -> None:
    """Render RUN_DIR/report.html again from the folder's data (no simulation)."""
    _, err = consoles()
    check_plotlyjs(plotlyjs, err)
    try:
        path = api.report(run_dir, plotlyjs)
    except (FileNotFoundError, api.StoreMismatch) as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    err.print(f"wrote {path}", highlight=False)
