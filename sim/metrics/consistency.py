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

The two analyses of what the clients' reads returned, stale reads and read-your-writes, are
in :mod:`sim.metrics.reads` (and exported from here too).

Every analysis works on numpy columns of the run's tables (sorts, searches and running maxima:
:mod:`sim.metrics.groups`, :mod:`sim.metrics.pairs`), not on pandas group-bys and merges: at
a million requests those build copies of the tables that, on top of what the run holds, set
the run's peak memory.

A saga also records its compensations: ``undo(key, version, restored)`` — the owner undid
``version`` and its row holds ``restored`` from then on — and ``revert(replica, key, version,
restored)`` — a copy undid it. How they enter the analyses is said in
:mod:`sim.metrics.compensation`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from sim.kernel.recorder import Recorder, category
from sim.metrics.groups import group_starts, latest_by_key, running_max
from sim.metrics.pairs import Pairs, PairsLike, as_pairs, pair_positions, pairs_in, pairs_of
from sim.metrics.reads import read_your_writes_violations, stale_read_flags

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
            "applies", {"replica": "i", "key": "q", "version": "q", "time": "d"}
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
            {"replica": "i", "key": "q", "version": "q", "restored": "q", "time": "d"},
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


def _latest(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(key, version, time)`` of each key's latest row of ``frame`` (:func:`latest_by_key`)."""
    return latest_by_key(
        frame["key"].to_numpy(np.int64),
        frame["time"].to_numpy(np.float64),
        frame["version"].to_numpy(np.int64),
    )


def _at(keys: np.ndarray, found: np.ndarray, values: np.ndarray, missing: float) -> np.ndarray:
    """``values`` (by ``found``, ascending keys) at each of ``keys``; ``missing`` elsewhere."""
    where = np.minimum(np.searchsorted(found, keys), max(len(found) - 1, 0))
    hit = (found[where] == keys) if len(found) else np.zeros(len(keys), dtype=bool)
    out = np.full(len(keys), missing, dtype=values.dtype if len(values) else np.float64)
    out[hit] = values[where[hit]]
    return out


def final_versions(
    commits: pd.DataFrame, applies: pd.DataFrame, replicas: list[str]
) -> pd.DataFrame:
    """Owner's and each copy's final version of every key touched: ``key, owner, <replica>...``.

    The owner's final version is its last commit in time; a copy's, its last apply in time;
    0 for a key never committed (a copy can still hold a phantom of it) or never applied.
    """
    return _finals(commits, applies, replicas)[0]


def _finals(
    commits: pd.DataFrame, applies: pd.DataFrame, replicas: list[str]
) -> tuple[pd.DataFrame, np.ndarray]:
    """:func:`final_versions` and each of its keys' last commit time (NaN: none)."""
    owner = _latest(commits)
    side = applies["replica"].to_numpy(np.int64)
    copies = [_latest(applies[side == index]) for index in range(len(replicas))]
    keys = np.unique(np.concatenate([owner[0], *(found[0] for found in copies)]))
    columns = {"owner": _at(keys, owner[0], owner[1], 0).astype(np.int64)}
    for name, found in zip(replicas, copies, strict=True):
        columns[name] = _at(keys, found[0], found[1], 0).astype(np.int64)
    table = pd.DataFrame(columns, index=pd.Index(keys, dtype=np.int64, name="key"))
    return table, _at(keys, owner[0], owner[2], math.nan).astype(np.float64)


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
    table, committed = _finals(commits, applies, replicas)
    if table.empty:
        return 0
    differs = np.zeros(len(table), dtype=bool)
    keys = table.index.to_numpy(np.int64)
    for index, name in enumerate(replicas):
        apart = table[name].to_numpy() != table["owner"].to_numpy()
        mask = in_scope(keys, None if scopes is None else scopes[index])
        differs |= apart if mask is None else apart & mask
    # a key never committed (a phantom) is measured by its last apply
    applied_keys, _, applied_at = _latest(applies)
    applied = _at(keys, applied_keys, applied_at, -np.inf)
    measured = np.where(np.isnan(committed), applied >= since, committed >= since)
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
    # the applies by copy, key and time (stable: equal times keep their order)
    times = applies["time"].to_numpy(np.float64)
    order = np.lexsort(
        (times, applies["key"].to_numpy(np.int64), applies["replica"].to_numpy(np.int64))
    )
    times = times[order]
    replica = applies["replica"].to_numpy(np.int64)[order]
    key = applies["key"].to_numpy(np.int64)[order]
    version = applies["version"].to_numpy(np.int64)[order]
    del order
    # a repeat: the same (copy, key, version) applied earlier in that order (lexsort is
    # stable: equal triples keep it)
    again = np.lexsort((version, key, replica))
    repeat = np.empty(len(version), dtype=bool)
    repeat[again] = ~group_starts(replica[again], key[again], version[again])
    del again
    # older than the largest version the copy applied for the key before it
    starts = group_starts(replica, key)
    before = running_max(version, starts)
    older = np.zeros(len(version), dtype=bool)
    older[1:] = (version[1:] < before[:-1]) & ~starts[1:]
    del before, starts, replica
    stamps, stamped_at = _first_commits(commits)
    at = pair_positions(key, version, stamps)
    phantom = at < 0
    committed_at = np.full(len(at), np.nan)
    committed_at[~phantom] = stamped_at[at[~phantom]]
    measured = np.where(phantom, times >= since, committed_at >= since)
    return {
        "duplicates": int((repeat & measured).sum()),
        "reorders": int((older & ~repeat & measured).sum()),
        "phantom_writes": int((phantom & ~repeat & measured).sum()),
    }


def _first_commits(commits: pd.DataFrame) -> tuple[Pairs, np.ndarray]:
    """The distinct (key, version) pairs of ``commits`` (sorted) and the time of each one's
    first row."""
    keys = commits["key"].to_numpy(np.int64)
    versions = commits["version"].to_numpy(np.int64)
    order = np.lexsort((versions, keys))  # stable: a pair's first row comes first
    first = order[group_starts(keys[order], versions[order])]
    pairs = np.column_stack([keys[first], versions[first]]).reshape(-1, 2)
    return pairs, commits["time"].to_numpy(np.float64)[first]


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
    recent = (commits["time"] >= since).to_numpy(bool)
    keys = commits["key"].to_numpy(np.int64)[recent]
    versions = commits["version"].to_numpy(np.int64)[recent]
    side = applies["replica"].to_numpy(np.int64)
    lost = waiting = 0
    for index in range(len(replicas)):
        mine = side == index
        reached = pairs_of(
            applies["key"].to_numpy(np.int64)[mine], applies["version"].to_numpy(np.int64)[mine]
        )
        missing = ~pairs_in(keys, versions, reached)
        still = (pending or {}).get(index)
        later = pairs_in(keys, versions, as_pairs(() if still is None else still))
        waiting += int((missing & later).sum())
        lost += int((missing & ~later).sum())
    return lost, waiting
