"""The local executor: this process (``local:1``) or a pool of worker processes on this machine
(``local:N``, ``local`` for one per core available).

A stdlib ``multiprocessing`` pool (forked where the platform can, spawned elsewhere), one call
at a time per worker, results in the order they finish, workers that ignore Ctrl-C so the
caller sees the interrupt and the pool is stopped. A batch of one call, or one worker, runs in
this process. Left out: a pool kept between batches (each call to :meth:`LocalExecutor.map`
starts its own, as many processes as it has calls at most).
"""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator, Sequence
from multiprocessing import get_all_start_methods, get_context
from typing import TypeVar

from sim.executors.interface import Executor

__all__ = ["LocalExecutor", "call_each", "default_workers"]

T = TypeVar("T")
R = TypeVar("R")


class LocalExecutor(Executor):
    """Runs tasks in this process, or in ``workers`` processes of this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self.description = f"local:{self.workers}"

    @property
    def in_process(self) -> bool:
        return self.workers == 1

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        yield from call_each(function, items, workers=min(self.workers, max(len(items), 1)))


def call_each(
    function: Callable[[T], R], items: Sequence[T], workers: int = 1
) -> Iterator[tuple[int, R]]:
    """Call ``function`` (a module-level function: it goes to the workers by name) on each
    item, in worker processes when ``workers > 1``, yielding ``(index of the item, its result)``
    as each finishes (in item order with one worker, in finishing order with several). Workers
    ignore SIGINT: on Ctrl-C the caller gets ``KeyboardInterrupt`` and the workers are stopped,
    with what was already yielded kept."""
    if workers <= 1 or len(items) <= 1:
        for index, item in enumerate(items):
            yield index, function(item)
        return
    method = "fork" if "fork" in get_all_start_methods() else "spawn"
    pool = get_context(method).Pool(min(workers, len(items)), initializer=_ignore_sigint)
    calls = [(index, function, item) for index, item in enumerate(items)]
    try:
        yield from pool.imap_unordered(_call_indexed, calls, chunksize=1)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


def _call_indexed(call: tuple[int, Callable[[T], R], T]) -> tuple[int, R]:
    index, function, item = call
    return index, function(item)


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def default_workers() -> int:
    """Worker processes to use by default: the cores available."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)
