"""``patternsim capacity``: where each pattern stops meeting its SLOs."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from sim import api
from sim.cli.shell import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_USAGE,
    CheckOption,
    ExecutorOption,
    ScenarioPath,
    SetOption,
    WorkersOption,
    app,
    check_executor,
    consoles,
    invariant_broken,
    load,
)


@app.command()
def capacity(
    scenario: ScenarioPath,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="folder [default: reports/<name>-capacity]"),
    ] = None,
    slo: Annotated[
        list[str] | None,
        typer.Option("--slo", help="an SLO to hold (repeatable) [default: the scenario's]"),
    ] = None,
    pattern: Annotated[
        list[str] | None, typer.Option("--pattern", "-p", help="search only this pattern")
    ] = None,
    rate: Annotated[
        str | None,
        typer.Option(help="scale only this rate (workload.phases[1].rate) [default: every rate]"),
    ] = None,
    tolerance: Annotated[
        str | None, typer.Option(help="stop when the interval is this narrow [default: 5%]")
    ] = None,
    replications: Annotated[
        int | None, typer.Option(help="replications per probe [default: the scenario's]", min=1)
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    check_invariants: CheckOption = False,
) -> None:
    """Find the load at which each pattern stops meeting its SLOs (bracketing, then bisection)."""
    console, err = consoles()
    where = check_executor(executor, workers, err)
    overrides = list(set_ or [])
    if slo:
        overrides.append("capacity.slo=" + json.dumps(list(slo)))
    if pattern:
        overrides.append("capacity.patterns=" + json.dumps(list(pattern)))
    if rate is not None:
        overrides.append("capacity.rate=" + json.dumps(rate))
    if tolerance is not None:
        overrides.append("capacity.tolerance=" + json.dumps(tolerance))
    if replications is not None:
        overrides.append(f"capacity.replications={replications}")
    loaded = load(scenario, overrides, err)
    folder = out if out is not None else Path("reports") / f"{loaded.name}-capacity"

    def shown(probe: api.Probe) -> None:
        err.print(
            f"  {probe.pattern} × {probe.multiplier:g} ({probe.rate:.4g}/s): {probe.outcome}",
            highlight=False,
        )

    try:
        result = api.capacity(
            loaded, executor=where, out=folder, on_probe=shown, check_invariants=check_invariants
        )
    except (api.UnknownPatternError, api.ExecutorError) as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except ValueError as error:
        err.print(f"{scenario}: {error}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    except api.InvariantBroken as error:
        raise invariant_broken(
            error, err, f"the probes finished before it are in {folder}/probes.csv"
        ) from None
    except KeyboardInterrupt:
        err.print(f"interrupted: the probes so far are in {folder}/probes.csv", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if not console.is_terminal:
        console.width = max(console.width, 120)
    table = Table(title=f"{loaded.name}: where each pattern stops meeting its SLOs")
    for column in (
        "pattern",
        "passes up to",
        "fails from",
        "offered rate",
        "broke first",
        "probes",
    ):
        table.add_column(
            column, justify="left" if column in ("pattern", "broke first") else "right"
        )
    for row in result.breaking.to_dict("records"):
        low, high = float(row["low"]), float(row["high"])
        passes = f"× {low:.3g}" if math.isfinite(low) else "—"
        fails = f"× {high:.3g}" if math.isfinite(high) else "—"
        if row["status"] == "passes at high":
            fails = f"> × {result.settings.high:g}"
        offered = (
            f"{row['low_rate']:.4g}–{row['high_rate']:.4g}/s"
            if math.isfinite(low) and math.isfinite(high)
            else row["status"]
        )
        table.add_row(
            str(row["pattern"]), passes, fails, offered, str(row["broke_first"]), str(row["probes"])
        )
    console.print(table)
    err.print(f"wrote {folder}/capacity.csv", highlight=False)
