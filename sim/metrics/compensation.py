"""Compensations in the consistency analyses: what an undone version means to each metric.

A saga that fails before its pivot undoes its steps with compensating local transactions
[MSP, SAGA-AZ]; :class:`~sim.metrics.consistency.ConsistencyLog` records them as ``undo``
(the owner undid version v of a key; its row holds ``restored`` from then on) and ``revert``
(a copy undid it). A compensation is *not* a commit nor an apply, so the analyses read them so:

- an **undone version is withdrawn**: it was committed (a copy that applied it shows no
  phantom), but it is not meant to reach the copies any more, so it is left out of
  propagation (staleness, ``never_propagated``) and of lost and pending pairs
  (:func:`kept_commits`): ``lost_updates`` still means "a kept version that can no longer
  arrive";
- the **owner's history** is its commits and its restores (:func:`owner_history`): stale reads
  and the owner's final version (``divergent_keys``) are read against the row it holds, so a
  copy converges when it holds the version the owner went back to;
- a **copy's history** is its applies and its reverts (:func:`copy_history`): its final
  version is the last of either; a revert counts neither as a duplicate nor as a reorder;
- **dirty reads** (:func:`dirty_reads`): successful reads that returned a version undone by
  the end of the run (the saga's lack of isolation [MSP]); the **dirty-read window**
  (:func:`dirty_window`): the total time, over copies and keys, during which a copy held a
  version undone by the end.

Left out: compensations that are not undos of a version (semantic compensations such as a
refund that leaves a trace of their own).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["copy_history", "dirty_reads", "dirty_window", "kept_commits", "owner_history"]


def _pairs(frame: pd.DataFrame) -> pd.MultiIndex:
    columns = frame[["key", "version"]].astype(np.int64)
    return (
        pd.MultiIndex.from_frame(columns) if len(columns) else pd.MultiIndex.from_arrays([[], []])
    )


def _undone(undone: pd.DataFrame | None) -> bool:
    return undone is not None and len(undone) > 0


def kept_commits(commits: pd.DataFrame, undone: pd.DataFrame | None) -> pd.DataFrame:
    """The commits whose version was not undone (all of them without compensations)."""
    if undone is None or not _undone(undone):
        return commits
    return commits[~_pairs(commits).isin(_pairs(undone))].reset_index(drop=True)


def owner_history(commits: pd.DataFrame, undone: pd.DataFrame | None) -> pd.DataFrame:
    """The versions the owner's row held, in time: its commits, then each undo's restored
    version at the undo's time (``key, version, time``)."""
    if undone is None or not _undone(undone):
        return commits
    restored = undone[["key", "restored", "time"]].rename(columns={"restored": "version"})
    return pd.concat([commits[["key", "version", "time"]], restored], ignore_index=True)


def copy_history(applies: pd.DataFrame, reverts: pd.DataFrame | None) -> pd.DataFrame:
    """The versions each copy held, in time: its applies and its reverts' restored versions
    (``replica, key, version, time``)."""
    if reverts is None or len(reverts) == 0:
        return applies
    restored = reverts[["replica", "key", "restored", "time"]].rename(
        columns={"restored": "version"}
    )
    columns = ["replica", "key", "version", "time"]
    return pd.concat([applies[columns], restored], ignore_index=True)


def dirty_reads(reads: pd.DataFrame, undone: pd.DataFrame | None) -> int:
    """Reads (``key, version``) that returned a version undone by the end of the run."""
    if undone is None or not _undone(undone) or len(reads) == 0:
        return 0
    return int(_pairs(reads).isin(_pairs(undone)).sum())


def dirty_window(
    applies: pd.DataFrame,
    reverts: pd.DataFrame | None,
    undone: pd.DataFrame | None,
    end: float,
    since: float = 0.0,
) -> float:
    """Seconds, summed over copies and keys, during which a copy held a version undone by the
    end of the run, counted between ``since`` and ``end``."""
    if undone is None or not _undone(undone) or len(applies) == 0:
        return 0.0
    history = copy_history(applies, reverts).sort_values(["replica", "key", "time"], kind="stable")
    times = history["time"].to_numpy(float)
    following = history.groupby(["replica", "key"], sort=False)["time"].shift(-1)
    until = following.fillna(end).to_numpy(float)
    held = np.clip(until, since, end) - np.clip(times, since, end)
    dirty = _pairs(history).isin(_pairs(undone))
    return float(held[dirty].sum())
