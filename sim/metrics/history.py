"""One run's history, as the invariants read it: the owner's commits (and what a saga undid),
every copy's applies (and reverts), the client's requests, and what could still arrive at the
end of the drain; and the timeline of one key (:func:`timeline`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from sim.metrics.compensation import copy_history, kept_commits, owner_history
from sim.metrics.consistency import Scopes

__all__ = ["History", "rows", "timeline"]


@dataclass(frozen=True)
class History:
    """What one run did, as the invariants read it."""

    commits: pd.DataFrame
    """``key, version, time``: the owner's commits."""
    applies: pd.DataFrame
    """``replica, key, version, time``: the copies' applies (``replica`` indexes ``replicas``)."""
    requests: pd.DataFrame
    """One row per request: ``op, key, service, start, latency, outcome, version``."""
    replicas: list[str]
    warmup: float = 0.0
    pending: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame({"replica": [], "key": [], "version": []})
    )
    """``replica, key, version`` still able to arrive at the end (in a log or a buffer)."""
    undone: pd.DataFrame | None = None
    """``key, version, restored, time``: versions the owner undid (a saga's compensations)."""
    reverts: pd.DataFrame | None = None
    """``replica, key, version, restored, time``: versions a copy undid."""
    polls: pd.DataFrame | None = None
    """``time, connector, bound, from_ts, from_id, to_ts, to_id, rows``: a query-based
    poller's snapshots (:mod:`sim.connectors.positions`)."""
    stamps: pd.DataFrame | None = None
    """``key, version, stamp, row_id``: the timestamp and id columns each commit gave
    its row (a query-based poller's table)."""
    scopes: Scopes = None
    """The keys each copy holds (several entities); None: every copy holds every key."""

    @property
    def kept(self) -> pd.DataFrame:
        """The commits whose version was not undone."""
        return kept_commits(self.commits, self.undone)

    @property
    def owner_versions(self) -> pd.DataFrame:
        """The versions the owner's row held, in time (commits and restores)."""
        return owner_history(self.commits, self.undone)

    @property
    def copy_versions(self) -> pd.DataFrame:
        """The versions each copy held, in time (applies and reverts)."""
        return copy_history(self.applies, self.reverts)


def rows(frame: pd.DataFrame, *columns: str) -> Iterator[tuple[Any, ...]]:
    """The values of ``columns``, row by row, as plain Python values."""
    return zip(*(frame[column].tolist() for column in columns), strict=True)


def timeline(history: History, key: int) -> pd.DataFrame:
    """Everything that happened to ``key``, in time order: ``time, event, where, version,
    detail`` (commits at the owner, applies at each copy, requests with their outcome; with a
    query-based poller, the stamp each commit gave the row, at the time it names, and the
    polls from the one before the key's first event to the one after its last, with their
    bounds and positions)."""
    events: list[tuple[float, str, str, int, str]] = []
    commits = history.commits[history.commits["key"] == key]
    events += [
        (float(t), "commit", "owner", int(v), "")
        for v, t in commits[["version", "time"]].itertuples(index=False, name=None)
    ]
    if history.stamps is not None:  # the row's columns, fixed when its transaction began
        stamps = history.stamps[history.stamps["key"] == key]
        events += [
            (float(s), "stamp", "owner", int(v), f"timestamp column {_at(s)}, id {int(i)}")
            for v, s, i in rows(stamps, "version", "stamp", "row_id")
        ]
    applies = history.applies[history.applies["key"] == key]
    events += [
        (float(t), "apply", history.replicas[int(r)], int(v), "")
        for r, v, t in applies[["replica", "version", "time"]].itertuples(index=False, name=None)
    ]
    requests = history.requests[history.requests["key"] == key]
    for op, service, start, latency, outcome, version in rows(
        requests, "op", "service", "start", "latency", "outcome", "version"
    ):
        events.append((float(start), f"{op} sent", str(service), -1, ""))
        end = float(start + latency)
        events.append((end, f"{op} {outcome}", str(service), int(version), ""))
    if history.polls is not None and events:
        times = [t for t, *_ in events]
        events += _polls(history.polls, min(times), max(times))
    frame = pd.DataFrame(events, columns=["time", "event", "where", "version", "detail"])
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _at(seconds: float) -> str:
    return "never" if seconds == float("-inf") else f"{seconds:.6f}s"


def _polls(
    polls: pd.DataFrame, first: float, last: float
) -> list[tuple[float, str, str, int, str]]:
    """The polls whose snapshot lies in [``first``, ``last``], the one before and the one
    after (the poll that would have read a row committed last)."""
    times = polls["time"]
    chosen = pd.concat(
        [
            polls[times < first].tail(1),
            polls[(times >= first) & (times <= last)],
            polls[times > last].head(1),
        ]
    )
    found = []
    for t, connector, bound, from_ts, to_ts, n in rows(
        chosen, "time", "connector", "bound", "from_ts", "to_ts", "rows"
    ):
        window = f"stamps after {_at(from_ts)}" + (
            f" and before {_at(bound)}" if bound != float("inf") else ""
        )
        detail = f"snapshot reads {window}; {n} rows; position then {_at(to_ts)}"
        found.append((float(t), "poll", str(connector), -1, detail))
    return found
