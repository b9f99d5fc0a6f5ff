"""Service-level objectives: a small, k6-like threshold language and its verdicts.

An SLO is one line such as ``"p99(latency) < 250ms"``, ``"error_rate < 1%"``,
``"p99(staleness) < 5s"``, ``"lost_updates == 0"`` or ``"throughput >= 100/s"``::

    slo      := subject OP value
    subject  := AGG "(" SERIES ")" | METRIC
    AGG      := mean | p50 | p95 | p99 | p999 | max          (latency: not max)
    SERIES   := latency | staleness
    OP       := < | <= | > | >= | == | !=
    value    := a duration for latency and staleness, a percentage or fraction for rates and
                loads, a rate for throughput, a number for counts

It is parsed once, by a regular grammar (never ``eval``), when the scenario is validated: the
scenario holds :class:`Slo` values. Metric names come from :mod:`sim.metrics.catalog` (the common
metrics and those the registered patterns declare). Verdicts are computed by
:mod:`sim.metrics.verdicts`.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from sim.kernel.units import UnitError, parse_duration, parse_percent, parse_rate
from sim.metrics.catalog import known_metrics

__all__ = ["Slo", "SloError", "parse_slo", "subject_metric"]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_LINE = re.compile(
    r"^\s*(?:(?P<agg>[a-z0-9]+)\s*\(\s*(?P<series>[a-z_]+)\s*\)|(?P<metric>[a-z_0-9]+))"
    r"\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\S.*?)\s*$"
)
_SERIES_METRICS = {
    ("latency", agg): f"latency_{agg}" for agg in ("mean", "p50", "p95", "p99", "p999")
} | {("staleness", agg): f"staleness_{agg}" for agg in ("p50", "p99", "max")}


class SloError(ValueError):
    """An SLO line that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class Slo:
    """One parsed objective: ``metric op threshold`` (threshold in SI units)."""

    text: str
    metric: str
    op: str
    threshold: float

    def holds(self, value: float) -> bool:
        """True when ``value`` meets the objective (never for a value not measured)."""
        return math.isfinite(value) and _OPERATORS[self.op](value, self.threshold)


def parse_slo(text: str) -> Slo:
    """Parse one SLO line; raise :class:`SloError` saying what is expected."""
    match = _LINE.match(text)
    if match is None:
        raise SloError(
            "expected 'p99(latency) < 250ms', 'error_rate < 1%' or 'lost_updates == 0': "
            "a metric, an operator (< <= > >= == !=) and a value"
        )
    if match.group("metric"):
        metric = match.group("metric")
        names = known_metrics()
        if metric not in names:
            raise SloError(f"unknown metric {metric!r}; known: {', '.join(names)}")
    else:
        key = (match.group("series"), match.group("agg"))
        if key not in _SERIES_METRICS:
            known = ", ".join(f"{agg}({series})" for series, agg in _SERIES_METRICS)
            raise SloError(f"unknown {key[1]}({key[0]}); known: {known}")
        metric = _SERIES_METRICS[key]
    threshold = _threshold(metric, match.group("value"))
    found = known_metrics()[metric]
    low, high = found.bounds
    if not low <= threshold <= high:
        span = "0% to 100%" if found.unit == "fraction" else "0 or more"
        raise SloError(
            f"{metric} ({found.meaning}) is always {span}: a threshold of "
            f"{match.group('value').strip()} can never decide anything"
        )
    return Slo(text.strip(), metric, match.group("op"), threshold)


_SUBJECT = re.compile(
    r"^\s*(?:(?P<agg>[a-z0-9]+)\s*\(\s*(?P<series>[a-z_]+)\s*\)|(?P<metric>[a-z_0-9]+))\s*$"
)


def subject_metric(text: str) -> str:
    """The metric an SLO subject names: ``p99(latency)`` → ``latency_p99``, ``error_rate`` →
    itself; raise :class:`SloError` for an unknown one."""
    match = _SUBJECT.match(text)
    if match is None:
        raise SloError(f"expected a metric such as p99(latency) or error_rate (got {text!r})")
    if match.group("metric"):
        metric = match.group("metric")
        names = known_metrics()
        if metric not in names:
            raise SloError(f"unknown metric {metric!r}; known: {', '.join(names)}")
        return metric
    key = (match.group("series"), match.group("agg"))
    if key not in _SERIES_METRICS:
        known = ", ".join(f"{agg}({series})" for series, agg in _SERIES_METRICS)
        raise SloError(f"unknown {key[1]}({key[0]}); known: {known}")
    return _SERIES_METRICS[key]


def _threshold(metric: str, raw: str) -> float:
    unit = known_metrics()[metric].unit
    try:
        if unit == "s":
            return parse_duration(raw)
        if unit == "fraction":
            return parse_percent(raw)
        if unit == "1/s":
            return parse_rate(raw)
        value = float(raw)
    except (UnitError, ValueError) as error:
        raise SloError(f"{metric}: {error}") from None
    if not math.isfinite(value):
        raise SloError(f"{metric}: expected a finite number (got {raw!r})")
    return value
