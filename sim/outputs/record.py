"""``decision.md``: an architecture decision record, from the ranking of a ``decision:`` block.

In the usual ADR form (Nygard's, with MADR's considered options): a title (the question),
the status, the context (the scenario in words and the decision drivers), the options (the
patterns), the decision (the ranking, the winner, the runner-up and the margin with its
interval), the consequences (each pattern's measured bill, with intervals, and its SLO
verdicts) and what would change it (the weight changes that flip the winner, the tightest SLO
margins, and the breaking points when a capacity search ran). Plain Markdown: tables, lists,
no HTML, so it reads well on a code host.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

import sim
from sim.metrics.decision import Choice
from sim.metrics.summarize import format_value, shown_interval
from sim.report.words import describe_pattern, describe_scenario
from sim.results import Results

__all__ = ["decision_record"]


def _md(text: object) -> str:
    """Text safe inside a Markdown table cell or a line: no pipes, no line breaks, no HTML, no
    emphasis (underscores inside words and brackets stay as they are)."""
    out = str(text).replace("\\", "\\\\").replace("\n", " ")
    for char in "|*`<>":
        out = out.replace(char, "\\" + char)
    return out


def _code(text: object) -> str:
    return "`" + str(text).replace("`", "'").replace("|", "\\|") + "`"


def _value(metric: str, mean: float, low: float, high: float) -> str:
    text = format_value(metric, mean)
    if math.isfinite(low) and math.isfinite(high) and math.isfinite(mean):
        low, high, clipped = shown_interval(metric, low, high)
        text += (
            f" [{format_value(metric, low)}, {format_value(metric, high)}]{'†' if clipped else ''}"
        )
    return text


def decision_record(results: Results, capacity: pd.DataFrame | None = None) -> str:
    """The whole ``decision.md``; ``capacity`` is the breaking-point table of a capacity
    search, when one ran."""
    scenario = results.scenario
    decision = scenario.decision
    assert decision is not None
    names = results.patterns
    question = decision.question or (
        f"How should {', '.join(scenario.data.replica_services()) or 'the other services'} "
        f"get {' and '.join(scenario.data.owners())}'s data?"
    )
    lines = [f"# {_md(question)}", ""]
    lines += [
        f"- Status: proposed, from a simulation (patternsim {sim.__version__}, scenario "
        f"{_code(scenario.name)}, seed {scenario.seed})",
        f"- Options: {', '.join(_code(n) for n in names)}",
        "",
        "## Context",
        "",
        " ".join(_md(sentence) for sentence in describe_scenario(scenario)),
        "",
        "Decision drivers: on each, an option scores the share of the worst option's cost it "
        "avoids (1 − value / worst; value / best where higher is better), and its score is the "
        "weighted mean:",
        "",
        "| criterion | better | weight |",
        "|---|---|---|",
        *(f"| {_code(c.metric)} | {c.direction} | {c.weight:g} |" for c in decision.criteria),
        "",
    ]
    if decision.constraints == "slo" and scenario.slo:
        lines += [
            "Constraints: every SLO must hold (a pattern that fails one ranks after every "
            "pattern that meets them all).",
            "",
        ]
    lines += ["## Considered options", ""]
    lines += [f"- {_code(n)}: {_md(describe_pattern(scenario, n))}." for n in names]
    lines.append("")
    labels = {p.index: p.label for p in results.points}
    for index, choice in results.decisions.items():
        where = f" at {labels[index]}" if results.swept else ""
        lines += _decision(choice, where, bool(scenario.slo))
        lines += _consequences(results, index, where)
        lines += _what_would_change(results, choice, index, capacity)
    return "\n".join(lines).rstrip() + "\n"


def _decision(choice: Choice, where: str, has_slos: bool) -> list[str]:
    ranking = choice.ranking
    criteria = [c for c in ranking.columns if c.startswith("score:")]
    lines = [f"## Decision{_md(where)}", ""]
    winner = choice.winner
    if choice.margin is None:
        lines += [f"Chosen: {_code(winner)}, the only option.", ""]
    else:
        _, runner, diff, low, high, n = choice.margin
        top = ranking.iloc[0]
        second = ranking.iloc[1]
        lines.append(
            f"Chosen: **{_md(winner)}**, score {top['score']:.3f}, ahead of the runner-up "
            f"**{_md(runner)}** ({second['score']:.3f})."
        )
        if math.isfinite(low) and math.isfinite(high):
            verdict = (
                "beyond the noise: the ranking is not the luck of the draws"
                if low > 0
                else "within the noise: more replications could reverse it"
            )
            lines.append(
                f"The margin is {diff:.3f} [{low:.3f}, {high:.3f}] (95 %, paired over {n} "
                f"replications on the same draws), {verdict}."
            )
        else:
            lines.append(f"The margin is {diff:.3f} (one replication: no interval).")
        if not bool(top["meets_slos"]):
            lines.append("No option meets every SLO: the ranking is by score alone.")
        elif not bool(second["meets_slos"]):
            lines.append(f"{_code(runner)} fails an SLO: it ranks second on the constraints.")
        lines.append("")
    head = ["rank", "pattern", "score", *(["meets the SLOs"] if has_slos else [])]
    head += [_code(c.removeprefix("score:")) for c in criteria]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in ranking.to_dict("records"):
        cells = [
            str(row["rank"]),
            _code(row["pattern"]),
            f"{row['score']:.3f}",
            *((["yes" if row["meets_slos"] else "no"]) if has_slos else []),
            *(f"{row[c]:.2f}" if math.isfinite(row[c]) else "—" for c in criteria),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def _at(frame: pd.DataFrame, index: int) -> pd.DataFrame:
    return frame[frame["point"] == index] if "point" in frame else frame


def _consequences(results: Results, index: int, where: str) -> list[str]:
    scenario = results.scenario
    assert scenario.decision is not None
    summary = _at(results.summary, index)
    verdicts = _at(results.verdicts, index)
    metrics = list(dict.fromkeys([c.metric for c in scenario.decision.criteria]))
    metrics += [
        m
        for m in ("latency_p99", "error_rate", "staleness_p99", "lost_updates")
        if m not in metrics
    ]
    lines = [
        f"## Consequences{_md(where)}",
        "",
        "Each option's measured bill: mean over replications, 95 % interval in brackets († "
        "clipped at what the metric can be).",
        "",
        "| pattern | " + " | ".join(_code(m) for m in metrics) + " |",
        "|" + "---|" * (1 + len(metrics)),
    ]
    cells: dict[tuple[str, str], Any] = {
        (str(r["pattern"]), str(r["metric"])): r for r in summary.to_dict("records")
    }
    for name in results.patterns:
        row = []
        for metric in metrics:
            found = cells.get((name, metric))
            row.append(
                "—"
                if found is None
                else _md(_value(metric, found["mean"], found["ci_low"], found["ci_high"]))
            )
        lines.append(f"| {_code(name)} | " + " | ".join(row) + " |")
    lines.append("")
    if len(verdicts):
        for name in results.patterns:
            mine = verdicts[verdicts["pattern"] == name]
            failed = mine[~mine["passed"].astype(bool)]
            if failed.empty:
                lines.append(f"- {_code(name)} meets every SLO ({len(mine)}).")
            else:
                shown = "; ".join(
                    f"{_code(r['slo'])} at {_md(format_value(str(r['metric']), float(r['value'])))}"
                    for r in failed.to_dict("records")
                )
                lines.append(f"- {_code(name)} fails {len(failed)} of {len(mine)}: {shown}.")
        lines.append("")
    return lines


def _what_would_change(
    results: Results, choice: Choice, index: int, capacity: pd.DataFrame | None
) -> list[str]:
    lines = ["## What would change it", ""]
    for row in choice.sensitivity.to_dict("records"):
        metric, weight, flip, rival = (
            row["metric"],
            row["weight"],
            row["flip_weight"],
            row["new_winner"],
        )
        if math.isfinite(flip):
            lines.append(
                f"- The weight of {_code(metric)} from {weight:g} to {flip:.3g} would make "
                f"{_code(rival)} tie with {_code(choice.winner)}; beyond, {_code(rival)} wins."
            )
        else:
            lines.append(f"- No change to the weight of {_code(metric)} alone changes the winner.")
    verdicts = _at(results.verdicts, index)
    mine = verdicts[(verdicts["pattern"] == choice.winner) & verdicts["passed"].astype(bool)]
    mine = mine[~mine["slo"].str.contains("==|!=", regex=True)]  # no room to measure
    if len(mine):
        tightest = min(
            mine.to_dict("records"),
            key=lambda r: abs(float(r["margin"])) / max(abs(float(r["value"])), 1e-12),
        )
        lines.append(
            f"- {_code(choice.winner)}'s tightest SLO is {_code(tightest['slo'])}: "
            f"{_md(format_value(str(tightest['metric']), float(tightest['value'])))}, "
            f"{_md(format_value(str(tightest['metric']), float(tightest['margin'])))} from the threshold."
        )
    if capacity is not None and len(capacity):
        lines += [
            "",
            "Breaking points (the load multiplier at which each stops meeting its SLOs):",
            "",
        ]
        lines += [
            "| pattern | passes up to | fails from | offered rate | broke first |",
            "|---|---|---|---|---|",
        ]
        for row in capacity.to_dict("records"):
            low, high = float(row["low"]), float(row["high"])
            lines.append(
                f"| {_code(row['pattern'])} | {'× ' + format(low, '.3g') if math.isfinite(low) else '—'} "
                f"| {'× ' + format(high, '.3g') if math.isfinite(high) else str(row['status'])} "
                f"| {_rate_range(row)} | {_code(row['broke_first']) if row['broke_first'] else '—'} |"
            )
    lines.append("")
    return lines


def _rate_range(row: Any) -> str:
    low, high = float(row["low_rate"]), float(row["high_rate"])
    if math.isfinite(low) and math.isfinite(high):
        return f"{low:.4g}–{high:.4g}/s"
    return str(row["status"])
