"""Comparing two run folders: what changed, whether it is beyond the noise, and whether a
watched metric regressed past its threshold (for CI, as k6's thresholds are used).

Each folder's ``manifest.json`` says what it is a run of; folders of different scenarios (a
different hash) are still compared metric by metric, and the comparison says so. For every
(point, pattern, metric) in both folders: the means, the change (B − A, and relative to A),
and a 95 % interval of the change from the replications (``replications.csv``). When both runs
have the same seed, replication r of each used the same draws where their paths coincide, so
the change is taken replication by replication (paired); otherwise it is Welch's interval of
two independent means. A change is *beyond the noise* when its interval excludes 0.

A rule (``--fail-on``) is ``METRIC CHANGE``: ``p99(latency) +10%`` fails when the p99 latency
rose by more than 10 % of A's value; ``throughput -5%`` when it fell by more than 5 %;
``p99(staleness) +200ms`` by more than 200 ms (the metric's unit: a duration, a rate, a count,
or ``pp`` percentage points for a fraction: ``error_rate +0.5pp``). Without a sign, the
direction is the metric's worse one. A rule fails only on a change beyond the noise.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from sim.kernel.units import UnitError, parse_duration, parse_rate
from sim.metrics.catalog import known_metrics
from sim.metrics.slo import SloError, base_metric, subject_metric
from sim.metrics.stats import paired_ci, welch_ci
from sim.outputs import Manifest

__all__ = ["Comparison", "RegressionRule", "RuleError", "compare_folders", "parse_rule"]

_RULE = re.compile(
    r"^\s*(?P<subject>\S.*?)\s+(?P<sign>[+-]?)\s*(?P<amount>\d[^%\s]*?)(?P<unit>%|pp)?\s*$"
)


class RuleError(ValueError):
    """A ``--fail-on`` rule that does not parse."""


@dataclass(frozen=True)
class RegressionRule:
    """``metric`` regresses when it moves by more than ``amount`` in ``direction``."""

    text: str
    metric: str
    direction: int
    """+1: a rise is a regression; -1: a fall."""
    amount: float
    relative: bool
    """``amount`` is a share of A's value (``10%``), else an absolute change."""

    def regressed(self, a: float, change: float) -> bool:
        moved = change * self.direction
        limit = self.amount * abs(a) if self.relative else self.amount
        return moved > limit


def parse_rule(text: str) -> RegressionRule:
    """Parse ``p99(latency) +10%``; raise :class:`RuleError` saying what is expected."""
    match = _RULE.match(text)
    if match is None:
        raise RuleError(
            f"expected METRIC CHANGE such as 'p99(latency) +10%' or 'throughput -5%' (got {text!r})"
        )
    subject = match.group("subject")
    try:
        metric = subject_metric(subject)
    except SloError as error:
        raise RuleError(str(error)) from None
    found = known_metrics()[metric]
    sign = match.group("sign")
    worse = 1 if found.better == "lower" else -1
    direction = worse if not sign else (1 if sign == "+" else -1)
    raw, unit = match.group("amount"), match.group("unit")
    try:
        if unit == "%":
            amount, relative = float(raw) / 100.0, True
        elif unit == "pp":
            if found.unit != "fraction":
                raise RuleError(f"pp (percentage points) is for fractions, not {metric}")
            amount, relative = float(raw) / 100.0, False
        elif found.unit == "s":
            amount, relative = parse_duration(raw), False
        elif found.unit == "1/s":
            amount, relative = parse_rate(raw), False
        else:
            amount, relative = float(raw), False
    except (UnitError, ValueError) as error:
        raise RuleError(f"{text!r}: {error}") from None
    return RegressionRule(text.strip(), metric, direction, amount, relative)


@dataclass
class Comparison:
    """Two run folders, metric by metric."""

    a: Path
    b: Path
    same_scenario: bool
    notes: list[str]
    table: pd.DataFrame
    """``[point,] pattern, metric, a, b, change, relative, ci_low, ci_high, beyond_noise,
    method``."""
    failures: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The rows that broke a rule, with the rule: ``rule, pattern, metric, a, b, change``."""


def _read(folder: Path) -> tuple[Manifest | None, pd.DataFrame, pd.DataFrame]:
    summary_path = folder / "summary.csv"
    if not summary_path.exists():
        raise FileNotFoundError(f"{folder} is not a run folder: it has no summary.csv")
    summary = pd.read_csv(summary_path)
    replications_path = folder / "replications.csv"
    replications = pd.read_csv(replications_path) if replications_path.exists() else pd.DataFrame()
    return Manifest.read(folder), summary, replications


def compare_folders(a: Path, b: Path, rules: list[RegressionRule] | None = None) -> Comparison:
    """Compare run folder ``b`` against ``a`` (see the module docstring)."""
    manifest_a, summary_a, reps_a = _read(a)
    manifest_b, summary_b, reps_b = _read(b)
    notes = []
    same = (
        manifest_a is not None
        and manifest_b is not None
        and manifest_a.scenario_hash == manifest_b.scenario_hash
    )
    if manifest_a is None or manifest_b is None:
        notes.append(
            "a folder has no manifest.json: cannot tell whether the scenarios are the same"
        )
    elif not same:
        notes.append(
            f"the runs are of different scenarios: {manifest_a.scenario!r} (hash "
            f"{manifest_a.scenario_hash[:12]}) and {manifest_b.scenario!r} (hash "
            f"{manifest_b.scenario_hash[:12]}); compared metric by metric where both have it"
        )
    paired = (
        manifest_a is not None and manifest_b is not None and manifest_a.seed == manifest_b.seed
    )
    keys = (
        ["point", "pattern", "metric"]
        if "point" in summary_a and "point" in summary_b
        else ["pattern", "metric"]
    )
    both = summary_a.merge(summary_b, on=keys, suffixes=("_a", "_b"))
    rows = []
    for row in both.to_dict("records"):
        a_mean, b_mean = float(row["mean_a"]), float(row["mean_b"])
        if int(row["n_a"]) == 0 and int(row["n_b"]) == 0:
            continue  # a metric this pattern does not have (another pattern's own)
        change = b_mean - a_mean if math.isfinite(a_mean) and math.isfinite(b_mean) else math.nan
        relative = change / abs(a_mean) if math.isfinite(change) and a_mean != 0 else math.nan
        low, high, method = _interval(row, keys, reps_a, reps_b, paired)
        beyond = bool(math.isfinite(low) and math.isfinite(high) and (low > 0 or high < 0))
        rows.append(
            (*(row[k] for k in keys), a_mean, b_mean, change, relative, low, high, beyond, method)
        )
    columns = [*keys, "a", "b", "change", "relative", "ci_low", "ci_high", "beyond_noise", "method"]
    table = pd.DataFrame(rows, columns=columns)
    failures = _failures(table, rules or [])
    return Comparison(a, b, same, notes, table, failures)


def _interval(
    row: Mapping[Any, Any],
    keys: list[str],
    reps_a: pd.DataFrame,
    reps_b: pd.DataFrame,
    paired: bool,
) -> tuple[float, float, str]:
    if reps_a.empty or reps_b.empty:
        return math.nan, math.nan, "none"

    def values(frame: pd.DataFrame) -> pd.Series:
        mask = pd.Series(True, index=frame.index)
        for key in keys:
            mask &= frame[key] == row[key]
        return frame[mask].set_index("replication")["value"]

    x, y = values(reps_a), values(reps_b)
    common = sorted(set(x.index) & set(y.index))
    if paired and len(common) >= 2:
        _, low, high, _ = paired_ci([float(y[r]) for r in common], [float(x[r]) for r in common])
        return low, high, "paired"
    _, low, high = welch_ci(list(y.astype(float)), list(x.astype(float)))
    return low, high, "welch"


def _failures(table: pd.DataFrame, rules: list[RegressionRule]) -> pd.DataFrame:
    rows = []
    for rule in rules:
        mine = table[table["metric"].map(base_metric) == rule.metric]
        mine = mine[mine["metric"] == rule.metric]  # the whole-run metric, not a slice of it
        for row in mine.to_dict("records"):
            change = float(row["change"])
            if not math.isfinite(change) or not row["beyond_noise"]:
                continue
            if rule.regressed(float(row["a"]), change):
                rows.append((rule.text, row["pattern"], row["metric"], row["a"], row["b"], change))
    return pd.DataFrame(rows, columns=["rule", "pattern", "metric", "a", "b", "change"])
