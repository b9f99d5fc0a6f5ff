"""The gauges of one run: queue wait, occupancy of services and databases, attempts per call.

Definitions (the metrics are declared in :data:`sim.metrics.catalog.GAUGES`):

- **queue wait** of a request: the start of its service (it takes a slot of the instance that
  handles it) less its arrival at that service, from the ``wait`` column of the request
  records; over the measured requests (started after the warm-up) that got a slot, whatever
  their outcome. ``wait_probability`` is the share of them whose wait was above zero: for an
  M/M/c station, Erlang C's probability of waiting.
- **occupancy** of a service (its instances together) or a database (its connection pool):
  exact time averages over the measured window, from the end of the warm-up to the end of the
  load (:mod:`sim.infra.occupancy`): ``utilisation`` (busy slots / slots), ``queue_length``
  (requests waiting for a slot), ``in_system`` (waiting or holding one). Per component they are
  reported as ``utilisation{service:X}`` and ``utilisation{db:X}``; unsliced, ``utilisation``
  is the busiest component's and ``queue_length``/``in_system`` the sums over the services.
- **attempts**: HTTP calls between services (the ``http_calls`` records, calls begun after the
  warm-up that ended) and records sent to the broker (the ``broker_produce`` records, sent after
  the warm-up, that went out at least once): totals and means per call or per record, retries
  included. NaN where the pattern has no such calls.

Left out: occupancy of the broker and of connectors (their own metrics describe them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

__all__ = ["OCCUPANCY", "attempt_metrics", "occupancy_metrics", "wait_metrics"]

OCCUPANCY = ("utilisation", "queue_length", "in_system")
"""The occupancy gauges, each reported per component and unsliced."""

Averages = tuple[float, float, float]
"""``(utilisation, queue length, in system)`` of one component."""


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def wait_metrics(requests: pd.DataFrame, warmup: float) -> dict[str, float]:
    """Queue wait of the measured requests that got a slot: mean, percentiles, P(wait > 0)."""
    measured = requests.loc[requests["start"] >= warmup, "wait"].to_numpy(float)
    waits = measured[~np.isnan(measured)]
    return {
        "queue_wait_mean": float(waits.mean()) if len(waits) else math.nan,
        "queue_wait_p50": _percentile(waits, 50),
        "queue_wait_p95": _percentile(waits, 95),
        "queue_wait_p99": _percentile(waits, 99),
        "wait_probability": float((waits > 0.0).mean()) if len(waits) else math.nan,
    }


def occupancy_metrics(components: Mapping[str, Averages]) -> dict[str, float]:
    """The unsliced occupancy gauges, then each component's: ``components`` maps
    ``service:X`` and ``db:X`` to its averages over the measured window."""
    services = [values for name, values in components.items() if name.startswith("service:")]
    utilisations = [u for u, _, _ in components.values() if not math.isnan(u)]
    found = {
        "utilisation": max(utilisations) if utilisations else math.nan,
        "queue_length": float(sum(q for _, q, _ in services)) if services else math.nan,
        "in_system": float(sum(n for _, _, n in services)) if services else math.nan,
    }
    for name, values in components.items():
        for metric, value in zip(OCCUPANCY, values, strict=True):
            found[f"{metric}{{{name}}}"] = value
    return found


def attempt_metrics(
    calls: pd.DataFrame | None, produced: pd.DataFrame | None, warmup: float
) -> dict[str, float]:
    """Attempts of HTTP calls and of produce requests begun after the warm-up."""
    found = {
        "http_attempts": math.nan,
        "http_attempts_per_call": math.nan,
        "produce_attempts": math.nan,
        "produce_attempts_per_record": math.nan,
    }
    if calls is not None:
        tries = calls.loc[calls["time"] >= warmup, "attempts"].to_numpy(float)
        found["http_attempts"] = float(tries.sum())
        found["http_attempts_per_call"] = float(tries.mean()) if len(tries) else math.nan
    if produced is not None:
        sent = (produced["time"] - produced["latency"]).to_numpy(float)
        tries = produced["attempts"].to_numpy(float)
        tries = tries[(sent >= warmup) & (tries >= 1)]
        found["produce_attempts"] = float(tries.sum())
        found["produce_attempts_per_record"] = float(tries.mean()) if len(tries) else math.nan
    return found
