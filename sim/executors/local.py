"""The local executor: this process (``local:1``) or a pool of worker processes on this machine
(``local:N``, ``local`` for one per core available).

It is :func:`sim.runner.execute` behind the :class:`~sim.executors.interface.Executor`
interface: a stdlib ``multiprocessing`` pool (forked where the platform can, spawned
elsewhere), one task at a time per worker, results in the order they finish, workers that
ignore Ctrl-C so the caller sees the interrupt and the pool is stopped. A batch of one task,
or one worker, runs in this process. Left out: a pool kept between batches (each call to
:meth:`LocalExecutor.run` starts its own, as many processes as it has tasks at most).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from sim.executors.interface import Executor
from sim.runner import RunResult, Task, default_workers, execute

__all__ = ["LocalExecutor"]


class LocalExecutor(Executor):
    """Runs tasks in this process, or in ``workers`` processes of this machine."""

    def __init__(self, workers: int | None = None) -> None:
        self.workers = default_workers() if workers is None else max(1, workers)
        self.description = f"local:{self.workers}"

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, RunResult]]:
        yield from execute(tasks, workers=min(self.workers, max(len(tasks), 1)))
