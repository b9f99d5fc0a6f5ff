"""What the report says, before any HTML: the question, the verdicts, the decision, the table.

:func:`report_view` turns :class:`sim.results.Results` into a :class:`ReportView` of plain
strings and numbers — the question in words, a pattern × SLO grid with margins and a roll-up
per pattern (first failure and why, in words), the ranking of a ``decision:`` block with its
margin and what would change it, the best and worst option per metric family, the warnings a
reader must see (few replications, clipped intervals, faults that reach nothing, patterns
that coincide), and the summary table in human units. The page template only lays it out.

**Variants**: without a sweep, one per pattern, in the order the scenario lists them; with a
sweep, one per (point, pattern), points in the order written (``polling @ poll_interval=5s``).
Each variant's colour follows its pattern kind (:mod:`sim.report.style`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from sim.config.model import Scenario
from sim.metrics.summarize import format_value
from sim.report.style import Look, looks_for
from sim.report.table import Cell, TableRow, summary_rows
from sim.report.tradeoffs import INTEGRITY
from sim.report.words import describe_scenario, seconds
from sim.results import Results

__all__ = [
    "Cell",
    "DecisionView",
    "GridRow",
    "ReportView",
    "TableRow",
    "relabel",
    "report_view",
    "scenario_looks",
    "variant_looks",
]

FEW = 5
"""Below this many replications the page warns that the intervals cannot be trusted."""
_FAMILIES = (
    ("latency", "latency_p99", "p99 latency"),
    ("availability", "error_rate", "error rate"),
    ("freshness", "staleness_p99", "p99 staleness"),
    ("integrity", "integrity", "lost + duplicated + reordered + phantom + divergent"),
)


@dataclass(frozen=True)
class GridRow:
    name: str
    color: str
    cells: list[Cell]
    passes: bool
    verdict: str
    """``passes all 5`` or ``fails 2 of 5``."""
    why: str
    """The first failure in words (empty when it passes all)."""


@dataclass(frozen=True)
class DecisionView:
    where: str
    winner: str
    summary: str
    margin: str
    ranking: list[tuple[int, str, str, bool | None]]
    changes: list[str]


@dataclass
class ReportView:
    title: str
    question: str
    context: list[str]
    facts: list[tuple[str, str]]
    looks: dict[str, Look]
    slos: list[str] = field(default_factory=list)
    grid: list[GridRow] = field(default_factory=list)
    decisions: list[DecisionView] = field(default_factory=list)
    glance: list[str] = field(default_factory=list)
    paired: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    table: list[TableRow] = field(default_factory=list)
    few: bool = False


def relabel(results: Results, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with each (pattern, point) as one variant name, ``polling @ poll_interval=1s``
    (as it is without a sweep)."""
    if not results.swept or frame.empty or "point" not in frame:
        return frame
    labels = {p.index: p.label for p in results.points}
    variant = [
        f"{pattern} @ {labels[int(point)]}"
        for pattern, point in zip(frame["pattern"], frame["point"], strict=True)
    ]
    return frame.drop(columns=results.point_columns).assign(pattern=variant)


def variant_looks(results: Results) -> dict[str, Look]:
    """The look of every variant of ``results``, in the order written."""
    return scenario_looks(
        results.scenario,
        results.patterns,
        [p.label for p in results.points] if results.swept else None,
    )


def scenario_looks(
    scenario: Scenario, patterns: list[str], points: list[str] | None = None
) -> dict[str, Look]:
    """The look of each pattern run (``patterns``) of ``scenario``, or of each (point,
    pattern) with the sweep's point labels: the colour follows the kind."""
    kinds = dict(zip(scenario.pattern_names(), (p.kind for p in scenario.patterns), strict=True))
    if points is None:
        return looks_for((name, kinds[name]) for name in patterns)
    return looks_for((f"{name} @ {label}", kinds[name]) for label in points for name in patterns)


def _question(results: Results) -> str:
    scenario = results.scenario
    if scenario.decision is not None and scenario.decision.question:
        return scenario.decision.question
    copies = scenario.data.replica_services()
    who = (
        " and ".join([", ".join(copies[:-1]), copies[-1]] if len(copies) > 1 else copies)
        or "the other services"
    )
    faults = (
        f", with {len(scenario.faults)} fault{'s' if len(scenario.faults) != 1 else ''}"
        if scenario.faults
        else ""
    )
    phases = scenario.workload.phases
    rates = [p.rate for p in phases if p.rate is not None] + [
        p.ramp_to for p in phases if p.ramp_to
    ]
    users = [p.closed.users for p in phases if p.closed is not None]
    shown = []
    if rates:
        shown.append(
            f"{min(rates):.4g}/s"
            if min(rates) == max(rates)
            else f"{min(rates):.4g}–{max(rates):.4g}/s"
        )
    if users:
        count = max(users)
        shown.append(f"{count} user{'s' if count != 1 else ''}")
    if any(p.trace is not None for p in phases):
        shown.append("a replayed trace")
    load = " and ".join(shown)
    owners = scenario.data.owners()
    owner = owners[0] if len(owners) == 1 else "their owners"
    whose = f"{owner}'" if owner.endswith("s") else f"{owner}'s"
    count = len(variant_looks(results))
    return (
        f"How should {who} get {whose} data at {load}{faults}? "
        f"{count} option{'s' if count != 1 else ''} compared."
    )


def _why(record: dict) -> str:
    metric, value, margin = str(record["metric"]), float(record["value"]), float(record["margin"])
    shown = format_value(metric, value)
    if math.isnan(value):
        return f"{record['slo']}: not measured for this pattern"
    if math.isinf(value):
        return f"{record['slo']}: some changes never arrive"
    if math.isfinite(margin):
        return f"{record['slo']}: measured {shown}, misses by {format_value(metric, abs(margin))}"
    return f"{record['slo']}: measured {shown}"


def _grid(results: Results, looks: dict[str, Look]) -> tuple[list[str], list[GridRow]]:
    verdicts = relabel(results, results.verdicts)
    if verdicts.empty:
        return [], []
    slos = list(dict.fromkeys(verdicts["slo"].astype(str)))
    rows = []
    for look in looks.values():
        mine = verdicts[verdicts["pattern"].astype(str) == look.name]
        by_slo = {str(r["slo"]): r for r in mine.to_dict("records")}
        cells = []
        for slo in slos:
            r = by_slo.get(slo)
            if r is None:
                cells.append(Cell("—"))
                continue
            metric, margin = str(r["metric"]), float(r["margin"])
            room = format_value(metric, abs(margin)) if math.isfinite(margin) else ""
            said = ("room " if r["passed"] else "misses by ") + room if room else ""
            if not room and not r["passed"]:
                said = (
                    "misses by all: never arrives"
                    if math.isinf(float(r["value"]))
                    else "misses: not measured"
                )
            cells.append(
                Cell(
                    format_value(metric, float(r["value"])),
                    said,
                    bool(r["passed"]),
                    title=f"{slo}: margin {format_value(metric, margin)}",
                )
            )
        failed = [r for r in mine.to_dict("records") if not bool(r["passed"])]
        verdict = f"passes all {len(mine)}" if not failed else f"fails {len(failed)} of {len(mine)}"
        rows.append(
            GridRow(
                look.name, look.color, cells, not failed, verdict, _why(failed[0]) if failed else ""
            )
        )
    return slos, rows


def _decisions(results: Results) -> list[DecisionView]:
    views = []
    labels = {p.index: p.label for p in results.points}
    has_slos = bool(results.scenario.slo)
    for index, choice in results.decisions.items():
        where = f"at {labels[index]}" if results.swept else ""
        ranking = [
            (
                int(r["rank"]),
                str(r["pattern"]),
                f"{float(r['score']):.3f}",
                bool(r["meets_slos"]) if has_slos else None,
            )
            for r in choice.ranking.to_dict("records")
        ]
        winner = choice.winner
        if choice.margin is None:
            summary, margin = f"{winner} is the only option.", ""
        else:
            _, runner, diff, low, high, n = choice.margin
            summary = f"{winner} wins, ahead of {runner}."
            if math.isfinite(low) and math.isfinite(high):
                noise = (
                    "beyond the noise"
                    if low > 0
                    else "within the noise: more replications could reverse it"
                )
                margin = f"margin {diff:.3f} [{low:.3f}, {high:.3f}] (95 %, paired over {n} replications), {noise}"
            else:
                margin = f"margin {diff:.3f} (one replication: no interval)"
        changes = []
        for r in choice.sensitivity.to_dict("records"):
            flip = float(r["flip_weight"])
            if math.isfinite(flip):
                changes.append(
                    f"the weight of {r['metric']} from {float(r['weight']):g} to {flip:.3g} makes {r['new_winner']} tie"
                )
            else:
                changes.append(f"no change to the weight of {r['metric']} alone changes the winner")
        views.append(DecisionView(where, winner, summary, margin, ranking, changes))
    return views


def _means(summary: pd.DataFrame) -> dict[tuple[str, str], float]:
    return {
        (str(p), str(m)): float(v)
        for p, m, v in zip(summary["pattern"], summary["metric"], summary["mean"], strict=True)
    }


def _glance(summary: pd.DataFrame, looks: dict[str, Look]) -> list[str]:
    means = _means(summary)
    lines = []
    for family, metric, words in _FAMILIES:
        values = {}
        for name in looks:
            if metric == "integrity":
                parts = [means.get((name, m), math.nan) for m in INTEGRITY]
                parts = [v for v in parts if math.isfinite(v)]
                if parts:
                    values[name] = sum(parts)
            elif not math.isnan(means.get((name, metric), math.nan)):
                values[name] = means[(name, metric)]
        if not values:
            continue

        def show(value: float, metric: str = metric) -> str:
            return f"{value:,.4g} per run" if metric == "integrity" else format_value(metric, value)

        best = min(values, key=lambda n: values[n])
        worst = max(values, key=lambda n: values[n])
        if values[best] == values[worst]:
            lines.append(f"{family} ({words}): every option at {show(values[best])}")
        else:
            lines.append(
                f"{family} ({words}): best {best}, {show(values[best])}; worst {worst}, {show(values[worst])}"
            )
    return lines


def _paired(results: Results) -> list[str]:
    compare = relabel(results, results.compare)
    if compare.empty or results.decisions:
        return []
    lines = []
    for r in compare[
        compare["metric"].isin(["latency_p99", "staleness_p99", "error_rate"])
    ].to_dict("records"):
        low, high, metric = float(r["ci_low"]), float(r["ci_high"]), str(r["metric"])
        if not (math.isfinite(low) and math.isfinite(high)):
            continue
        beyond = "beyond the noise" if low > 0 or high < 0 else "within the noise"
        lines.append(
            f"{r['pattern_a']} − {r['pattern_b']} on {metric}: {format_value(metric, float(r['diff']))} "
            f"[{format_value(metric, low)}, {format_value(metric, high)}], {beyond}"
        )
    return lines[:12]


def _coinciding(summary: pd.DataFrame, looks: dict[str, Look]) -> list[list[str]]:
    table = summary.pivot_table(
        index="pattern", columns="metric", values="mean", aggfunc="first", dropna=False
    )
    groups: dict[tuple, list[str]] = {}
    for name in looks:
        if name in table.index:
            groups.setdefault(tuple(table.loc[name].fillna(-1.0).round(12)), []).append(name)
    return [g for g in groups.values() if len(g) > 1]


def report_view(results: Results) -> ReportView:
    """Everything the page says about ``results``."""
    scenario = results.scenario
    looks = variant_looks(results)
    summary = relabel(results, results.summary)
    counted = summary[summary["n"] > 0]
    n = int(counted["n"].min()) if len(counted) else 0
    facts = [
        ("scenario", scenario.name),
        ("seed", str(scenario.seed)),
        ("replications", f"{n} per pattern" if len(summary) else "—"),
        ("warm-up", seconds(scenario.warmup)),
        ("load ends", seconds(scenario.workload.load_duration)),
    ]
    if results.swept:
        facts.append(
            ("sweep", f"{len(results.points)} points over {', '.join(results.point_columns[1:])}")
        )
    slos, grid = _grid(results, looks)
    view = ReportView(
        title=f"patternsim: {scenario.name}",
        question=_question(results),
        context=describe_scenario(scenario),
        facts=facts,
        looks=looks,
        slos=slos,
        grid=grid,
        decisions=_decisions(results),
        glance=_glance(summary, looks),
        paired=_paired(results),
        table=summary_rows(summary, looks),
        few=0 < n < FEW,
    )
    if view.few:
        view.warnings.append(
            f"Only {n} replication{'s' if n != 1 else ''} per pattern: the 95 % intervals are wide "
            f"and the Student-t interval may not fit; run {FEW} or more before deciding."
        )
    if any(c.flag for row in view.table for c in row.cells):
        view.warnings.append(
            "† marks an interval clipped at what the metric can be (a count below 0): the t-interval does not fit there."
        )
    for fault, names in results.not_applied.items():
        view.warnings.append(
            f"The fault {fault} reaches nothing in {', '.join(names)}: those patterns ran without it."
        )
    for group in _coinciding(summary, looks):
        view.warnings.append(
            f"{' and '.join(group)} give identical figures on every metric: their curves coincide."
        )
    suggested = results.suggested_warmup()
    if math.isfinite(suggested) and suggested > scenario.warmup:
        view.warnings.append(
            f"MSER-5 suggests a warm-up of {seconds(suggested)} (the scenario uses {seconds(scenario.warmup)})."
        )
    return view
