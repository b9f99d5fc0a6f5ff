"""Service-level objectives: a small, k6-like threshold language and its verdicts.

An SLO is one line such as ``"p99(latency) < 250ms"``, ``"error_rate < 1%"``,
``"p99(staleness) < 5s"``, ``"lost_updates == 0"`` or ``"throughput >= 100/s"``, optionally on
a slice of the requests or copies and during a part of the run::

    slo      := subject OP value [during WINDOW]
    subject  := AGG "(" SERIES [slice] ")" | METRIC [slice]
    AGG      := mean | p50 | p95 | p99 | p999 | max          (latency: not max)
    SERIES   := latency | staleness
    slice    := "{" key ":" value ("," key ":" value)* "}"
                op:read|write|delete and service:NAME slice requests (latency, queue wait,
                throughput, error_rate); copy:NAME slices copies (staleness,
                never_propagated); service:NAME or db:NAME names the component of an
                occupancy gauge (utilisation, queue_length, in_system)
    WINDOW   := steady | fault | recovery ["(" duration ")"] | a phase's name
    OP       := < | <= | > | >= | == | !=
    value    := a duration for latency and staleness, a percentage or fraction for rates and
                loads, a rate for throughput, a number for counts

``during fault`` is the union of the scenario's fault windows, ``during recovery`` the
``recovery`` (30 s by default, a judgment) after each ends, ``during steady`` the measured
load outside both, and a phase's name that phase; a request counts where it started, a change
where it was committed. Slices and windows apply to the metrics computed from requests and
propagation (:data:`SLICEABLE`); counts of the whole run (lost updates, divergence, gauges)
have none. The occupancy gauges are judged per component as the run measured them
(``utilisation{service:orders} < 80%``; unsliced: the busiest component), over the measured load.

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

__all__ = [
    "OCCUPANCY_METRICS",
    "PROPAGATION_METRICS",
    "QUEUE_WAIT_METRICS",
    "RECOVERY",
    "REQUEST_METRICS",
    "SLICEABLE",
    "Slo",
    "SloError",
    "base_metric",
    "parse_slo",
    "subject_metric",
]

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_SUBJECT = (
    r"(?:(?P<agg>[a-z0-9]+)\s*\(\s*(?P<series>[a-z_]+)\s*(?:\{(?P<sslice>[^{}]*)\})?\s*\)"
    r"|(?P<metric>[a-z_0-9]+)\s*(?:\{(?P<mslice>[^{}]*)\})?)"
)
_LINE = re.compile(
    rf"^\s*{_SUBJECT}\s*(?P<op><=|>=|==|!=|<|>)\s*(?P<value>\S.*?)"
    r"(?:\s+during\s+(?P<during>[A-Za-z][A-Za-z0-9_.-]*)(?:\s*\(\s*(?P<span>[^()]*)\))?)?\s*$"
)
_ALONE = re.compile(rf"^\s*{_SUBJECT}\s*$")
_SERIES_METRICS = {
    ("latency", agg): f"latency_{agg}" for agg in ("mean", "p50", "p95", "p99", "p999")
} | {("staleness", agg): f"staleness_{agg}" for agg in ("p50", "p99", "max")}

QUEUE_WAIT_METRICS = frozenset(
    {*(f"queue_wait_{a}" for a in ("mean", "p50", "p95", "p99")), "wait_probability"}
)
"""Metrics of the requests' queue waits (over those that got a slot)."""
REQUEST_METRICS = (
    frozenset(
        {
            *(f"latency_{a}" for a in ("mean", "p50", "p95", "p99", "p999")),
            "throughput",
            "error_rate",
        }
    )
    | QUEUE_WAIT_METRICS
)
"""Metrics of the requests: sliced by ``op`` and ``service``, windowed by start time."""
PROPAGATION_METRICS = frozenset(
    {"staleness_p50", "staleness_p99", "staleness_max", "never_propagated"}
)
"""Metrics of the (commit, copy) pairs: sliced by ``copy``, windowed by commit time."""
SLICEABLE = REQUEST_METRICS | PROPAGATION_METRICS
OCCUPANCY_METRICS = frozenset({"utilisation", "queue_length", "in_system"})
"""Time averages of the measured window, per component: sliced by ``service`` or ``db`` (the
run reports each component's value), never windowed."""
RECOVERY = 30.0
"""``during recovery`` without a duration: the 30 s after each fault ends (judgment)."""
_SLICE_KEYS = {
    "op": REQUEST_METRICS,
    "service": REQUEST_METRICS | OCCUPANCY_METRICS,
    "copy": PROPAGATION_METRICS,
    "db": OCCUPANCY_METRICS,
}
_OPS = ("read", "write", "delete", "insert")


class SloError(ValueError):
    """An SLO line that does not parse; the message says what was expected."""


@dataclass(frozen=True)
class Slo:
    """One parsed objective: ``metric op threshold`` (threshold in SI units), on a slice and
    during a window when given."""

    text: str
    metric: str
    op: str
    threshold: float
    slice: tuple[tuple[str, str], ...] = ()
    """``(key, value)`` pairs, in the order written: ``(("op", "write"),)``."""
    during: str | None = None
    """``steady``, ``fault``, ``recovery`` or a phase name."""
    recovery: float = RECOVERY
    """The length of ``during recovery`` windows."""

    @property
    def key(self) -> str:
        """The name of what is judged: the metric, or ``latency_p99{op:write}@fault``."""
        name = self.metric
        if self.slice:
            name += "{" + ",".join(f"{k}:{v}" for k, v in self.slice) + "}"
        if self.during is not None:
            window = self.during
            if self.during == "recovery":
                window += f"({self.recovery:g}s)"
            name += f"@{window}"
        return name

    def holds(self, value: float) -> bool:
        """True when ``value`` meets the objective (never for a value not measured)."""
        return math.isfinite(value) and _OPERATORS[self.op](value, self.threshold)

    def margin(self, value: float) -> float:
        """How far ``value`` is from the threshold, in the metric's unit: positive when it
        meets the objective with room, negative by how much it misses (NaN: not measured;
        ``==`` and ``!=`` give the distance with the sign of the verdict)."""
        if not math.isfinite(value):
            return -math.inf if math.isinf(value) else math.nan
        if self.op in ("<", "<="):
            return self.threshold - value
        if self.op in (">", ">="):
            return value - self.threshold
        distance = abs(value - self.threshold)
        return -distance if self.op == "==" else distance


def base_metric(key: str) -> str:
    """The metric a judged name is about: ``latency_p99{op:write}@fault`` → ``latency_p99``."""
    return key.split("{", 1)[0].split("@", 1)[0]


def parse_slo(text: str) -> Slo:
    """Parse one SLO line; raise :class:`SloError` saying what is expected."""
    match = _LINE.match(text)
    if match is None:
        raise SloError(
            "expected 'p99(latency) < 250ms', 'error_rate < 1%' or 'lost_updates == 0': "
            "a metric, an operator (< <= > >= == !=) and a value, then optionally "
            "'during fault' (or steady, recovery, a phase name)"
        )
    metric = _metric(match)
    slices = _slices(metric, match.group("sslice") or match.group("mslice"))
    during, recovery = _window(metric, match.group("during"), match.group("span"))
    threshold = _threshold(metric, match.group("value"))
    found = known_metrics()[metric]
    low, high = found.bounds
    if not low <= threshold <= high:
        span = "0% to 100%" if found.unit == "fraction" else "0 or more"
        raise SloError(
            f"{metric} ({found.meaning}) is always {span}: a threshold of "
            f"{match.group('value').strip()} can never decide anything"
        )
    return Slo(text.strip(), metric, match.group("op"), threshold, slices, during, recovery)


def subject_metric(text: str) -> str:
    """The metric an SLO subject names: ``p99(latency)`` → ``latency_p99``, ``error_rate`` →
    itself; raise :class:`SloError` for an unknown one."""
    match = _ALONE.match(text)
    if match is None or match.group("sslice") or match.group("mslice"):
        raise SloError(f"expected a metric such as p99(latency) or error_rate (got {text!r})")
    return _metric(match)


def _metric(match: re.Match[str]) -> str:
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


def _slices(metric: str, raw: str | None) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    found: list[tuple[str, str]] = []
    for part in raw.split(","):
        key, sep, value = part.strip().replace("=", ":", 1).partition(":")
        key, value = key.strip(), value.strip()
        if not sep or not key or not value:
            raise SloError(f"expected {{key:value}} in the slice (got {part.strip()!r})")
        if key not in _SLICE_KEYS:
            raise SloError(f"unknown slice key {key!r}; known: op, service, copy, db")
        if metric not in _SLICE_KEYS[key]:
            what = {
                "copy": "copies (staleness, never_propagated)",
                "db": "databases (utilisation, queue_length, in_system)",
            }.get(key, "requests (latency, queue wait, throughput, error_rate)")
            raise SloError(f"{key}: slices {what}, not {metric}")
        if metric in OCCUPANCY_METRICS and found:
            raise SloError(f"{metric} takes one component: {{service:NAME}} or {{db:NAME}}")
        if key == "op" and value not in _OPS:
            raise SloError(f"op: expected read, write or delete (got {value!r})")
        if any(k == key for k, _ in found):
            raise SloError(f"the slice names {key} twice")
        found.append((key, value))
    return tuple(found)


def _window(metric: str, during: str | None, span: str | None) -> tuple[str | None, float]:
    if during is None:
        return None, RECOVERY
    if metric not in SLICEABLE:
        raise SloError(
            f"{metric} counts the whole run: 'during' applies to latency, throughput, "
            "error_rate, staleness and never_propagated"
        )
    if span is not None and during != "recovery":
        raise SloError(f"only 'during recovery' takes a duration (got {during}({span}))")
    recovery = RECOVERY
    if span is not None:
        try:
            recovery = parse_duration(span)
        except UnitError as error:
            raise SloError(f"during recovery({span}): {error}") from None
        if recovery <= 0:
            raise SloError(f"during recovery({span}): the duration must be above 0")
    return during, recovery


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
