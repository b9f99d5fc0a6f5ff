"""Consistency metrics on small hand-made histories whose answers can be read off by eye."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.kernel.recorder import Recorder
from sim.metrics.consistency import (
    ConsistencyLog,
    divergent_keys,
    final_versions,
    propagation,
    stale_read_flags,
)


def commits(*rows: tuple[int, int, float]) -> pd.DataFrame:
    """Owner commits from (key, version, time)."""
    return pd.DataFrame(
        {
            "key": np.array([r[0] for r in rows], dtype=np.int64),
            "version": np.array([r[1] for r in rows], dtype=np.int64),
            "time": np.array([r[2] for r in rows], dtype=float),
        }
    )


def applies(*rows: tuple[int, int, int, float]) -> pd.DataFrame:
    """Copies' applies from (replica index, key, version, time)."""
    return pd.DataFrame(
        {
            "replica": np.array([r[0] for r in rows], dtype=np.int64),
            "key": np.array([r[1] for r in rows], dtype=np.int64),
            "version": np.array([r[2] for r in rows], dtype=np.int64),
            "time": np.array([r[3] for r in rows], dtype=float),
        }
    )


def reads(*rows: tuple[int, float, int]) -> pd.DataFrame:
    """Reads from (key, start, version returned)."""
    return pd.DataFrame(
        {
            "key": np.array([r[0] for r in rows], dtype=np.int64),
            "start": np.array([r[1] for r in rows], dtype=float),
            "version": np.array([r[2] for r in rows], dtype=np.int64),
        }
    )


def delays(frame: pd.DataFrame, replica: str) -> dict[tuple[int, int], float]:
    mine = frame[frame["replica"] == replica]
    return {
        (int(k), int(v)): float(d)
        for k, v, d in zip(mine["key"], mine["version"], mine["delay"], strict=True)
    }


# -- propagation -------------------------------------------------------------------------------


def test_delay_runs_from_commit_to_the_first_apply_of_that_version() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0), (2, 1, 1.5))
    copy = applies((0, 1, 1, 1.25), (0, 1, 2, 2.5), (0, 2, 1, 4.0), (0, 2, 1, 9.0))
    found = delays(propagation(history, copy, ["search"]), "search")
    assert found == {(1, 1): 0.25, (1, 2): 0.5, (2, 1): 2.5}


def test_a_newer_version_counts_as_reaching_an_older_one() -> None:
    # version 1 is skipped by the copy: it goes straight to 2, which also propagates 1
    history = commits((1, 1, 1.0), (1, 2, 2.0))
    copy = applies((0, 1, 2, 3.0))
    assert delays(propagation(history, copy, ["search"]), "search") == {(1, 1): 2.0, (1, 2): 1.0}


def test_out_of_order_apply_keeps_the_first_time_the_copy_was_new_enough() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0))
    copy = applies((0, 1, 2, 5.0), (0, 1, 1, 6.0))  # v2 arrives, then the late v1 overwrites it
    assert delays(propagation(history, copy, ["search"]), "search") == {(1, 1): 4.0, (1, 2): 3.0}


def test_a_version_never_reached_has_nan_delay() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0), (3, 1, 0.5))
    copy = applies((0, 1, 1, 1.5), (0, 2, 7, 1.0))  # key 2 is a different key, however new
    found = delays(propagation(history, copy, ["search"]), "search")
    assert found[(1, 1)] == 0.5
    assert math.isnan(found[(1, 2)])
    assert math.isnan(found[(3, 1)])


def test_each_replica_is_measured_on_its_own_applies() -> None:
    history = commits((1, 1, 1.0))
    copy = applies((1, 1, 1, 1.75), (0, 1, 1, 1.25))
    frame = propagation(history, copy, ["search", "billing", "audit"])
    assert delays(frame, "search") == {(1, 1): 0.25}
    assert delays(frame, "billing") == {(1, 1): 0.75}
    assert math.isnan(delays(frame, "audit")[(1, 1)])
    assert list(frame.columns) == ["replica", "key", "version", "commit_time", "delay"]
    assert frame["commit_time"].tolist() == [1.0, 1.0, 1.0]


def test_no_replicas_gives_an_empty_frame_with_the_columns() -> None:
    frame = propagation(commits((1, 1, 1.0)), applies(), [])
    assert frame.empty
    assert list(frame.columns) == ["replica", "key", "version", "commit_time", "delay"]


# -- stale reads -------------------------------------------------------------------------------


def test_a_read_is_stale_when_it_returns_less_than_was_committed_when_it_began() -> None:
    history = commits((1, 1, 1.0), (1, 2, 3.0), (2, 1, 2.0))
    flags = stale_read_flags(
        reads(
            (1, 0.5, 0),  # nothing committed yet: fresh
            (1, 2.0, 1),  # v1 committed: fresh
            (1, 3.5, 1),  # v2 committed at 3.0: stale
            (1, 3.5, 2),  # fresh
            (2, 1.0, 0),  # key 2 not yet committed: fresh
            (2, 2.5, 0),  # stale
            (9, 5.0, 0),  # never committed: fresh
        ),
        history,
    )
    assert flags.tolist() == [False, False, True, False, False, True, False]


def test_stale_flags_follow_the_reads_own_order_not_their_start_times() -> None:
    history = commits((1, 1, 1.0))
    flags = stale_read_flags(reads((1, 5.0, 0), (1, 0.5, 0), (1, 2.0, 1)), history)
    assert flags.tolist() == [True, False, False]


def test_no_reads_gives_no_flags() -> None:
    assert stale_read_flags(reads(), commits((1, 1, 1.0))).tolist() == []


# -- divergence --------------------------------------------------------------------------------


def test_divergent_keys_compare_each_copys_last_apply_with_the_owners_last_commit() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0), (2, 1, 1.0), (3, 1, 1.0))
    copy = applies(
        (0, 1, 2, 5.0),
        (0, 1, 1, 6.0),  # late v1 wins on replica 0: key 1 diverges
        (0, 2, 1, 2.0),
        (0, 3, 1, 2.0),
        (1, 1, 2, 3.0),
        (1, 2, 1, 3.0),
        # replica 1 never got key 3: it diverges too
    )
    table = final_versions(history, copy, ["search", "billing"])
    assert table.to_dict("index") == {
        1: {"owner": 2, "search": 1, "billing": 2},
        2: {"owner": 1, "search": 1, "billing": 1},
        3: {"owner": 1, "search": 1, "billing": 0},
    }
    assert divergent_keys(history, copy, ["search", "billing"]) == 2


def test_last_apply_is_by_time_not_by_record_order() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0))
    copy = applies((0, 1, 2, 5.0), (0, 1, 1, 4.0))  # recorded late, applied earlier
    assert divergent_keys(history, copy, ["search"]) == 0


def test_copies_that_caught_up_do_not_diverge() -> None:
    history = commits((1, 1, 1.0), (1, 2, 2.0), (2, 1, 1.0))
    copy = applies((0, 1, 1, 1.5), (0, 1, 2, 2.5), (0, 2, 1, 1.2))
    assert divergent_keys(history, copy, ["search"]) == 0


def test_no_replicas_means_no_divergence() -> None:
    assert divergent_keys(commits((1, 1, 1.0)), applies(), []) == 0


def test_nothing_committed_means_no_divergence() -> None:
    assert divergent_keys(commits(), applies(), ["search"]) == 0


# -- the log feeds the metrics ------------------------------------------------------------------


def test_recorded_log_gives_frames_the_metrics_accept() -> None:
    recorder = Recorder()
    log = ConsistencyLog(recorder, ["search"])
    log.commit(4, 1, 0.5)
    log.apply(0, 4, 1, 0.75)
    log.commit(4, 2, 1.0)
    frames = recorder.frames()
    assert (
        delays(propagation(frames["commits"], frames["applies"], log.replicas), "search")[(4, 1)]
        == 0.25
    )
    assert math.isnan(
        delays(propagation(frames["commits"], frames["applies"], log.replicas), "search")[(4, 2)]
    )
    assert divergent_keys(frames["commits"], frames["applies"], log.replicas) == 1
