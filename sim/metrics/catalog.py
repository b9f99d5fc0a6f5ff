"""What each metric is: its name, unit, meaning, family and which direction is better.

Every pattern has the :data:`COMMON` metrics, computed from the request log and the
consistency log (:mod:`sim.metrics.summarize`), and the :data:`GAUGES`: queue wait, the
occupancy of services and databases, attempts per call (:mod:`sim.metrics.gauges`). A pattern model declares the metrics its own
components measure (``metrics = (Metric(...), ...)`` on the model class, reported by its
``gauges()``); the summary, the SLO grammar, ``summary.json`` and the report take the names,
units and meanings from here, and a gauge a model reports without declaring it is an error.

Units are SI: ``s`` seconds, ``1/s`` per second, ``fraction`` (0 to 1), ``count``, ``records``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sim.kernel.registry import PATTERNS

__all__ = [
    "COMMON",
    "GAUGES",
    "Metric",
    "MetricError",
    "declared",
    "known_metrics",
    "metric",
    "metrics_for",
    "units",
]

Unit = Literal["s", "1/s", "fraction", "count", "records", "bytes"]
Family = Literal["latency", "throughput", "availability", "freshness", "integrity", "cost", "run"]


class MetricError(ValueError):
    """A metric that is not declared, or declared twice with different meanings."""


@dataclass(frozen=True)
class Metric:
    """One metric of the summary."""

    name: str
    unit: Unit
    meaning: str
    family: Family
    better: Literal["lower", "higher"] = "lower"

    @property
    def bounds(self) -> tuple[float, float]:
        """The values the metric can take (an SLO threshold outside them is meaningless)."""
        return (0.0, 1.0) if self.unit == "fraction" else (0.0, float("inf"))


def _m(name: str, unit: Unit, family: Family, meaning: str, better: str = "lower") -> Metric:
    return Metric(name, unit, meaning, family, "higher" if better == "higher" else "lower")


COMMON: tuple[Metric, ...] = (
    _m("latency_mean", "s", "latency", "mean latency of successful requests after the warm-up"),
    _m("latency_p50", "s", "latency", "median latency of successful requests"),
    _m("latency_p95", "s", "latency", "95th percentile latency of successful requests"),
    _m("latency_p99", "s", "latency", "99th percentile latency of successful requests"),
    _m("latency_p999", "s", "latency", "99.9th percentile latency of successful requests"),
    _m("throughput", "1/s", "throughput", "successful requests per second of load", "higher"),
    _m("error_rate", "fraction", "availability", "errors and timeouts among measured requests"),
    _m(
        "throttled",
        "count",
        "availability",
        "attempts a database's provisioned capacity, or a service's rate limiter, refused (each "
        "retry counts; 0 without limits)",
    ),
    _m(
        "shed",
        "count",
        "availability",
        "requests a service's bounded queue refused or dropped (0 without queue limits)",
    ),
    _m(
        "staleness_p50",
        "s",
        "freshness",
        "median delay from a commit to a copy holding it (infinite: never, for pairs that never "
        "arrived)",
    ),
    _m("staleness_p99", "s", "freshness", "99th percentile of that delay"),
    _m("staleness_max", "s", "freshness", "largest such delay"),
    _m(
        "never_propagated",
        "fraction",
        "freshness",
        "(commit, copy) pairs that never reached the copy by the end of the run",
    ),
    _m("stale_read_rate", "fraction", "freshness", "reads older than the owner's last commit"),
    _m("divergent_keys", "count", "integrity", "keys a copy holds differently after the drain"),
    _m(
        "lost_updates",
        "count",
        "integrity",
        "(commit, copy) pairs the copy never applied and that can no longer arrive",
    ),
    _m(
        "committed_versions",
        "count",
        "integrity",
        "versions the owner committed (and kept) from the warm-up on: the pairs lost_updates "
        "counts come from these, one per copy, so lost_updates / (committed_versions x copies) "
        "is the fraction lost",
        "higher",
    ),
    _m(
        "pending_at_end",
        "count",
        "integrity",
        "(commit, copy) pairs not applied yet but still in a log or a buffer at the end",
    ),
    _m("duplicates", "count", "integrity", "applies of a version a copy already applied"),
    _m("reorders", "count", "integrity", "applies of a version older than one already applied"),
    _m("phantom_writes", "count", "integrity", "versions at a copy the owner never committed"),
    _m(
        "read_your_writes_violations",
        "count",
        "freshness",
        "reads older than a write already acknowledged before the read began",
    ),
    _m(
        "drain_time", "s", "run", "how long the drain ran after the load until the system was quiet"
    ),
    _m("drain_capped", "fraction", "run", "replications whose drain stopped at its cap, not quiet"),
)
"""The metrics of every pattern, in summary order."""

GAUGES: tuple[Metric, ...] = (
    _m(
        "queue_wait_mean",
        "s",
        "latency",
        "mean time a measured request waited for a slot at the service that handled it "
        "(requests that got one)",
    ),
    _m("queue_wait_p50", "s", "latency", "median of that queue wait"),
    _m("queue_wait_p95", "s", "latency", "95th percentile of that queue wait"),
    _m("queue_wait_p99", "s", "latency", "99th percentile of that queue wait"),
    _m(
        "wait_probability",
        "fraction",
        "latency",
        "measured requests that found every slot busy and waited (wait > 0), among those that "
        "got a slot: Erlang C's P(wait) for an M/M/c station",
    ),
    _m(
        "utilisation",
        "fraction",
        "cost",
        "time-average busy slots over slots after the warm-up, until the load ends: the busiest "
        "service or database; utilisation{service:X} (its instances' concurrency slots) or "
        "utilisation{db:X} (its connection pool) for one",
    ),
    _m(
        "queue_length",
        "count",
        "cost",
        "time-average number of requests waiting for a slot, summed over the services; "
        "queue_length{service:X} or {db:X} (queries waiting for a connection) for one",
    ),
    _m(
        "in_system",
        "count",
        "cost",
        "time-average number of requests waiting or holding a slot, summed over the services "
        "(Little's law: arrival rate × mean time there); in_system{service:X} or {db:X} for one",
    ),
    _m(
        "http_attempts",
        "count",
        "cost",
        "HTTP attempts services sent each other for calls begun after the warm-up, retries "
        "included (NaN: the pattern makes no such calls)",
    ),
    _m(
        "http_attempts_per_call",
        "count",
        "cost",
        "mean attempts per such call, retries included: the retry amplification "
        "(1 - p^(r+1)) / (1 - p) for independent failures of probability p and r retries",
    ),
    _m(
        "produce_attempts",
        "count",
        "cost",
        "times records sent after the warm-up went to the broker, retries included (a record "
        "counts once per produce request that carried it; NaN: no producer)",
    ),
    _m(
        "produce_attempts_per_record",
        "count",
        "cost",
        "mean produce requests per such record (its batch's attempts), retries included",
    ),
)
"""Occupancy, queue wait and attempts, measured for every pattern (after the patterns' own
metrics in the summary); per-component values follow them in the summary as
``utilisation{service:X}``, ``queue_length{db:X}``, ... (:mod:`sim.metrics.gauges`)."""


def declared(model: object) -> tuple[Metric, ...]:
    """The metrics a pattern model class declares (its ``metrics`` attribute)."""
    found = getattr(model, "metrics", ())
    for item in found:
        if not isinstance(item, Metric):
            raise MetricError(f"{model!r} declares {item!r}, which is not a Metric")
    return tuple(found)


def known_metrics() -> dict[str, Metric]:
    """Every metric a scenario may name: :data:`COMMON`, :data:`GAUGES` and each registered
    pattern's own."""
    found = {m.name: m for m in (*COMMON, *GAUGES)}
    for model in PATTERNS.entries():
        for item in declared(model):
            other = found.setdefault(item.name, item)
            if other != item:
                raise MetricError(f"metric {item.name!r} is declared twice, differently")
    return found


def metric(name: str) -> Metric:
    """The metric called ``name`` (an unknown name lists the known ones)."""
    found = known_metrics().get(name)
    if found is None:
        raise MetricError(f"unknown metric {name!r}; known: {', '.join(known_metrics())}")
    return found


def metrics_for(models: Iterable[object]) -> list[Metric]:
    """The summary's metrics for a run of these pattern models: the common ones, then each
    model's declared ones in the order first seen, then the :data:`GAUGES`."""
    found = {m.name: m for m in COMMON}
    for model in models:
        for item in declared(model):
            found.setdefault(item.name, item)
    for item in GAUGES:
        found.setdefault(item.name, item)
    return list(found.values())


def units(metrics: Iterable[Metric] | None = None) -> dict[str, str]:
    """``name -> unit`` for the given metrics (every known metric by default)."""
    chosen = known_metrics().values() if metrics is None else metrics
    return {m.name: m.unit for m in chosen}
