"""``patternsim run``: simulate a scenario (every point, pattern and replication), write its run
folder, print the verdicts and the summary; progress on stderr."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from sim import api
from sim.cli.shell import (
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_SLO,
    EXIT_USAGE,
    CheckOption,
    ExecutorOption,
    MaxRequestsOption,
    PlotlyjsOption,
    ScenarioPath,
    SetOption,
    WorkersOption,
    app,
    check_budget,
    check_executor,
    check_plotlyjs,
    consoles,
    invariant_broken,
    load,
    warn,
)

SweepOption = Annotated[
    list[str] | None,
    typer.Option(
        "--sweep",
        help="run at several points: key.path=a,b,c (repeatable: a grid, or --zip)",
        show_default=False,
    ),
]


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
    sweep: SweepOption = None,
    zip_: Annotated[
        bool, typer.Option("--zip", help="pair the i-th values of every --sweep path")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="keep the runs the folder already holds (same scenario) and run the rest"
        ),
    ] = False,
    workers: WorkersOption = None,
    executor: ExecutorOption = None,
    baseline: Annotated[
        str | None,
        typer.Option(help="paired differences against this pattern [default: every pair]"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print summary.json to stdout")] = False,
    plotlyjs: PlotlyjsOption = "inline",
    max_requests: MaxRequestsOption = api.MAX_REQUESTS,
    export_history: Annotated[
        str | None,
        typer.Option(
            "--export-history",
            help="also write each run's operations as a Jepsen history: json (lines) or edn",
        ),
    ] = None,
    check_invariants: CheckOption = False,
    records: Annotated[
        str,
        typer.Option(
            "--records",
            help="which request and propagation rows to write: all, sample (every k-th row, "
            "at most 10,000 per run), none, or auto (all; sample with a sweep)",
        ),
    ] = "auto",
    fmt: Annotated[
        str,
        typer.Option(
            "--format", help="format of the request and propagation files: parquet or csv"
        ),
    ] = "parquet",
) -> None:
    """Simulate every pattern of a scenario and write its run folder and report."""
    console, err = consoles()
    check_plotlyjs(plotlyjs, err)
    for option, value, allowed in (
        ("--records", records, api.RECORD_MODES),
        ("--format", fmt, api.RECORD_FORMATS),
    ):
        if value not in allowed:
            err.print(
                f"Usage error: {option} must be one of {', '.join(allowed)} (got {value!r})",
                highlight=False,
            )
            raise typer.Exit(EXIT_USAGE)
    where = check_executor(executor, workers, err)
    if export_history is not None and export_history not in ("json", "edn"):
        err.print(
            f"Usage error: --export-history {export_history!r}: use json or edn", highlight=False
        )
        raise typer.Exit(EXIT_USAGE)
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"seed={seed}")
    if replications is not None:
        overrides.append(f"replications={replications}")
    loaded = load(
        scenario, overrides, err, _sweep_values(sweep or [], err), "zip" if zip_ else None
    )
    warn(loaded, err)
    check_budget(scenario, loaded, err, max_requests, pattern, where.processes)
    folder = out if out is not None else Path("reports") / loaded.name
    try:
        api.check_output_folder(folder)
    except api.OutputFolderError as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    watch = _Progress(err)
    try:
        with watch:
            results = api.run(
                loaded,
                patterns=pattern,
                executor=where,
                out=folder,
                resume=resume,
                progress=watch,
                baseline=baseline,
                check_invariants=check_invariants,
            )
        found = None
        decision = loaded.decision
        if decision is not None and decision.capacity:
            err.print(
                "searching each pattern's breaking point for the decision record", highlight=False
            )
            try:
                found = api.capacity(
                    loaded,
                    executor=where,
                    out=api.staging(folder) / "capacity",
                    check_invariants=check_invariants,
                )
            except api.ExecutorError:
                raise
            except ValueError as error:
                err.print(f"{scenario}: {error}", highlight=False)
                raise typer.Exit(EXIT_INVALID) from None
        api.write(results, folder, found, plotlyjs, export_history, records, fmt)
    except api.UnknownPatternError as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except (api.StoreMismatch, api.ExecutorError) as error:
        err.print(f"Usage error: {error}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    except api.InvariantBroken as error:
        kept = api.staging(folder)
        raise invariant_broken(
            error,
            err,
            f"{watch.done} of {watch.total} runs finished before it are stored in {kept} "
            f"(marked INCOMPLETE); {folder} is as it was",
        ) from None
    except KeyboardInterrupt:
        kept = api.staging(folder)
        err.print(
            f"interrupted: {watch.done} of {watch.total} runs are stored in {kept} (marked "
            f"INCOMPLETE); {folder} is as it was. Run again with --resume to finish",
            highlight=False,
        )
        raise typer.Exit(EXIT_INTERRUPTED) from None
    if results.decisions:
        err.print(f"wrote {folder}/decision.md", highlight=False)
    _statistics_warnings(results, err)
    if as_json:
        sys.stdout.write(json.dumps(api.summary_document(results), indent=2) + "\n")
    else:
        if not console.is_terminal:  # a file or a pipe: no reason to wrap at 80 columns
            console.width = max(console.width, 30 + 16 * len(results.patterns))
        verdicts = results.verdicts
        if not verdicts.empty:
            console.print(_verdict_table(results, verdicts))
            for line in _rollup_lines(results):
                console.print(line, highlight=False)
        for title, frame in _by_point(results, results.summary):
            console.print(_summary_table(results, frame, title))
    err.print(f"wrote {folder}/report.html", highlight=False)
    failed = int((~results.verdicts["passed"]).sum()) if not results.verdicts.empty else 0
    if failed:
        err.print(f"{failed} SLO check{'s' if failed != 1 else ''} failed", highlight=False)
        raise typer.Exit(EXIT_SLO)


def _statistics_warnings(results: api.Results, err: Console) -> None:
    """Intervals from fewer than 5 replications; a warm-up shorter than MSER-5 suggests."""
    fewest = int(results.summary["n"].max()) if len(results.summary) else 0
    if 0 < fewest < 5:
        err.print(
            f"warning: {fewest} replication{'s' if fewest != 1 else ''}: intervals from fewer "
            "than 5 are rough (use replications: 5 or more, or {min: 5, max: 50, target: 5%})",
            highlight=False,
        )
    suggested = results.suggested_warmup()
    if suggested > results.scenario.warmup + 1e-9:
        err.print(
            f"warning: MSER-5 suggests a warm-up of {suggested:.3g} s for the latencies (the "
            f"scenario has {results.scenario.warmup:g} s)",
            highlight=False,
        )


def _sweep_values(items: list[str], err: Console) -> dict[str, list[Any]]:
    """``--sweep key.path=a,b,c`` → ``{key.path: [a, b, c]}`` (each value read as YAML)."""
    found: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        try:
            values = api.parse_values(raw) if sep and key.strip() else None
        except ValueError as error:
            err.print(f"--sweep {key}: {error}", highlight=False)
            raise typer.Exit(EXIT_INVALID) from None
        if values is None:
            err.print(f"--sweep {item}: expected key.path=a,b,c", highlight=False)
            raise typer.Exit(EXIT_INVALID)
        found[key.strip()] = values
    return found


class _Progress:
    """Progress on stderr: a bar with the time left on a terminal, a line every tenth of the
    runs when stderr is a file or a pipe."""

    def __init__(self, err: Console) -> None:
        self.err = err
        self.done = 0
        self.total = 0
        self._bar: Progress | None = None
        self._task: Any = None
        self._shown = -1

    def __enter__(self) -> _Progress:
        if self.err.is_terminal:
            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=self.err,
                transient=True,
            )
            self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(None, None, None)

    def __call__(self, progress: api.Progress) -> None:
        self.done, self.total = progress.done, progress.total
        if self._bar is not None:
            if self._task is None:
                self._task = self._bar.add_task("runs", total=progress.total)
            self._bar.update(self._task, completed=progress.done)
            return
        step = max(1, progress.total // 10)
        if progress.last is None:
            if progress.resumed:
                self.err.print(f"  {progress.resumed} runs already stored", highlight=False)
            return
        if progress.done == progress.total or progress.done // step > self._shown:
            self._shown = progress.done // step
            self.err.print(f"  {progress.done}/{progress.total} runs done", highlight=False)


def _by_point(results: api.Results, frame: Any) -> list[tuple[str, Any]]:
    """``frame`` split by point (the whole frame without a sweep), with a title each."""
    name = results.scenario.name
    if "point" not in frame:
        return [(name, frame)]
    return [
        (f"{name} @ {point.label}", frame[frame["point"] == point.index])
        for point in results.points
    ]


def _verdict_table(results: api.Results, verdicts: Any) -> Table:
    table = Table(title="SLOs (mean over replications)")
    for column in ("", "pattern", "slo", "value", "margin"):
        table.add_column(column, justify="right" if column in ("value", "margin") else "left")
    labels = {p.index: p.label for p in results.points}
    for row in verdicts.to_dict("records"):
        mark = "[green]✓[/green]" if row["passed"] else "[red]✗[/red]"
        value = api.format_value(str(row["metric"]), float(row["value"]))
        margin = float(row["margin"])
        room = api.format_value(str(row["metric"]), margin) if math.isfinite(margin) else "—"
        name = str(row["pattern"])
        if "point" in row:
            name += f" @ {labels[int(row['point'])]}"
        table.add_row(mark, name, str(row["slo"]), value, room)
    return table


def _rollup_lines(results: api.Results) -> list[str]:
    labels = {p.index: p.label for p in results.points}
    lines = []
    for row in results.rollup.to_dict("records"):
        name = str(row["pattern"])
        if "point" in row:
            name += f" @ {labels[int(row['point'])]}"
        if row["passes"]:
            lines.append(f"  {name}: passes all {row['checks']}")
        else:
            lines.append(
                f"  {name}: fails {row['failed']} of {row['checks']}, first {row['first_failed']}"
            )
    return lines


def _summary_table(results: api.Results, summary: Any, title: str) -> Table:
    compact = len(results.patterns) > 3  # intervals stay in summary.csv and the report
    what = "mean" if compact else "mean [95% CI]"
    table = Table(title=f"{title}: {what} over replications")
    table.add_column("metric")
    for name in results.patterns:
        table.add_column(name, justify="right")
    for metric in dict.fromkeys(summary["metric"]):
        cells = []
        for name in results.patterns:
            found = summary[(summary["pattern"] == name) & (summary["metric"] == metric)]
            if found.empty:  # a component this pattern does not have
                cells.append("—")
                continue
            row = found.iloc[0]
            text = api.format_value(metric, row["mean"])
            if not compact and math.isfinite(row["ci_low"]):
                low, high, clipped = api.shown_interval(metric, row["ci_low"], row["ci_high"])
                mark = "†" if clipped else ""
                text += (
                    f" [{api.format_value(metric, low)}, {api.format_value(metric, high)}]{mark}"
                )
            cells.append(text)
        table.add_row(metric, *cells)
    if not compact:
        table.caption = "† the interval is clipped at what the metric can be: too few replications"
    return table
