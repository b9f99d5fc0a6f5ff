"""Consistency: the owner's committed history against what every copy applied, and when.

During a run a pattern records two facts through :class:`ConsistencyLog`:

* ``commit(key, version)`` — the owner committed ``version`` of ``key`` (versions of a key are
  1, 2, 3, ... in commit order);
* ``apply(replica, key, version)`` — a copy now holds ``version`` of ``key`` (whatever it held
  before). A copy that is the owner's own row (a shared database) applies at the commit.

After the run, pure functions derive:

* **propagation delay** of each (committed version, replica): from the commit to the first
  moment the copy holds that version *or a newer one*; NaN when it never does;
* **stale reads**: a read that returned an older version than the owner had committed when the
  read began;
* **divergent keys**: keys for which some copy's final version differs from the owner's final
  version at the end of the drain;
* **lost updates** and **pending at end**: (committed version, copy) pairs the copy never
  applied by the end of the drain (:func:`lost_and_pending`): lost when the change can no
  longer reach it (it is in no log and no buffer), pending when it still can; lost even if a
  later version did reach the copy (a consumer of the copy never saw that change);
* **duplicates**, **reorders**, **phantom writes** (:func:`apply_anomalies`) and
  **read-your-writes violations** (:func:`read_your_writes_violations`).

A saga also records its compensations: ``undo(key, version, restored)`` — the owner undid
``version`` and its row holds ``restored`` from then on — and ``revert(replica, key, version,
restored)`` — a copy undid it. How they enter the analyses is said in
:mod:`sim.metrics.compensation`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.kernel.recorder import Recorder, category
from sim.metrics.groups import group_starts, running_max
from sim.metrics.pairs import PairsLike, as_pairs, pairs_in

KeyRange = tuple[int, int]
"""The keys ``[first, end)`` a copy holds (one entity's range)."""
Scopes = list[KeyRange] | None
"""Per copy, the keys it holds; None: every copy holds every key (one entity)."""

__all__ = [
    "ConsistencyLog",
    "KeyRange",
    "Scopes",
    "apply_anomalies",
    "divergent_keys",
    "in_scope",
    "lost_and_pending",
    "propagation",
    "read_your_writes_violations",
    "stale_read_flags",
]


class ConsistencyLog:
    """Appends commits and applies to the run's recorder."""

    def __init__(self, recorder: Recorder, replicas: list[str], first: int = 0) -> None:
        """``first``: the number of copy 0 among the run's copies (an entity's first copy,
        when the run has several entities: ``apply(0, ...)`` records copy ``first``)."""
        self.replicas = list(replicas)
        self._recorder = recorder
        commits = recorder.table("commits", {"key": "q", "version": "q", "time": "d"})
        applies = recorder.table(
            "applies", {"replica": "q", "key": "q", "version": "q", "time": "d"}
        )
        self._commit_cols = (
            commits.columns["key"].append,
            commits.columns["version"].append,
            commits.columns["time"].append,
        )
        add_replica = applies.columns["replica"].append
        if first:
            append = add_replica

            def add_replica(replica: int) -> None:
                append(replica + first)

        self._apply_cols = (
            add_replica,
            applies.columns["key"].append,
            applies.columns["version"].append,
            applies.columns["time"].append,
        )

    def commit(self, key: int, version: int, time: float) -> None:
        """The owner committed ``version`` of ``key`` at ``time``."""
        add_key, add_version, add_time = self._commit_cols
        add_key(key)
        add_version(version)
        add_time(time)

    def apply(self, replica: int, key: int, version: int, time: float) -> None:
        """Copy number ``replica`` holds ``version`` of ``key`` from ``time`` on."""
        add_replica, add_key, add_version, add_time = self._apply_cols
        add_replica(replica)
        add_key(key)
        add_version(version)
        add_time(time)

    def undo(self, key: int, version: int, restored: int, time: float) -> None:
        """The owner compensated ``version`` of ``key`` at ``time``: the version is undone
        and the owner's row holds ``restored`` from then on."""
        table = self._recorder.table(
            "undone", {"key": "q", "version": "q", "restored": "q", "time": "d"}
        )
        for column, value in zip(
            ("key", "version", "restored", "time"), (key, version, restored, time), strict=True
        ):
            table.columns[column].append(value)

    def revert(self, replica: int, key: int, version: int, restored: int, time: float) -> None:
        """Copy number ``replica`` compensated ``version`` of ``key`` at ``time``: it holds
        ``restored`` from then on."""
        table = self._recorder.table(
            "reverts",
            {"replica": "q", "key": "q", "version": "q", "restored": "q", "time": "d"},
        )
        values = (replica, key, version, restored, time)
        for column, value in zip(
            ("replica", "key", "version", "restored", "time"), values, strict=True
        ):
            table.columns[column].append(value)


def in_scope(keys: np.ndarray, scope: KeyRange | None) -> np.ndarray | None:
    """Which of ``keys`` lie in a copy's range (None: the copy holds every key)."""
    if scope is None:
        return None
    return (keys >= scope[0]) & (keys < scope[1])


def propagation(
    commits: pd.DataFrame,
    applies: pd.DataFrame,
    replicas: list[str],
    scopes: Scopes = None,
) -> pd.DataFrame:
    """One row per (commit, replica): ``replica, key, version, commit_time, delay``; with
    ``scopes``, only the commits of keys in each copy's range."""
    all_keys = commits["key"].to_numpy(np.int64)
    all_versions = commits["version"].to_numpy(np.int64)
    all_times = commits["time"].to_numpy(float)
    span = (
        int(max(all_versions.max(initial=0), applies["version"].max() if len(applies) else 0)) + 2
    )
    if not replicas:
        return pd.DataFrame(
            {"replica": [], "key": [], "version": [], "commit_time": [], "delay": []}
        )
    a_replicas = applies["replica"].to_numpy(np.int64)
    a_all_keys = applies["key"].to_numpy(np.int64)
    a_all_times = applies["time"].to_numpy(float)
    a_all_versions = applies["version"].to_numpy(np.int64)
    masks = [
        in_scope(all_keys, None if scopes is None else scopes[i]) for i in range(len(replicas))
    ]
    total = sum(len(all_keys) if mask is None else int(mask.sum()) for mask in masks)
    # the frame's columns, filled copy by copy (no per-copy frames to concatenate)
    names = sorted(set(replicas))  # the copy's name as a category: no string per row
    out_copy = np.empty(total, np.int16)
    out_keys, out_versions = np.empty(total, np.int64), np.empty(total, np.int64)
    out_times, out_delays = np.empty(total, float), np.empty(total, float)
    filled = 0
    for index, name in enumerate(replicas):
        keys, versions, times = all_keys, all_versions, all_times
        mask = masks[index]
        if mask is not None:
            keys, versions, times = all_keys[mask], all_versions[mask], all_times[mask]
        mine = np.flatnonzero(a_replicas == index)
        mine = mine[np.lexsort((a_all_times[mine], a_all_keys[mine]))]  # by key, then time
        a_keys, a_times = a_all_keys[mine], a_all_times[mine]
        running = running_max(a_all_versions[mine], group_starts(a_keys))
        composite = a_keys * span + running
        position = np.searchsorted(composite, keys * span + versions, side="left")
        inside = position < len(composite)
        safe = np.where(inside, position, 0)
        found = inside & (len(composite) > 0)
        if len(composite):
            found &= a_keys[safe] == keys
        reached = np.where(found, a_times[safe] if len(a_times) else 0.0, np.nan)
        part = slice(filled, filled + len(keys))
        out_copy[part] = names.index(name)
        out_keys[part], out_versions[part], out_times[part] = keys, versions, times
        np.maximum(reached - times, 0.0, out=out_delays[part])
        filled += len(keys)
    return pd.DataFrame(
        {
            "replica": category(out_copy, names),
            "key": out_keys,
            "version": out_versions,
            "commit_time": out_times,
            "delay": out_delays,
        },
        copy=False,
    )


def stale_read_flags(reads: pd.DataFrame, commits: pd.DataFrame) -> np.ndarray:
    """For each read (``key, start, version``): did it return less than the owner had committed?"""
    if len(reads) == 0:
        return np.zeros(0, dtype=bool)
    if len(commits) == 0:  # nothing committed: a read is stale only below version 0
        return reads["version"].to_numpy(np.int64) < 0
    # the owner's commits by key, then time (ties in commit order); a read finds the last
    # commit of its key at or before its start: both sides folded into one sorted integer
    # (the key's ordinal, then the time's rank among the commit times)
    c_keys = commits["key"].to_numpy(np.int64)
    c_times = commits["time"].to_numpy(float)
    order = np.lexsort((c_times, c_keys))
    c_keys, c_times = c_keys[order], c_times[order]
    c_versions = commits["version"].to_numpy(np.int64)[order]
    keys, ordinal = np.unique(c_keys, return_inverse=True)
    times = np.unique(c_times)
    folded = ordinal.astype(np.int64) * (len(times) + 1) + np.searchsorted(times, c_times)
    r_keys = reads["key"].to_numpy(np.int64)
    where = np.minimum(np.searchsorted(keys, r_keys), len(keys) - 1)
    rank = np.searchsorted(times, reads["start"].to_numpy(float), side="right") - 1
    asked = where * (len(times) + 1) + rank
    last = np.searchsorted(folded, asked, side="right") - 1
    found = (last >= 0) & (c_keys[np.maximum(last, 0)] == r_keys)
    committed = np.where(found, c_versions[np.maximum(last, 0)], 0)
    return reads["version"].to_numpy(np.int64) < committed


def final_versions(
    commits: pd.DataFrame, applies: pd.DataFrame, replicas: list[str]
) -> pd.DataFrame:
    """Owner's and each copy's final version of every key touched: ``key, owner, <replica>...``.

    The owner's final version is its last commit in time; a copy's, its last apply in time;
    0 for a key never committed (a copy can still hold a phantom of it) or never applied.
    """
    columns: dict[str, pd.Series] = {
        "owner": commits.sort_values("time", kind="stable").groupby("key")["version"].last()
    }
    for index, name in enumerate(replicas):
        mine = applies[applies["replica"] == index].sort_values("time", kind="stable")
        columns[name] = mine.groupby("key")["version"].last()
    table = pd.DataFrame(columns).fillna(0).astype(np.int64)
    table.index.name = "key"
    return table


def divergent_keys(
    commits: pd.DataFrame,
    applies: pd.DataFrame,
    replicas: list[str],
    since: float = 0.0,
    scopes: Scopes = None,
) -> int:
    """Keys where some copy's final version differs from the owner's final version, among the
    keys whose last commit (or, for a key only a phantom touched, last apply) came at or after
    ``since``; with ``scopes``, each copy only over the keys of its range."""
    if not replicas:
        return 0
    table = final_versions(commits, applies, replicas)
    if table.empty:
        return 0
    differs = np.zeros(len(table), dtype=bool)
    keys = table.index.to_numpy(np.int64)
    for index, name in enumerate(replicas):
        apart = table[name].to_numpy() != table["owner"].to_numpy()
        mask = in_scope(keys, None if scopes is None else scopes[index])
        differs |= apart if mask is None else apart & mask
    last = pd.concat([commits[["key", "time"]], applies[["key", "time"]]]).groupby("key")["time"]
    recent = last.max().reindex(table.index).fillna(-np.inf).to_numpy() >= since
    committed = commits.groupby("key")["time"].max().reindex(table.index).to_numpy()
    measured = np.where(np.isnan(committed), recent, committed >= since)
    return int((differs & measured).sum())


def apply_anomalies(
    commits: pd.DataFrame, applies: pd.DataFrame, since: float = 0.0
) -> dict[str, int]:
    """Counts over every copy's applies of versions committed at or after ``since`` (for a
    phantom, applied at or after it):

    * ``duplicates`` — applies of a (copy, key, version) after its first;
    * ``reorders`` — *first* applies of a version older than one the copy already applied for
      the key (a redelivered duplicate is only a duplicate);
    * ``phantom_writes`` — distinct (copy, key, version) the owner never committed.
    """
    if len(applies) == 0:
        return {"duplicates": 0, "reorders": 0, "phantom_writes": 0}
    ordered = applies.sort_values(["replica", "key", "time"], kind="stable")
    repeat = ordered.duplicated(["replica", "key", "version"]).to_numpy()
    previous = ordered.groupby(["replica", "key"], sort=False)["version"].cummax()
    earlier = previous.groupby([ordered["replica"], ordered["key"]], sort=False).shift(1)
    older = (ordered["version"] < earlier).to_numpy()
    stamps = commits[["key", "version", "time"]].astype({"key": np.int64, "version": np.int64})
    stamped = (
        ordered[["key", "version"]]
        .astype(np.int64)
        .merge(stamps.drop_duplicates(["key", "version"]), on=["key", "version"], how="left")
    )
    committed_at = stamped["time"].to_numpy(float)
    phantom = np.isnan(committed_at)
    measured = np.where(phantom, ordered["time"].to_numpy(float) >= since, committed_at >= since)
    phantoms = phantom & ~repeat & measured
    return {
        "duplicates": int((repeat & measured).sum()),
        "reorders": int((older & ~repeat & measured).sum()),
        "phantom_writes": int(phantoms.sum()),
    }


def read_your_writes_violations(requests: pd.DataFrame, among: np.ndarray | None = None) -> int:
    """Successful reads that returned an older version of a key than a write already
    acknowledged to the same client session before the read began (with a ``session``
    column; without one, every client is treated as one session). ``among``, a boolean mask,
    keeps only those rows (the measured ones) without copying the frame."""
    ok = (requests["outcome"] == "ok").to_numpy(bool)
    if among is not None:
        ok = ok & among
    op = requests["op"]
    written = ok & (op.isin(("write", "insert")) & (requests["version"] > 0)).to_numpy(bool)
    read = ok & (op == "read").to_numpy(bool)
    if not written.any() or not read.any():
        return 0
    # one sorted walk over the writes (at their acknowledgement) and the reads (at their
    # start), by session and key: a read sees the largest version acknowledged before it
    rows = np.flatnonzero(written | read)
    is_read = read[rows]
    at = requests["start"].to_numpy(float)[rows]
    at[~is_read] += requests["latency"].to_numpy(float)[rows[~is_read]]
    keys = requests["key"].to_numpy(np.int64)[rows]
    by = [keys]
    if "session" in requests.columns:
        by.append(requests["session"].to_numpy(np.int64)[rows])
    # an acknowledgement at the instant a read begins comes before it
    order = np.lexsort((is_read, at, *reversed(by)))
    del at, keys
    starts = group_starts(*(column[order] for column in by))
    del by
    seen = requests["version"].to_numpy(np.int64)[rows[order]]
    is_read = is_read[order]
    acked = running_max(np.where(is_read, 0, seen), starts)  # 0: nothing acknowledged yet
    return int((is_read & (seen < acked)).sum())


def lost_and_pending(
    commits: pd.DataFrame,
    applies: pd.DataFrame,
    replicas: list[str],
    pending: Mapping[int, PairsLike] | None = None,
    since: float = 0.0,
) -> tuple[int, int]:
    """(committed version, copy) pairs committed at or after ``since`` whose version the copy
    never applied, split in two: ``(lost, pending)``. A pair is *pending* when the version can
    still arrive — it is in ``pending[copy]`` (still in a log or a buffer at the end of the
    run) — and *lost* when it cannot."""
    if not replicas or len(commits) == 0:
        return 0, 0
    recent = commits[commits["time"] >= since]
    keys = recent["key"].to_numpy(np.int64)
    versions = recent["version"].to_numpy(np.int64)
    committed = pd.MultiIndex.from_arrays([keys, versions])
    lost = waiting = 0
    for index in range(len(replicas)):
        mine = applies.loc[applies["replica"] == index, ["key", "version"]].astype(np.int64)
        reached = (
            pd.MultiIndex.from_frame(mine) if len(mine) else pd.MultiIndex.from_arrays([[], []])
        )
        missing = ~committed.isin(reached)
        still = (pending or {}).get(index)
        later = pairs_in(keys, versions, as_pairs(() if still is None else still))
        waiting += int((missing & later).sum())
        lost += int((missing & ~later).sum())
    return lost, waiting
