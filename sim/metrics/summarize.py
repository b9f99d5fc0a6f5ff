"""From one run's frames to its metrics, and from many runs to means with confidence intervals.

Units are SI: seconds, per second, fractions, counts. Requests that started during the warm-up
are left out of request metrics; commits made during the warm-up are left out of staleness.
Latency percentiles are over successful requests (``outcome == ok``); ``error_rate`` counts
errors and timeouts among all measured requests; ``throughput`` is successful requests per
second of measured load. Staleness is the propagation delay of each (commit, replica) pair that
reached the copy (that version or a newer one); ``lost_updates`` counts the (commit, copy) pairs
whose version was never applied, out of the ``committed_versions`` the owner committed and kept
from the warm-up on (one pair per copy each), and ``divergent_keys`` the keys left different at
the end. Consistency counts cover the whole run, warm-up included,
because they describe the state the pattern leaves behind. A saga's compensations (``undone``
and ``reverts``) enter these as :mod:`sim.metrics.compensation` says.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from sim.metrics.catalog import COMMON, known_metrics
from sim.metrics.compensation import copy_history, kept_commits, owner_history
from sim.metrics.consistency import (
    Scopes,
    apply_anomalies,
    divergent_keys,
    lost_and_pending,
    read_your_writes_violations,
    stale_read_flags,
)
from sim.metrics.pairs import PairsLike
from sim.metrics.slo import base_metric
from sim.metrics.stats import mean_ci

__all__ = [
    "COPY_COLUMNS",
    "committed_since",
    "copy_table",
    "format_value",
    "replication_metrics",
    "shown_interval",
    "summarize",
]

COPY_COLUMNS = [
    "copy",
    "commits",
    "staleness_p50",
    "staleness_p99",
    "never_propagated",
    "lost_updates",
    "pending_at_end",
    "duplicates",
    "reorders",
    "phantom_writes",
]


def _percentile(values: np.ndarray, q: float) -> float:
    return float(np.percentile(values, q)) if len(values) else math.nan


def censored_percentile(values: np.ndarray, q: float, presorted: bool = False) -> float:
    """The ``q`` percentile (linear interpolation) of values where ``inf`` stands for "never":
    any percentile that reaches into the infinite share is infinite. ``presorted``: the
    values are sorted already (no sorted copy is made)."""
    if len(values) == 0:
        return math.nan
    ordered = values if presorted else np.sort(values)
    position = q / 100.0 * (len(ordered) - 1)
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    if math.isinf(ordered[low]) or (position > low and math.isinf(ordered[high])):
        return math.inf
    if position == low:  # no interpolation (an infinite neighbour would make it nan)
        return float(ordered[low])
    return float(np.percentile(ordered, q))


def replication_metrics(
    requests: pd.DataFrame,
    propagation: pd.DataFrame,
    commits: pd.DataFrame,
    applies: pd.DataFrame,
    replicas: list[str],
    warmup: float,
    load_end: float,
    gauges: Mapping[str, float] | None = None,
    copies: pd.DataFrame | None = None,
    drain: tuple[float, bool] = (math.nan, False),
    undone: pd.DataFrame | None = None,
    reverts: pd.DataFrame | None = None,
    scopes: Scopes = None,
) -> dict[str, float]:
    """The metrics of one run (one pattern, one replication).

    ``gauges`` carries what the pattern's components measured themselves (the metrics its
    model declares, :mod:`sim.metrics.catalog`); ``copies`` the run's :func:`copy_table`, whose
    lost, pending, duplicate, reorder and phantom counts add up to the run's; ``drain`` how
    long the drain ran and whether it stopped at its cap; ``undone`` and ``reverts`` a saga's
    compensations (:mod:`sim.metrics.compensation`); ``scopes`` the keys each copy holds
    (several entities: :mod:`sim.metrics.consistency`).
    """
    # masks over the whole frame and only the columns needed: no copy of the measured rows
    after = (requests["start"] >= warmup).to_numpy(bool)
    measured = int(after.sum())
    ok = (requests["outcome"] == "ok").to_numpy(bool) & after
    answered = int(ok.sum())
    latency = requests["latency"].to_numpy(float)[ok]
    window = max(load_end - warmup, 1e-12)
    owner = owner_history(commits, undone)
    stale = stale_read_flags(requests, owner, ok & (requests["op"] == "read").to_numpy(bool))
    delays = propagation.loc[propagation["commit_time"] >= warmup, "delay"].to_numpy(float)
    never = np.isnan(delays)
    censored = np.where(never, np.inf, delays)  # never arrived: infinitely stale
    del delays
    censored.sort()
    per_copy = (
        copies
        if copies is not None
        else copy_table(
            propagation, commits, applies, replicas, warmup, undone=undone, scopes=scopes
        )
    )
    counts = {name: float(per_copy[name].sum()) for name in _COUNTED}
    return {
        "latency_mean": float(latency.mean()) if len(latency) else math.nan,
        "latency_p50": _percentile(latency, 50),
        "latency_p95": _percentile(latency, 95),
        "latency_p99": _percentile(latency, 99),
        "latency_p999": _percentile(latency, 99.9),
        "throughput": answered / window,
        "error_rate": (measured - answered) / measured if measured else math.nan,
        "staleness_p50": censored_percentile(censored, 50, presorted=True),
        "staleness_p99": censored_percentile(censored, 99, presorted=True),
        "staleness_max": float(censored[-1]) if len(censored) else math.nan,
        "never_propagated": float(never.mean()) if len(never) else math.nan,
        "stale_read_rate": float(stale.mean()) if len(stale) else math.nan,
        "divergent_keys": float(
            divergent_keys(owner, copy_history(applies, reverts), replicas, warmup, scopes)
        ),
        **counts,
        "committed_versions": float(committed_since(commits, undone, warmup)),
        "read_your_writes_violations": float(read_your_writes_violations(requests, after)),
        "drain_time": float(drain[0]),
        "drain_capped": float(drain[1]),
        **dict(gauges or {}),
    }


def committed_since(commits: pd.DataFrame, undone: pd.DataFrame | None, since: float) -> int:
    """The versions the owner committed at or after ``since`` and kept (not undone): the
    versions whose (version, copy) pairs :func:`lost_and_pending` counts."""
    kept = kept_commits(commits, undone)
    return int((kept["time"] >= since).sum()) if len(kept) else 0


_COUNTED = ("lost_updates", "pending_at_end", "duplicates", "reorders", "phantom_writes")


def copy_table(
    propagation: pd.DataFrame,
    commits: pd.DataFrame,
    applies: pd.DataFrame,
    replicas: list[str],
    warmup: float,
    pending: Mapping[int, PairsLike] | None = None,
    undone: pd.DataFrame | None = None,
    scopes: Scopes = None,
) -> pd.DataFrame:
    """The consistency metrics of one run, copy by copy (:data:`COPY_COLUMNS`): the same
    definitions as :func:`replication_metrics`, restricted to one copy's pairs and applies
    (and, with ``scopes``, to the commits of the keys it holds),
    so the counts of all copies add up to the run's (undone versions are neither lost nor
    pending)."""
    rows = []
    kept = kept_commits(commits, undone)
    measured = (propagation["commit_time"] >= warmup).to_numpy(bool)  # a mask: no copy
    all_delays = propagation["delay"].to_numpy(float)
    for index, name in enumerate(replicas):
        delays = all_delays[measured & (propagation["replica"] == name).to_numpy(bool)]
        never = np.isnan(delays)
        censored = np.where(never, np.inf, delays)
        mine = applies[applies["replica"] == index].assign(replica=0)
        still = {0: (pending or {}).get(index, ())}
        held = kept
        if scopes is not None:  # the commits of the keys this copy holds
            first, end = scopes[index]
            held = kept[kept["key"].between(first, end - 1)]
        lost, waiting = lost_and_pending(held, mine, [name], still, warmup)
        anomalies = apply_anomalies(commits, mine, warmup)
        rows.append(
            (
                name,
                len(delays),
                censored_percentile(censored, 50),
                censored_percentile(censored, 99),
                float(never.mean()) if len(never) else math.nan,
                lost,
                waiting,
                anomalies["duplicates"],
                anomalies["reorders"],
                anomalies["phantom_writes"],
            )
        )
    return pd.DataFrame(rows, columns=COPY_COLUMNS)


def summarize(
    rows: Iterable[tuple[str, Mapping[str, float]]], metrics: list[str] | None = None
) -> pd.DataFrame:
    """Mean and 95% Student-t interval per (pattern, metric) over replications.

    ``rows`` holds ``(pattern, metrics of one replication)``; patterns keep their first-seen
    order; ``metrics`` names the rows per pattern (by default the common metrics). A metric a
    pattern does not have is NaN (not applicable), shown empty. Columns:
    ``pattern, metric, mean, ci_low, ci_high, n``.
    """
    grouped: dict[str, list[Mapping[str, float]]] = {}
    for pattern, values in rows:
        grouped.setdefault(pattern, []).append(values)
    names = metrics or [m.name for m in COMMON]
    records = []
    for pattern, runs in grouped.items():
        for metric in names:
            found = [float(run.get(metric, math.nan)) for run in runs]
            if any(value == math.inf for value in found):  # "never" in some replication
                count = sum(1 for value in found if not math.isnan(value))
                records.append((pattern, metric, math.inf, math.nan, math.nan, count))
                continue
            mean, low, high, n = mean_ci(found)
            records.append((pattern, metric, mean, low, high, n))
    return pd.DataFrame(records, columns=["pattern", "metric", "mean", "ci_low", "ci_high", "n"])


def format_value(metric: str, value: float) -> str:
    """A metric's value for people: ``32.8 ms``, ``1.5 s``, ``3.6%``, ``120/s``, ``43``;
    ``never`` for an infinite staleness (something never arrived), ``—`` for not measured."""
    if value is not None and value == math.inf:
        return "never"
    if value is None or not math.isfinite(value):
        return "—"
    found = known_metrics().get(base_metric(metric))
    unit = found.unit if found is not None else ""
    if unit == "s":
        return f"{value:.3g} s" if abs(value) >= 1 else f"{value * 1000:.3g} ms"
    if unit == "fraction":
        return f"{value * 100:.3g}%"
    if unit == "1/s":
        return f"{value:.4g}/s"
    return f"{value:.4g}"


def shown_interval(metric: str, low: float, high: float) -> tuple[float, float, bool]:
    """The interval as shown to people: clipped to the values the metric can take (a count
    is never below 0, a fraction never above 100 %); the flag says it was clipped, i.e. the
    Student-t interval does not fit this metric here (few replications, a skewed metric)."""
    found = known_metrics().get(base_metric(metric))
    if found is None or not (math.isfinite(low) and math.isfinite(high)):
        return low, high, False
    bottom, top = found.bounds
    clipped = low < bottom or high > top
    return max(low, bottom), min(high, top), clipped
