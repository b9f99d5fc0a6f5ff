"""Compensations in the consistency metrics, on a small hand-made saga history: an undone
version is neither lost nor pending, the owner's state is the version it went back to, and a
copy that showed the undone version for a while counts a dirty window."""

from __future__ import annotations

import pandas as pd

from sim.kernel.recorder import Recorder
from sim.metrics.compensation import dirty_reads, dirty_window, kept_commits
from sim.metrics.consistency import ConsistencyLog
from sim.metrics.summarize import copy_table, replication_metrics

REPLICAS = ["orders", "billing"]


def _history() -> dict[str, pd.DataFrame]:
    """Key 7: version 1 reaches both copies; version 2 reaches orders at 2.0, fails at billing,
    and is undone at orders at 2.5 and at the owner at 3.0 (back to 1)."""
    recorder = Recorder()
    log = ConsistencyLog(recorder, REPLICAS)
    log.commit(7, 1, 0.0)
    log.apply(0, 7, 1, 0.1)
    log.apply(1, 7, 1, 0.2)
    log.commit(7, 2, 1.9)
    log.apply(0, 7, 2, 2.0)
    log.revert(0, 7, 2, 1, 2.5)
    log.undo(7, 2, 1, 3.0)
    return recorder.frames()


def _reads() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "op": ["read"] * 3,
            "key": [7, 7, 7],
            "service": ["orders"] * 3,
            "start": [1.0, 2.2, 3.5],
            "latency": [0.01] * 3,
            "outcome": ["ok"] * 3,
            "version": [1, 2, 1],
            "work": [0.0] * 3,
        }
    )


def test_an_undone_version_is_neither_lost_nor_pending_nor_divergent() -> None:
    frames = _history()
    commits, applies, undone = frames["commits"], frames["applies"], frames["undone"]
    assert kept_commits(commits, undone)["version"].tolist() == [1]
    copies = copy_table(
        pd.DataFrame(columns=["replica", "commit_time", "delay"]),
        commits,
        applies,
        REPLICAS,
        0.0,
        undone=undone,
    )
    assert copies["lost_updates"].tolist() == [0, 0]
    metrics = replication_metrics(
        _reads(),
        pd.DataFrame(columns=["replica", "commit_time", "delay"]),
        commits,
        applies,
        REPLICAS,
        0.0,
        10.0,
        undone=undone,
        reverts=frames["reverts"],
    )
    assert metrics["divergent_keys"] == 0
    assert metrics["lost_updates"] == 0
    assert metrics["duplicates"] == metrics["reorders"] == metrics["phantom_writes"] == 0
    # the read at 2.2 returned version 2 while the owner held it: not stale, but dirty; the
    # read at 3.5 returned 1 after the owner went back to 1: not stale
    assert metrics["stale_read_rate"] == 0


def test_without_the_undo_the_same_history_is_lost_and_divergent() -> None:
    frames = _history()
    metrics = replication_metrics(
        _reads(),
        pd.DataFrame(columns=["replica", "commit_time", "delay"]),
        frames["commits"],
        frames["applies"],
        REPLICAS,
        0.0,
        10.0,
    )
    assert metrics["lost_updates"] == 1  # version 2 never reached billing
    assert metrics["divergent_keys"] == 1  # orders' last apply is 2; billing holds 1


def test_dirty_reads_and_window_count_what_a_copy_showed_of_an_undone_version() -> None:
    frames = _history()
    undone = frames["undone"]
    assert dirty_reads(_reads(), undone) == 1
    # orders held version 2 from 2.0 to 2.5; billing never did
    assert dirty_window(frames["applies"], frames["reverts"], undone, end=10.0) == 0.5
    assert dirty_window(frames["applies"], frames["reverts"], undone, end=10.0, since=2.25) == 0.25
    assert dirty_window(frames["applies"], frames["reverts"], None, end=10.0) == 0.0
