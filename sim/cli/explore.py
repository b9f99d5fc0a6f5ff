"""``patternsim explore``: the smallest fault schedule that breaks a pattern's invariant."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sim import api
from sim.cli.shell import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_SLO,
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
def explore(
    scenario: ScenarioPath,
    pattern: Annotated[str, typer.Option("--pattern", "-p", help="the pattern to search")],
    invariant: Annotated[
        str,
        typer.Option(
            "--invariant",
            "-i",
            help="no-loss, convergence, no-duplicates, per-key-order, no-phantoms, "
            "read-your-writes, monotonic-reads, no-stale-reads or bounded-staleness(T)",
        ),
    ],
    budget: Annotated[int, typer.Option(help="fault schedules to generate", min=1)] = 100,
    faults: Annotated[
        str | None,
        typer.Option(
            "--faults",
            help="fault kinds to use, comma-separated [default: every failure kind; an operator's "
            "action such as rewind only when named]",
        ),
    ] = None,
    max_faults: Annotated[int, typer.Option(help="faults per schedule at most", min=1)] = 3,
    seed: Annotated[int, typer.Option(help="seed of the search")] = 0,
    searches: Annotated[
        int,
        typer.Option(
            help="independent searches sharing the budget, run at once on the executor "
            "(the result depends on their number, not on where they run)",
            min=1,
        ),
    ] = 1,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="folder [default: reports/<name>-explore-<pattern>]"),
    ] = None,
    set_: SetOption = None,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    check_invariants: CheckOption = False,
) -> None:
    """Search fault schedules for one that breaks INVARIANT for PATTERN and shrink it: exit 4
    with a counterexample, 0 when the budget is spent without one."""
    _console, err = consoles()
    if searches > budget:
        err.print(
            f"Usage error: {searches} searches need a budget of at least {searches} schedules "
            f"(one each); the budget is {budget}",
            highlight=False,
        )
        raise typer.Exit(EXIT_USAGE)
    where = check_executor(executor, workers, err)
    if searches == 1 and (executor is not None or workers is not None):
        err.print(
            "note: one search runs in this process; the executor serves --searches N",
            highlight=False,
        )
    loaded = load(scenario, list(set_ or []), err)
    folder = out if out is not None else Path("reports") / f"{loaded.name}-explore-{pattern}"
    kinds = [kind.strip() for kind in faults.split(",") if kind.strip()] if faults else None

    def shown(tried: api.Try) -> None:
        if tried.violations or tried.number % 10 == 0:
            mark = f"violates ({tried.violations})" if tried.violations else "holds"
            which = f"search {tried.search}, " if searches > 1 else ""
            err.print(
                f"  {which}schedule {tried.number}: {len(tried.schedule)} faults, "
                f"load ×{tried.load:g}: {mark}",
                highlight=False,
            )

    try:
        found = api.explore(
            loaded,
            pattern,
            invariant,
            budget=budget,
            kinds=kinds,
            max_faults=max_faults,
            seed=seed,
            out=folder,
            on_try=shown,
            check_invariants=check_invariants,
            searches=searches,
            executor=where,
        )
    except (api.UnknownPatternError, api.InvariantError, KeyError) as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except api.ScenarioError as error:  # a schedule the scenario refuses (reported, located)
        err.print(f"{scenario}: {error}", highlight=False)
        raise typer.Exit(EXIT_INVALID) from None
    except api.InvariantBroken as error:
        raise invariant_broken(error, err) from None
    except KeyboardInterrupt:
        err.print("interrupted: nothing found yet", highlight=False)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    space = found.space
    over = f" by {searches} searches" if searches > 1 else ""
    err.print(
        f"{len(found.tries)} schedules tried{over} over {len(found.covered)} of {space.size} "
        f"(fault kind, target) pairs",
        highlight=False,
    )
    for kind, why in space.left_out.items():
        err.print(f"  not explored: {kind} ({why})", highlight=False)
    if not found.found:
        err.print(
            f"{invariant} held for {found.pattern}; wrote {folder}/explore.json", highlight=False
        )
        return
    assert found.counterexample is not None
    err.print(
        f"{invariant} broken by {found.pattern}: {len(found.violations)} violations with "
        f"{len(found.counterexample.faults)} faults; wrote {folder}/counterexample.yaml "
        f"(patternsim run reproduces it) and {folder}/timeline.md",
        highlight=False,
    )
    raise typer.Exit(EXIT_SLO)
