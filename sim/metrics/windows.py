"""SLOs on a slice and a window: a metric of the requests or of the copies, computed on part
of a run (:mod:`sim.metrics.slo`).

A window is a union of time intervals ``[start, end)``: a request belongs to it by the time it
started, a (commit, copy) pair by the time of the commit; both only after the warm-up, as for
the whole-run metrics. The metrics keep their whole-run definitions (:mod:`sim.metrics.summarize`):
latency over successful requests, queue wait over those that got a slot, ``error_rate`` over all, ``throughput`` per second of the
window's measured length, staleness censored ("never" counts as infinitely stale).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from sim.metrics.gauges import wait_metrics
from sim.metrics.slo import PROPAGATION_METRICS, QUEUE_WAIT_METRICS, Slo
from sim.metrics.summarize import censored_percentile

__all__ = ["Window", "judged_windows", "sliced_value"]

Window = list[tuple[float, float]]


def _union(spans: Sequence[tuple[float, float]]) -> Window:
    merged: Window = []
    for start, end in sorted(spans):
        if end < start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _clip(window: Window, low: float, high: float) -> Window:
    return [(max(a, low), min(b, high)) for a, b in window if min(b, high) > max(a, low)]


def judged_windows(
    slo: Slo,
    faults: Sequence[tuple[float, float]],
    phase: tuple[float, float] | None,
    warmup: float,
    load_end: float,
) -> Window | None:
    """The window an SLO judges: None for the whole measured run; ``faults`` are the fault
    windows of the scenario, ``phase`` the window of the phase it names."""
    if slo.during is None:
        return None
    fault = _union(faults)
    recovery = _union([(end, end + slo.recovery) for _, end in faults])
    if slo.during == "fault":
        return _clip(fault, warmup, load_end)
    if slo.during == "recovery":
        return _clip(recovery, warmup, load_end)
    if slo.during == "steady":
        busy = _union([*fault, *recovery])
        free: Window = []
        at = warmup
        for start, end in busy:
            if start > at:
                free.append((at, start))
            at = max(at, end)
        if at < load_end:
            free.append((at, load_end))
        return _clip(free, warmup, load_end)
    assert phase is not None
    return _clip([phase], warmup, load_end)


def _inside(times: np.ndarray, window: Window) -> np.ndarray:
    keep = np.zeros(len(times), dtype=bool)
    for start, end in window:
        keep |= (times >= start) & (times < end)
    return keep


def sliced_value(
    slo: Slo,
    requests: pd.DataFrame,
    propagation: pd.DataFrame,
    window: Window | None,
    warmup: float,
    load_end: float,
) -> float:
    """The value of ``slo.metric`` on the slice and window the SLO names, for one run."""
    if slo.metric in PROPAGATION_METRICS:
        pairs = propagation[propagation["commit_time"] >= warmup]
        for key, value in slo.slice:
            if key == "copy":
                pairs = pairs[pairs["replica"] == value]
        if window is not None:
            pairs = pairs[_inside(pairs["commit_time"].to_numpy(float), window)]
        delays = pairs["delay"].to_numpy(float)
        if len(delays) == 0:
            return math.nan
        never = np.isnan(delays)
        censored = np.where(never, np.inf, delays)
        if slo.metric == "never_propagated":
            return float(never.mean())
        if slo.metric == "staleness_max":
            return float(censored.max())
        return censored_percentile(censored, 50 if slo.metric == "staleness_p50" else 99)
    measured = requests[requests["start"] >= warmup]
    for key, value in slo.slice:
        measured = measured[measured[key] == value]
    length = max(load_end - warmup, 0.0)
    if window is not None:
        measured = measured[_inside(measured["start"].to_numpy(float), window)]
        length = sum(end - start for start, end in window)
    if slo.metric in QUEUE_WAIT_METRICS:
        return wait_metrics(measured, warmup)[slo.metric]
    ok = measured[measured["outcome"] == "ok"]
    if slo.metric == "throughput":
        return len(ok) / length if length > 0 else math.nan
    if slo.metric == "error_rate":
        return (len(measured) - len(ok)) / len(measured) if len(measured) else math.nan
    latency = ok["latency"].to_numpy(float)
    if len(latency) == 0:
        return math.nan
    if slo.metric == "latency_mean":
        return float(latency.mean())
    quantile = {"latency_p50": 50, "latency_p95": 95, "latency_p99": 99, "latency_p999": 99.9}
    return float(np.percentile(latency, quantile[slo.metric]))
