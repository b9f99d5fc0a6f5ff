"""The validation framework: a case is a shipped scenario, its run lengths and its checks.

A :class:`Case` names a scenario file under ``validation/scenarios/``, the arrival rate that
turns a run length in requests into the phase's duration, its :class:`Length` per profile
(``smoke``, ``default``, ``full``; a case without a ``smoke`` length is left out of the smoke
profile) and its checks. :func:`simulate` runs it through :mod:`sim.api` only — the scenario
file with ``--set``-style overrides for the replications and the duration, or, for a case of
several experiments, a sweep over the seed — and every check turns the runs into a
:class:`Row`: the analytic (or measured) value, the simulated value with its 95 % Student-t
interval over replications (``scipy.stats``), the relative error and the verdict by the
check's stated rule.

A case declares what it needs of the model, so that what is missing gives a clear pending row
instead of a crash: a :class:`Feature` is a scenario key the model may not know yet (the
scenario file is refused naming it), and a check's ``needs`` are summary metrics the model may
not output yet. A case made only of such checks asks for a one-replication probe at the smoke
length first, so the full run is not spent on it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import stats

from sim import api

__all__ = [
    "PROFILES",
    "SCENARIOS",
    "Case",
    "Check",
    "Coverage",
    "Feature",
    "Length",
    "Outcome",
    "Row",
    "Runs",
    "interval",
    "simulate",
]

PROFILES = ("smoke", "default", "full")
SCENARIOS = Path(__file__).resolve().parent / "scenarios"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Length:
    """How long a case runs in one profile: replications of ``requests`` requests each (at the
    case's arrival rate), in each of ``experiments`` independent experiments (seeds 0, 1, ...)."""

    replications: int
    requests: int
    experiments: int = 1

    def describe(self) -> str:
        runs = f"{self.replications} × {self.requests:,} requests"
        return f"{self.experiments} experiments × {runs}" if self.experiments > 1 else runs


@dataclass(frozen=True)
class Feature:
    """A scenario key the case's file uses that the model may not have yet: while the model
    refuses it as an unknown key, the case is pending."""

    key: str
    what: str

    def refused(self, error: Exception) -> bool:
        return f"{self.key}: unknown key" in str(error)


@dataclass(frozen=True)
class Row:
    """One checked quantity of a case."""

    quantity: str
    analytic: float | None
    simulated: float | None
    low: float | None
    high: float | None
    rule: str
    passed: bool | None
    """``None``: pending (``note`` says what it needs)."""
    unit: str = ""
    note: str = ""

    @property
    def relative_error(self) -> float | None:
        if self.analytic is None or self.simulated is None or self.analytic == 0:
            return None
        return (self.simulated - self.analytic) / self.analytic


def interval(values: Sequence[float]) -> tuple[float, float, float]:
    """Mean and 95 % Student-t interval of independent replications' values."""
    data = np.asarray(values, dtype=float)
    mean = float(data.mean())
    if len(data) < 2:
        return mean, math.nan, math.nan
    sem = float(stats.sem(data))
    if sem == 0.0:
        return mean, mean, mean
    low, high = stats.t.interval(CONFIDENCE, len(data) - 1, loc=mean, scale=sem)
    return mean, float(low), float(high)


@dataclass
class Runs:
    """What one case's simulation produced."""

    results: api.Results
    warmup: float

    @property
    def metrics(self) -> set[str]:
        return set(self.results.summary["metric"])

    def per_replication(self, value: Callable[[api.RunResult], float]) -> list[float]:
        return [value(run) for run in self.results.runs]

    def measured(self, run: api.RunResult) -> np.ndarray:
        """The latencies of a run's successful requests started after the warm-up."""
        frame = run.requests
        kept = frame[(frame["start"] >= self.warmup) & (frame["outcome"] == "ok")]
        return kept["latency"].to_numpy(float)


Value = Callable[[api.RunResult, Runs], float]
Analytic = float | Callable[[Runs], float]


@dataclass(frozen=True)
class Check:
    """A quantity whose replications' 95 % interval should hold the analytic value: it passes
    when the value lies inside the interval, or when the relative error is below
    ``tolerance`` (a difference too small to matter, for intervals narrower than the bias of a
    finite run's estimator, as a percentile's is)."""

    quantity: str
    analytic: Analytic
    metric: str | None = None
    """A summary metric, read per replication; or ``value``."""
    value: Value | None = None
    unit: str = ""
    tolerance: float = 0.01
    needs: tuple[str, ...] = ()
    """Summary metrics the check reads (``metric`` is always one)."""
    source: str = "the gauges of issue 14, scope 1"
    """Where metrics the model lacks are to come from (said in a pending row)."""

    def required(self) -> tuple[str, ...]:
        return (*self.needs, self.metric) if self.metric else self.needs

    @property
    def rule(self) -> str:
        return f"inside the 95 % interval, or within ±{self.tolerance:.0%}"

    def evaluate(self, runs: Runs) -> Row:
        if set(self.required()) - runs.metrics:
            return _missing(self, runs.metrics)
        if self.value is not None:
            value = self.value
            values = runs.per_replication(lambda run: value(run, runs))
        else:
            name = self.metric or ""
            values = runs.per_replication(lambda run: run.metrics[name])
        truth = self.analytic(runs) if callable(self.analytic) else self.analytic
        mean, low, high = interval(values)
        error = abs(mean - truth) / abs(truth) if truth else abs(mean)
        passed = bool(low <= truth <= high or error < self.tolerance)
        return Row(self.quantity, truth, mean, low, high, self.rule, passed, self.unit)

    def pending(self, need: str) -> Row:
        truth = self.analytic if isinstance(self.analytic, float) else None
        return Row(self.quantity, truth, None, None, None, self.rule, None, self.unit, need)


@dataclass(frozen=True)
class Coverage:
    """Over independent experiments, the share whose 95 % interval on ``metric`` holds the
    analytic value: it passes when 95 % lies inside the share's exact (Clopper–Pearson) 95 %
    binomial interval."""

    quantity: str
    metric: str
    analytic: float
    unit: str = "fraction"
    source: str = ""

    def required(self) -> tuple[str, ...]:
        return (self.metric,)

    rule = "95 % inside the share's Clopper–Pearson 95 % interval"

    def evaluate(self, runs: Runs) -> Row:
        summary = runs.results.summary
        rows = summary[summary["metric"] == self.metric]
        covered = int(
            ((rows["ci_low"] <= self.analytic) & (self.analytic <= rows["ci_high"])).sum()
        )
        total = len(rows)
        found = stats.binomtest(covered, total, CONFIDENCE).proportion_ci(CONFIDENCE, "exact")
        share = covered / total
        passed = bool(found.low <= CONFIDENCE <= found.high)
        note = f"{covered} of {total} intervals hold W = {self.analytic:.6g} s"
        return Row(
            self.quantity,
            CONFIDENCE,
            share,
            found.low,
            found.high,
            self.rule,
            passed,
            self.unit,
            note,
        )

    def pending(self, need: str) -> Row:
        return Row(self.quantity, CONFIDENCE, None, None, None, self.rule, None, self.unit, need)


@dataclass(frozen=True)
class Case:
    """A validation case: a model, the scenario file that configures it, and its checks."""

    slug: str
    title: str
    model: str
    """What is checked and why the analytic value holds (Markdown)."""
    scenario: str
    rate: float
    """Arrivals per second of the scenario's one phase."""
    lengths: dict[str, Length]
    checks: tuple[Check | Coverage, ...]
    feature: Feature | None = None
    probe: bool = False
    """Find out first, by one replication at the smoke length, whether the model outputs the
    metrics every check needs (for a case that is all metrics the model may lack)."""
    notes: str = ""

    @property
    def path(self) -> Path:
        return SCENARIOS / self.scenario

    def overrides(self, length: Length) -> list[str]:
        # six significant digits, written out in full: a duration takes no exponent (1.4e+06s)
        duration = format(float(f"{length.requests / self.rate:.6g}"), "f").rstrip("0").rstrip(".")
        return [f"replications={length.replications}", f"workload.phases[0].duration={duration}s"]


@dataclass
class Outcome:
    """A case run in one profile: its rows, or why it is pending."""

    case: Case
    length: Length
    rows: list[Row] = field(default_factory=list)

    @property
    def counts(self) -> tuple[int, int, int]:
        passed = sum(1 for row in self.rows if row.passed is True)
        failed = sum(1 for row in self.rows if row.passed is False)
        return passed, failed, len(self.rows) - passed - failed


def simulate(case: Case, profile: str, workers: int | None = None) -> Outcome:
    """Run ``case`` at its ``profile`` length and evaluate its checks."""
    length = case.lengths[profile]
    outcome = Outcome(case, length)
    try:
        scenario = api.load(case.path, case.overrides(length))
    except api.ScenarioError as error:
        if case.feature is None or not case.feature.refused(error):
            raise
        need = f"{case.feature.what}: the scenario key `{case.feature.key}`"
        outcome.rows = [check.pending(need) for check in case.checks]
        return outcome
    if case.probe:
        known = _probe(case)
        if all(set(check.required()) - known for check in case.checks):
            outcome.rows = [_missing(check, known) for check in case.checks]
            return outcome
    if length.experiments > 1:
        scenario = api.with_sweep(scenario, {"seed": list(range(length.experiments))})
    results = api.run(scenario, workers=workers)
    runs = Runs(results, scenario.warmup)
    outcome.rows = [check.evaluate(runs) for check in case.checks]
    return outcome


def _probe(case: Case) -> set[str]:
    """The summary metrics a one-replication run of the case outputs."""
    small = case.lengths.get("smoke", Length(1, 1000))
    scenario = api.load(case.path, case.overrides(Length(1, small.requests)))
    return set(api.run(scenario, workers=1).summary["metric"])


def _missing(check: Check | Coverage, known: set[str]) -> Row:
    absent = ", ".join(f"`{name}`" for name in check.required() if name not in known)
    return check.pending(f"the metric {absent}, from {check.source}")
