"""The results of a scenario: every run, the summary across replications and the verdicts.

A scenario with a ``sweep:`` block has several points (:mod:`sim.scenario.points`); every
table then starts with the point's columns — ``point`` (its index, in the order written) and
one column per swept path with the value as written (``poll_interval``: ``5s``) — and holds
the rows of every point. Without a sweep the tables have no point columns.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from sim.config.model import Scenario
from sim.kernel.rng import Streams
from sim.metrics.catalog import Metric, metrics_for
from sim.metrics.decision import Choice, Criterion, decide
from sim.metrics.paired import paired_differences
from sim.metrics.slo import OCCUPANCY_METRICS
from sim.metrics.stats import mser5
from sim.metrics.summarize import summarize
from sim.metrics.verdicts import evaluate, rollup
from sim.metrics.windows import judged_windows, sliced_value
from sim.patterns import model_class
from sim.runner import RunResult
from sim.scenario import Point, cell, column_names, points

__all__ = ["Results", "as_text"]


@dataclass
class Results:
    """Every run of a scenario, with the summary across replications."""

    scenario: Scenario
    patterns: list[str]
    runs: list[RunResult]
    summary: pd.DataFrame
    metrics: list[Metric]
    """The summary's metrics, in order, with their units and meanings."""
    verdicts: pd.DataFrame
    """Each pattern against each SLO of the scenario (empty when it has none):
    ``pattern, slo, metric, value, ci_low, ci_high, passed``."""
    points: list[Point] = field(default_factory=list)
    """The scenario's points (one, without a sweep)."""
    compare: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Paired differences between patterns at each point (:mod:`sim.metrics.paired`):
    ``pattern_a, pattern_b, metric, diff, ci_low, ci_high, n``."""
    baseline: str | None = None
    """The pattern the differences are taken against (every pair, when None)."""
    warmup_mser5: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per pattern (and point), the warm-up MSER-5 suggests: ``pattern, replication,
    truncated, warmup`` (requests dropped, and the start time of the first one kept)."""
    rollup: pd.DataFrame = field(default_factory=pd.DataFrame)
    """Per pattern (and point): ``pattern, checks, failed, passes, first_failed``."""
    decisions: dict[int, Choice] = field(default_factory=dict)
    """With a ``decision:`` block: the ranking at each point (by point index)."""

    @classmethod
    def build(
        cls,
        scenario: Scenario,
        patterns: Sequence[str],
        runs: Sequence[RunResult],
        baseline: str | None = None,
    ) -> Results:
        """Summarize ``runs`` (in any order) of ``patterns`` over the scenario's points."""
        chosen = list(patterns)
        all_points = points(scenario)
        names = scenario.pattern_names()
        kinds = [scenario.patterns[names.index(name)].kind for name in chosen]
        metrics = metrics_for(model_class(kind) for kind in kinds)
        order = {name: i for i, name in enumerate(chosen)}
        ordered = sorted(runs, key=lambda r: (r.point, order[r.pattern], r.replication))
        summaries, verdicts, differences, warmups = [], [], [], []
        metric_names = [m.name for m in metrics]
        metric_names += dict.fromkeys(  # each component's gauges (utilisation{service:X}, ...)
            name for run in ordered for name in run.metrics if "{" in name
        )
        rollups = []
        decisions: dict[int, Choice] = {}
        for point in all_points:
            mine = [r for r in ordered if r.point == point.index]
            assert point.scenario is not None
            judged = _judged(point.scenario, mine, point.key)
            summary = _own_components(
                summarize(((r.pattern, r.metrics) for r in mine), metric_names), mine
            )
            if judged:
                keys = list(dict.fromkeys(k for values in judged.values() for k in values))
                extra = summarize(((r.pattern, judged[id(r)]) for r in mine), keys)
                summary = pd.concat([summary, extra], ignore_index=True)
            checks = evaluate(list(point.scenario.slo), summary, chosen)
            rolled = rollup(checks, chosen)
            rollups.append(_with_point(rolled, point, scenario))
            if point.scenario.decision is not None:
                decisions[point.index] = _decide(point.scenario, chosen, summary, mine, rolled)
            paired = paired_differences(
                ((r.pattern, r.replication, r.metrics) for r in mine),
                chosen,
                metric_names,
                baseline,
            )
            paired = _own_components(paired, mine, ("pattern_a", "pattern_b"))
            summaries.append(_with_point(summary, point, scenario))
            verdicts.append(_with_point(checks, point, scenario))
            differences.append(_with_point(paired, point, scenario))
            warmups.append(_with_point(_mser5_table(mine), point, scenario))
        return cls(
            scenario,
            chosen,
            ordered,
            pd.concat(summaries, ignore_index=True),
            metrics,
            pd.concat(verdicts, ignore_index=True),
            all_points,
            pd.concat(differences, ignore_index=True),
            baseline,
            pd.concat(warmups, ignore_index=True),
            pd.concat(rollups, ignore_index=True),
            decisions,
        )

    def suggested_warmup(self) -> float:
        """The largest warm-up MSER-5 suggests over every run (seconds; 0 when no run has
        enough requests to judge)."""
        found = self.warmup_mser5
        if found.empty:
            return 0.0
        return float(found["warmup"].max())

    @property
    def swept(self) -> bool:
        """True when the scenario has a ``sweep:`` block."""
        return self.scenario.sweep is not None

    @property
    def point_columns(self) -> list[str]:
        """The columns that name a point (``point`` and the swept values), or none."""
        if not self.swept:
            return []
        return ["point", *column_names(list(self.scenario.sweep.over)).values()]  # type: ignore[union-attr]

    def stack(
        self, attribute: str, pick: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    ) -> pd.DataFrame:
        """One frame of every run (``requests``, ``propagation``, or ``table:NAME``) with
        ``pattern, replication`` (and the point's columns) in front; ``pick`` chooses the
        rows kept of each run's frame (all of them without it)."""
        frames = []
        by_index = {p.index: p for p in self.points}
        for run in self.runs:
            if attribute.startswith("table:"):
                frame = run.tables.get(attribute.removeprefix("table:"))
                if frame is None:
                    continue
            else:
                frame = getattr(run, attribute)
            if pick is not None:
                frame = pick(frame)
            frame = as_text(frame)
            stacked = frame.assign(pattern=run.pattern, replication=run.replication)[
                ["pattern", "replication", *frame.columns]
            ]
            if run.point in by_index:
                stacked = _with_point(stacked, by_index[run.point], self.scenario)
            frames.append(stacked)
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    @property
    def requests(self) -> pd.DataFrame:
        """Every request of every run: ``pattern, replication, op, key, service, start, ...``."""
        return self.stack("requests")

    @property
    def propagation(self) -> pd.DataFrame:
        """Every (commit, replica) pair of every run with its propagation delay."""
        return self.stack("propagation")

    @property
    def copies(self) -> pd.DataFrame:
        """The consistency metrics of every run copy by copy: ``pattern, replication, copy,
        commits, staleness_p50, ...`` (:func:`sim.metrics.summarize.copy_table`)."""
        return self.stack("table:copies")

    def table(self, name: str) -> pd.DataFrame:
        """A table every run's components recorded (``consumer_lag``, ``connector_polls``,
        ...), stacked with ``pattern, replication`` in front; empty when no run has it."""
        return self.stack(f"table:{name}")

    @property
    def per_replication(self) -> pd.DataFrame:
        """Metrics of each run: ``pattern, replication, metric, value``."""
        by_index = {p.index: p for p in self.points}
        frames = []
        for run in self.runs:
            frame = pd.DataFrame(
                [(run.pattern, run.replication, m, v) for m, v in run.metrics.items()],
                columns=["pattern", "replication", "metric", "value"],
            )
            if run.point in by_index:
                frame = _with_point(frame, by_index[run.point], self.scenario)
            frames.append(frame)
        if not frames:
            return pd.DataFrame(
                columns=[*self.point_columns, "pattern", "replication", "metric", "value"]
            )
        return pd.concat(frames, ignore_index=True)

    @property
    def faults(self) -> pd.DataFrame:
        """Every fault in each pattern's first replication (at the first point): ``pattern,
        kind, target, start, end, applied`` (``applied`` False: the fault reaches no component
        of that pattern)."""
        columns = ["pattern", "kind", "target", "start", "end", "applied"]
        first = self.runs[0].replication if self.runs else 0
        point = self.runs[0].point if self.runs else 0
        frames = [
            r.faults.assign(pattern=r.pattern)[columns]
            for r in self.runs
            if r.replication == first and r.point == point and len(r.faults)
        ]
        if not frames:
            return pd.DataFrame(columns=columns)
        found = pd.concat(frames, ignore_index=True)
        return found.assign(applied=found["applied"].astype(bool))

    @property
    def fault_windows(self) -> pd.DataFrame:
        """The fault windows as applied in the first replication, in any pattern:
        ``kind, target, start, end``."""
        columns = ["kind", "target", "start", "end"]
        faults = self.faults
        if faults.empty or not faults["applied"].any():
            return pd.DataFrame(columns=columns)
        applied = faults[faults["applied"]][columns]
        union = applied.drop_duplicates(["kind", "target", "start"])
        return union.sort_values(["start", "kind", "target"], kind="stable").reset_index(drop=True)

    @property
    def not_applied(self) -> dict[str, list[str]]:
        """``kind target`` of each fault that some pattern has no component for, with those
        patterns."""
        faults = self.faults
        found: dict[str, list[str]] = {}
        if faults.empty:
            return found
        for row in faults[~faults["applied"]].itertuples(index=False):
            found.setdefault(f"{row.kind} {row.target}", []).append(str(row.pattern))
        return found

    def metric(self, pattern: str, name: str, point: int | None = None) -> float:
        """The mean of one metric for one pattern (at one point, when the scenario sweeps)."""
        summary = self.summary
        if point is not None and "point" in summary:
            summary = summary[summary["point"] == point]
        elif "point" in summary and summary["point"].nunique() > 1:
            raise ValueError("the scenario has several points: say which with point=")
        row = summary[(summary["pattern"] == pattern) & (summary["metric"] == name)]
        if row.empty:
            raise KeyError(f"no metric {name!r} for pattern {pattern!r}")
        return float(row["mean"].iloc[0])


def _decide(
    scenario: Scenario,
    patterns: list[str],
    summary: pd.DataFrame,
    runs: Sequence[RunResult],
    rolled: pd.DataFrame,
) -> Choice:
    """The ranking of the decision block at one point (:mod:`sim.metrics.decision`)."""
    decision = scenario.decision
    assert decision is not None
    criteria = [Criterion(c.metric, c.direction, c.weight) for c in decision.criteria]
    means = {
        (str(p), str(m)): float(v)
        for p, m, v in zip(summary["pattern"], summary["metric"], summary["mean"], strict=True)
    }
    per_replication: dict[tuple[str, str], dict[int, float]] = {}
    for run in runs:
        for criterion in criteria:
            value = run.metrics.get(criterion.metric, math.nan)
            per_replication.setdefault((run.pattern, criterion.metric), {})[run.replication] = value
    passes = dict(zip(rolled["pattern"], rolled["passes"].astype(bool), strict=True))
    meets = {p: passes.get(p, True) if decision.constraints == "slo" else True for p in patterns}
    return decide(patterns, criteria, means, per_replication, meets)


def _own_components(
    table: pd.DataFrame, runs: Sequence[RunResult], columns: Sequence[str] = ("pattern",)
) -> pd.DataFrame:
    """``table`` without the rows of a component's gauge (``utilisation{db:X}``) for a pattern
    that has no such component: each pattern reports its own components only, so a pattern's
    rows do not depend on which other patterns ran beside it."""
    if table.empty or "metric" not in table:
        return table
    own: dict[str, set[str]] = {}
    for run in runs:
        own.setdefault(run.pattern, set()).update(n for n in run.metrics if "{" in n)
    sliced = table["metric"].astype(str).str.contains("{", regex=False)
    if not sliced.any():
        return table
    keep = ~sliced
    for column in columns:  # a pair keeps a component's row only if both patterns have it
        has = [m in own.get(p, ()) for p, m in zip(table[column], table["metric"], strict=True)]
        sliced &= pd.Series(has, index=table.index)
    return table.loc[keep | sliced].reset_index(drop=True)


def _judged(
    scenario: Scenario, runs: Sequence[RunResult], key: int = 0
) -> dict[int, dict[str, float]]:
    """Per run (by id), the value of every SLO on a slice or a window (:mod:`sim.metrics.windows`);
    ``key`` is the point's stream key (a recurring fault's windows depend on it)."""
    slos = [  # an occupancy gauge's slice is a component the run measured on its own
        slo for slo in scenario.slo if slo.key != slo.metric and slo.metric not in OCCUPANCY_METRICS
    ]
    if not slos:
        return {}
    load_end = scenario.workload.load_duration
    found: dict[int, dict[str, float]] = {}
    for run in runs:
        streams = Streams(scenario.seed, run.replication, key)
        faults = [
            window
            for index, fault in enumerate(scenario.faults)
            for window in fault.windows(load_end, streams, index)
        ]
        values = {}
        for slo in slos:
            phase = scenario.workload.phase_window(slo.during) if slo.during else None
            window = judged_windows(slo, faults, phase, scenario.warmup, load_end)
            values[slo.key] = sliced_value(
                slo, run.requests, run.propagation, window, scenario.warmup, load_end
            )
        found[id(run)] = values
    return found


def _mser5_table(runs: Sequence[RunResult]) -> pd.DataFrame:
    """MSER-5 on each run's latencies of successful requests, in the order they started."""
    rows = []
    for run in runs:
        requests = run.requests
        ok = requests[requests["outcome"] == "ok"].sort_values("start", kind="stable")
        cut = mser5(ok["latency"].to_numpy(float))
        start = float(ok["start"].iloc[cut]) if 0 < cut < len(ok) else 0.0
        rows.append((run.pattern, run.replication, cut, start))
    return pd.DataFrame(rows, columns=["pattern", "replication", "truncated", "warmup"])


def as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with its ``category`` columns (a run's labels: :mod:`sim.kernel.recorder`) as
    plain text, the type a text column has everywhere outside a run."""
    text = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.astype(dict.fromkeys(text, "str")) if text else frame


def _with_point(frame: pd.DataFrame, point: Point, scenario: Scenario) -> pd.DataFrame:
    """``frame`` with the point's columns in front (none without a sweep)."""
    if scenario.sweep is None:
        return frame
    names = column_names(list(scenario.sweep.over))
    columns = {"point": point.index} | {names[p]: cell(v) for p, v in point.values.items()}
    front = pd.DataFrame({name: [value] * len(frame) for name, value in columns.items()})
    return pd.concat([front, frame.reset_index(drop=True)], axis=1)
