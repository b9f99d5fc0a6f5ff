"""A decision: the patterns ranked on weighted criteria, the margin of the winner, and how far
each weight can move before the winner changes.

Each criterion is a metric with a direction and a weight. A pattern's value on it (its mean
over replications; every metric is 0 or more) is scored against the worst option: for a metric
where lower is better, ``1 − value / worst`` — the share of the worst option's cost it avoids,
so 0 for the worst, 1 for a value of 0, and the size of a difference counts, not only its
order; for one where higher is better, ``value / best``. All options equal (or all 0) score 1
each; "never" (an infinite staleness) scores 0, as the worst. A pattern's score is the weighted
mean of its criterion scores, in [0, 1]. With the SLOs as
constraints, a pattern that fails one ranks after every pattern that passes them all, whatever
its score; the winner is the first.

**Margin.** The winner's score minus the runner-up's, replication by replication — each
replication's values scored with the same spans, so only the draws differ and the patterns are
paired — with its Student-t interval: an interval above 0 says the ranking is not the luck of
the draws.

**Sensitivity.** Scores are linear in the weights: changing the weight ``w_k`` of one criterion
by δ changes the winner's lead over pattern j by δ·(s_wk − s_jk) / Σw. For each criterion the
smallest change (within w ≥ 0) that makes some pattern tie with the winner is reported, with
that pattern: "the weight of lost_updates from 3 to 1.2 would make cdc win". A criterion on
which no change alone can flip the ranking says so. Only patterns that meet the constraints can
take the winner's place.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sim.metrics.stats import paired_ci

__all__ = ["Choice", "Criterion", "decide"]


@dataclass(frozen=True)
class Criterion:
    """A metric, which way is better, and its weight."""

    metric: str
    better: str
    weight: float


@dataclass
class Choice:
    """The outcome of a decision at one point."""

    ranking: pd.DataFrame
    """``rank, pattern, score, meets_slos`` and one ``score:<metric>`` column per criterion."""
    margin: tuple[str, str, float, float, float, int] | None
    """``(winner, runner_up, difference, ci_low, ci_high, n)``, or None with one pattern."""
    sensitivity: pd.DataFrame
    """``metric, weight, flip_weight, new_winner`` per criterion (NaN and empty: no flip)."""

    @property
    def winner(self) -> str:
        return str(self.ranking["pattern"].iloc[0])


def _spans(values: Mapping[str, float], better: str) -> tuple[float, float]:
    """``(direction, reference)``: +1 and the worst value when lower is better, -1 and the
    best when higher is better (NaN when no option has a finite value)."""
    finite = [v for v in values.values() if math.isfinite(v)]
    if not finite:
        return math.nan, math.nan
    return (1.0, max(finite)) if better == "lower" else (-1.0, max(finite))


def _score(value: float, direction: float, reference: float) -> float:
    if math.isnan(value):
        return math.nan
    if math.isinf(value) or math.isnan(reference):
        return 0.0 if direction > 0 or math.isnan(reference) else 1.0
    if reference <= 0.0:
        return 1.0  # every option at 0
    return 1.0 - value / reference if direction > 0 else value / reference


def decide(
    patterns: Sequence[str],
    criteria: Sequence[Criterion],
    means: Mapping[tuple[str, str], float],
    per_replication: Mapping[tuple[str, str], Mapping[int, float]],
    meets_slos: Mapping[str, bool],
) -> Choice:
    """Rank ``patterns``; ``means`` and ``per_replication`` are keyed by (pattern, metric)."""
    scores: dict[str, dict[str, float]] = {p: {} for p in patterns}
    spans = {}
    for criterion in criteria:
        values = {p: means.get((p, criterion.metric), math.nan) for p in patterns}
        spans[criterion.metric] = _spans(values, criterion.better)
        for pattern, value in values.items():
            scores[pattern][criterion.metric] = _score(value, *spans[criterion.metric])

    def weighted(of: Mapping[str, float], weights: Mapping[str, float]) -> float:
        parts = [
            (weights[c.metric], of[c.metric]) for c in criteria if not math.isnan(of[c.metric])
        ]
        mass = sum(w for w, _ in parts)
        return sum(w * s for w, s in parts) / mass if mass else math.nan

    weights = {c.metric: c.weight for c in criteria}
    overall = {p: weighted(scores[p], weights) for p in patterns}
    order = sorted(
        patterns,
        key=lambda p: (not meets_slos.get(p, True), -_or(overall[p], -1.0), patterns.index(p)),
    )
    ranking = pd.DataFrame(
        {
            "rank": range(1, len(order) + 1),
            "pattern": order,
            "score": [overall[p] for p in order],
            "meets_slos": [bool(meets_slos.get(p, True)) for p in order],
            **{f"score:{c.metric}": [scores[p][c.metric] for p in order] for c in criteria},
        }
    )
    margin = None
    if len(order) > 1:
        winner, runner = order[0], order[1]
        margin = (
            winner,
            runner,
            *_paired_margin(winner, runner, criteria, spans, weights, per_replication),
        )
    eligible = [p for p in order if meets_slos.get(p, True)] or list(order)
    sensitivity = _sensitivity(order[0], eligible, criteria, scores)
    return Choice(ranking, margin, sensitivity)


def _or(value: float, fallback: float) -> float:
    return fallback if math.isnan(value) else value


def _paired_margin(
    winner: str,
    runner: str,
    criteria: Sequence[Criterion],
    spans: Mapping[str, tuple[float, float]],
    weights: Mapping[str, float],
    per_replication: Mapping[tuple[str, str], Mapping[int, float]],
) -> tuple[float, float, float, int]:
    def replication_scores(pattern: str) -> dict[int, float]:
        found: dict[int, float] = {}
        replications = set.intersection(
            *(set(per_replication.get((pattern, c.metric), {})) for c in criteria)
        )
        for r in sorted(replications):
            parts = [
                (
                    weights[c.metric],
                    _score(per_replication[(pattern, c.metric)][r], *spans[c.metric]),
                )
                for c in criteria
            ]
            parts = [(w, s) for w, s in parts if not math.isnan(s)]
            mass = sum(w for w, _ in parts)
            found[r] = sum(w * s for w, s in parts) / mass if mass else math.nan
        return found

    a, b = replication_scores(winner), replication_scores(runner)
    common = sorted(set(a) & set(b))
    difference, low, high, n = paired_ci([a[r] for r in common], [b[r] for r in common])
    return difference, low, high, n


def _sensitivity(
    winner: str,
    eligible: Sequence[str],
    criteria: Sequence[Criterion],
    scores: Mapping[str, Mapping[str, float]],
) -> pd.DataFrame:
    rows = []
    rivals = [p for p in eligible if p != winner]
    for criterion in criteria:
        best: tuple[float, str] | None = None
        for rival in rivals:
            lead = sum(
                c.weight * (_or(scores[winner][c.metric], 0.0) - _or(scores[rival][c.metric], 0.0))
                for c in criteria
            )
            slope = _or(scores[winner][criterion.metric], 0.0) - _or(
                scores[rival][criterion.metric], 0.0
            )
            if slope == 0.0:
                continue
            delta = -lead / slope
            if criterion.weight + delta < 0:
                continue  # a weight cannot go below 0
            if best is None or abs(delta) < abs(best[0]):
                best = (delta, rival)
        if best is None:
            rows.append((criterion.metric, criterion.weight, math.nan, ""))
        else:
            rows.append((criterion.metric, criterion.weight, criterion.weight + best[0], best[1]))
    return pd.DataFrame(rows, columns=["metric", "weight", "flip_weight", "new_winner"])
