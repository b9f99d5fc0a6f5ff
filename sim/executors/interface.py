"""What every executor is: a place that runs tasks and hands back each result as it finishes.

An executor runs :class:`sim.runner.Task` objects with :func:`sim.runner.run_one` and yields
``(index of the task, its result)`` as each run finishes. A run depends only on its task (the
scenario, the point, the pattern, the replication and their seeds), never on where or in which
order it runs, so every executor gives the same results for the same tasks; the caller puts
them back in task order. Other work of that kind (a whole search of ``explore``, which depends
only on its seed) goes through :meth:`Executor.map`: a module-level function called on each
item. Executors are context managers: leaving the ``with`` block stops the worker processes
or the cluster connection the executor started.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from types import TracebackType
from typing import TypeVar

from sim.runner import RunResult, Task, run_one

__all__ = ["Executor", "ExecutorError"]

T = TypeVar("T")
R = TypeVar("R")


class ExecutorError(ValueError):
    """An executor that cannot be used: a spec that does not parse, Dask not installed, a
    scheduler that cannot be reached."""


class Executor(ABC):
    """Runs tasks somewhere and yields each result as it finishes."""

    description: str = ""
    """How it reads in a message: ``local:2``, ``dask:local:2``, ``dask://host:8786``."""

    @property
    def in_process(self) -> bool:
        """Whether the calls run one after another in this process (so a callback given to
        one is called as it goes)."""
        return False

    @abstractmethod
    def map(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        """Call ``function`` (defined at a module's top level, so that it can be sent by name)
        on each item, yielding ``(index, result)`` as each finishes. On an error or an
        interrupt the calls not yet finished are dropped, and what was yielded is kept."""

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, RunResult]]:
        """Run ``tasks`` (:func:`~sim.runner.run_one` on each), yielding ``(index, result)``
        as each finishes, as :meth:`map` does."""
        return self.map(run_one, tasks)

    def close(self) -> None:
        """Stop what the executor started (nothing, by default)."""
        return

    def __enter__(self) -> Executor:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
