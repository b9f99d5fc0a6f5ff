"""The cyclic collector during a run (sim/kernel/collector.py), and what a run leaves to it.

A run's per-request objects (calls, attempts, sends, fan-outs) are freed by reference
counting; only the topology is left in cycles for the collection at the end of the run, with
what it keeps (the broker's records, the rows' metadata). So the cyclic garbage a run leaves
grows by a couple of objects per request at most, where a nest of closures that name one
another (a call's attempt, retry and answer) leaves five to seventy-five.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path
from typing import Any

import pytest

from sim.api import load
from sim.broker.log import Record
from sim.infra.rows import Commit, CommitLog
from sim.kernel.collector import YOUNG_THRESHOLD, collector_out_of_the_way
from sim.runner import Task, run_one

ALL_PATTERNS = Path(__file__).resolve().parent.parent / "scenarios" / "all-patterns.yaml"


def test_the_collector_is_restored_after_a_run_even_one_that_fails() -> None:
    before = gc.get_threshold()
    with pytest.raises(RuntimeError), collector_out_of_the_way():
        assert gc.get_threshold()[0] == YOUNG_THRESHOLD
        assert gc.get_freeze_count() > 0
        raise RuntimeError("the run failed")
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_overlapping_runs_in_threads_restore_it_once_the_last_one_ends() -> None:
    before = gc.get_threshold()
    entered, release = threading.Barrier(3), threading.Event()
    seen: list[tuple[int, ...]] = []

    def run() -> None:
        with collector_out_of_the_way():
            entered.wait()
            release.wait()
            seen.append(gc.get_threshold())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    entered.wait()
    release.set()
    for thread in threads:
        thread.join()
    assert all(threshold[0] == YOUNG_THRESHOLD for threshold in seen)
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def _cyclic_garbage(kind: str, seconds: float) -> tuple[int, int]:
    """(objects the collector freed, requests) of one run of ``kind`` with the collector off
    during the run: everything left in cycles is freed by the run's final collection."""
    scenario = load(
        ALL_PATTERNS,
        overrides=[
            "replications=1",
            "warmup=0s",
            "drain=60s",  # past the producers' request timeout (30 s): no batch held
            f"workload.phases=[{{duration: {seconds:g}s, rate: 1000/s}}]",
        ],
    )
    index = next(i for i, p in enumerate(scenario.patterns) if p.kind == kind)
    freed = [0]

    def count(phase: str, info: dict[str, Any]) -> None:
        if phase == "stop":
            freed[0] += info["collected"]

    gc.collect()
    gc.disable()
    gc.callbacks.append(count)
    try:
        requests = len(run_one(Task(scenario, index, 0)).requests)
        gc.collect()
    finally:
        gc.callbacks.remove(count)
        gc.enable()
    return freed[0], requests


@pytest.mark.parametrize(
    "kind",
    ["sync_http", "two_phase_commit", "dual_write", "event_sourcing", "cdc", "polling", "outbox"],
)
def test_a_run_leaves_no_cycle_per_request(kind: str) -> None:
    small, small_requests = _cyclic_garbage(kind, 1.0)
    large, large_requests = _cyclic_garbage(kind, 3.0)
    assert large_requests > small_requests
    per_request = (large - small) / (large_requests - small_requests)
    assert per_request < 3.0, f"{kind}: {per_request:.1f} objects in cycles per request"


def test_the_commit_log_gives_entries_by_index_and_slice() -> None:
    log = CommitLog()
    assert len(log) == 0 and log[0:5] == []
    first = log.append(7, 1, 0.5, False)
    log.append(9, 1, 0.75, False)
    log.append(7, 2, 1.25, True)
    assert first == Commit(1, 7, 1, 0.5, False)
    assert len(log) == 3
    assert log[-1] == Commit(3, 7, 2, 1.25, True)
    assert log[1:] == [Commit(2, 9, 1, 0.75, False), Commit(3, 7, 2, 1.25, True)]
    assert [entry.lsn for entry in log] == [1, 2, 3]
    assert list(log.keys_from(1)) == [9, 7]
    assert list(log.times) == [0.5, 0.75, 1.25]
    with pytest.raises(IndexError):
        log[3]


def _records_left_in_cycles(kind: str, seconds: float) -> tuple[int, int]:
    """(broker records among what the run left in cycles, requests) with the collector off."""
    scenario = load(
        ALL_PATTERNS,
        overrides=[
            "replications=1",
            "warmup=0s",
            "drain=60s",
            f"workload.phases=[{{duration: {seconds:g}s, rate: 1000/s}}]",
        ],
    )
    index = next(i for i, p in enumerate(scenario.patterns) if p.kind == kind)
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        requests = len(run_one(Task(scenario, index, 0)).requests)
        gc.collect()
        left = sum(1 for thing in gc.garbage if type(thing) is Record)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()
    return left, requests


@pytest.mark.parametrize("kind", ["cdc", "dual_write"])
def test_a_consumer_lets_go_of_a_batch_once_it_is_processed(kind: str) -> None:
    # a batch's step re-arms itself (a cycle): were its records kept in it, every record
    # consumed would wait for the next full collection, a quarter of a million records
    # (about 60 MiB) at a million requests
    left, requests = _records_left_in_cycles(kind, 2.0)
    assert left < 0.01 * requests, f"{kind}: {left} records left in cycles of {requests}"
