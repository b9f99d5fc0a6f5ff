"""The experiment blocks of a scenario: ``sweep:`` runs it at several points; ``replications:
{min, max, target}`` runs replications until the intervals are narrow enough.

A sweep names key paths (:mod:`sim.config.paths`) and the values each takes. With ``mode:
grid`` (the default) every combination is a point, the first path varying slowest; with
``mode: zip`` the i-th values of every path make the i-th point. Points keep the order written.
Each point is the scenario with those values set, validated like any scenario file; its random
streams are keyed by the point's values (:mod:`sim.scenario.points`), so adding a point changes
no other point. With ``streams: common`` every point uses the same draws instead (the streams
of the scenario without a sweep): the points then differ only by their values, as patterns do
within a point, at the price of points that are not independent samples.

Adaptive replications run ``min`` replications of every pattern at every point, then more —
for all patterns of a point together, so that every replication stays paired — until the 95 %
interval of each named metric is within ``target`` of its mean (relative half-width) for every
pattern, or ``max`` is reached. A round asks for the replications the current half-width
predicts (``n × (half-width / target)²``, the interval shrinking as 1/√n), at least one more.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.paths import PathError, parse_path
from sim.config.types import Probability, StrictModel
from sim.metrics.catalog import known_metrics
from sim.metrics.slo import SloError, subject_metric

__all__ = ["AdaptiveReplications", "Criterion", "Decision", "Sweep", "plain"]


def plain(value: Any) -> Any:
    """``value`` as plain dicts, lists and scalars (YAML's round-trip types converted)."""
    if isinstance(value, dict):
        return {str(k) if not isinstance(k, int) else k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


class Sweep(StrictModel):
    """Run the scenario at several points: a value for each key path at each point."""

    over: dict[str, list[Any]] = Field(
        min_length=1,
        description="key path → its values, e.g. {patterns.polling.poll_interval: [1s, 5s, 30s]}",
        examples=[{"patterns.polling.poll_interval": ["1s", "5s", "30s"]}],
    )
    mode: Literal["grid", "zip"] = Field(
        "grid", description="grid: every combination (first path slowest); zip: i-th with i-th"
    )
    streams: Literal["per-point", "common"] = Field(
        "per-point",
        description="per-point: each point's random streams keyed by its values (independent "
        "points); common: every point on the same draws (common random numbers across points)",
    )

    @field_validator("over", mode="before")
    @classmethod
    def _plain(cls, value: Any) -> Any:
        return plain(value)

    @field_validator("over")
    @classmethod
    def _paths(cls, value: dict[str, list[Any]]) -> dict[str, list[Any]]:
        for path, values in value.items():
            try:
                parsed = parse_path(path)
            except PathError as error:
                raise ValueError(str(error)) from None
            if parsed[0] == "sweep":
                raise ValueError(f"{path}: a sweep cannot change the sweep")
            if not values:
                raise ValueError(f"{path}: give at least one value")
        return value

    @model_validator(mode="after")
    def _zip_lengths(self) -> Sweep:
        if self.mode == "zip":
            lengths = {path: len(values) for path, values in self.over.items()}
            if len(set(lengths.values())) > 1:
                shown = ", ".join(f"{p}: {n}" for p, n in lengths.items())
                raise ValueError(f"mode zip needs as many values for every path (got {shown})")
        return self

    def assignments(self) -> list[dict[str, Any]]:
        """Each point's ``{path: value}``, in order."""
        paths = list(self.over)
        rows: Iterable[tuple[Any, ...]]
        if self.mode == "zip":
            rows = zip(*(self.over[p] for p in paths), strict=True)
        else:
            rows = itertools.product(*(self.over[p] for p in paths))
        return [dict(zip(paths, row, strict=True)) for row in rows]


class AdaptiveReplications(StrictModel):
    """Replications until the intervals are narrow enough."""

    min: int = Field(5, ge=2, le=10_000, description="replications run first")
    max: int = Field(50, ge=2, le=10_000, description="replications at most")
    target: Probability = Field(
        0.05,
        gt=0,
        description="largest relative half-width of the 95% interval (half-width / |mean|)",
    )
    metrics: list[str] = Field(
        default_factory=list,
        description="metrics whose intervals must reach the target (p99(latency), error_rate); "
        "default: those the SLOs name, else latency_mean",
    )

    @field_validator("metrics")
    @classmethod
    def _known(cls, value: list[str]) -> list[str]:
        out = []
        for text in value:
            try:
                out.append(subject_metric(text))
            except SloError as error:
                raise ValueError(str(error)) from None
        return out

    @model_validator(mode="after")
    def _order(self) -> AdaptiveReplications:
        if self.max < self.min:
            raise ValueError(f"max ({self.max}) must be at least min ({self.min})")
        return self


class Criterion(StrictModel):
    """One criterion of a decision: a metric, which way is better, and its weight."""

    metric: str = Field(description="p99(latency), p99(staleness), lost_updates, throughput, ...")
    weight: float = Field(1.0, gt=0, description="its weight in the score (relative)")
    better: Literal["lower", "higher"] | None = Field(
        None, description="which way is better (default: the metric's own, e.g. lower latency)"
    )

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str) -> str:
        try:
            return subject_metric(value)
        except SloError as error:
            raise ValueError(str(error)) from None

    @property
    def direction(self) -> Literal["lower", "higher"]:
        """Which way is better."""
        return self.better or known_metrics()[self.metric].better


class Decision(StrictModel):
    """Rank the patterns on weighted criteria, with the SLOs as hard constraints, and write
    an architecture decision record (``decision.md``)."""

    criteria: list[Criterion] = Field(min_length=1, description="what the choice weighs")
    constraints: Literal["slo", "none"] = Field(
        "slo",
        description="slo: a pattern that fails an SLO ranks after every pattern that passes",
    )
    question: str | None = Field(
        None, max_length=500, description="the decision to make, in one sentence (for the record)"
    )
    capacity: bool = Field(
        False,
        description="also search each pattern's breaking point (patternsim capacity) and put "
        "it in the record",
    )

    @field_validator("criteria")
    @classmethod
    def _distinct(cls, value: list[Criterion]) -> list[Criterion]:
        names = [c.metric for c in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"a criterion is named twice: {', '.join(twice)}")
        return value
