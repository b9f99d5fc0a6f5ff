"""Choosing an executor from its spec: ``local``, ``local:N``, ``dask:local``, ``dask:local:N``
or ``dask://HOST:PORT``; ``--workers N`` is short for ``local:N``.

A spec is checked when it is parsed, before anything runs (a malformed spec, a worker count
below 1, a Dask spec without Dask installed are each an :class:`ExecutorError`), and opened
only when an experiment starts. ``local`` and ``dask:local`` without a count use one worker
per core available; ``dask://HOST`` without a port uses Dask's scheduler port, 8786.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sim.executors.interface import Executor, ExecutorError
from sim.executors.local import LocalExecutor, default_workers

__all__ = ["SCHEDULER_PORT", "ExecutorSpec", "opened", "parse_executor", "resolve"]

SCHEDULER_PORT = 8786
EXPECTED = "local, local:N, dask:local, dask:local:N or dask://HOST:PORT"
_LOCAL = re.compile(r"(dask:)?local(?::(\d+))?")
_REMOTE = re.compile(r"dask://([^\s:/]+)(?::(\d+))?/?")


@dataclass(frozen=True)
class ExecutorSpec:
    """A parsed executor spec."""

    kind: str
    """``local`` or ``dask``."""
    workers: int | None = None
    """Worker processes on this machine (None: one per core available; remote: none)."""
    address: str | None = None
    """A running scheduler's address (``tcp://host:port``), for ``dask://``."""

    @property
    def text(self) -> str:
        if self.address is not None:
            return self.address.replace("tcp://", "dask://", 1)
        prefix = "local" if self.kind == "local" else "dask:local"
        return prefix if self.workers is None else f"{prefix}:{self.workers}"

    @property
    def processes(self) -> int:
        """Runs simulated at once on this machine (for the memory budget): the local workers,
        or one for a remote cluster (where the runs are not in this machine's memory)."""
        if self.address is not None:
            return 1
        return self.workers if self.workers is not None else default_workers()

    def open(self) -> Executor:
        """Start the executor (worker processes start when it runs tasks)."""
        if self.kind == "local":
            return LocalExecutor(self.workers)
        from sim.executors.cluster import DaskExecutor

        return DaskExecutor(self.address, self.processes)


def parse_executor(text: str | None = None, workers: int | None = None) -> ExecutorSpec:
    """The spec ``text`` (``local`` when None); ``workers`` alone is ``local:workers``, and
    with ``local`` or ``dask:local`` it is their count (another count, or a running cluster's
    address, with ``workers`` is an error)."""
    if text is None:
        return ExecutorSpec("local", _count(workers))
    spec = _parse(text.strip())
    if workers is not None and spec.workers is None and spec.address is None:
        spec = ExecutorSpec(spec.kind, _count(workers))  # local or dask:local, with the count given
    elif workers is not None and spec.workers != workers:
        raise ExecutorError(
            f"executor {text!r} and {workers} workers disagree: give the count once "
            "(workers N is short for local:N; a running cluster has the workers it has)"
        )
    if spec.kind == "dask" and importlib.util.find_spec("distributed") is None:
        from sim.executors.cluster import MISSING

        raise ExecutorError(MISSING)
    return spec


def _count(workers: int | None) -> int | None:
    if workers is not None and workers < 1:
        raise ExecutorError(f"the number of workers must be at least 1 (got {workers})")
    return workers


def _parse(text: str) -> ExecutorSpec:
    local = _LOCAL.fullmatch(text)
    if local is not None:
        count = int(local.group(2)) if local.group(2) is not None else None
        if count is not None and count < 1:
            raise ExecutorError(f"executor {text!r}: the number of workers must be at least 1")
        return ExecutorSpec("dask" if local.group(1) else "local", count)
    remote = _REMOTE.fullmatch(text)
    if remote is not None:
        port = int(remote.group(2)) if remote.group(2) is not None else SCHEDULER_PORT
        if not 0 < port < 65536:
            raise ExecutorError(f"executor {text!r}: the port must be 1 to 65535 (got {port})")
        return ExecutorSpec("dask", None, f"tcp://{remote.group(1)}:{port}")
    raise ExecutorError(f"executor {text!r}: expected {EXPECTED}")


def resolve(
    executor: str | ExecutorSpec | Executor | None = None, workers: int | None = None
) -> ExecutorSpec | Executor:
    """``executor`` checked: a spec parsed (with ``workers``, see :func:`parse_executor`), an
    executor already open as it is (``workers`` must then be None)."""
    if isinstance(executor, Executor):
        if workers is not None:
            raise ExecutorError(
                f"give the executor ({executor.description}) or the number of workers, not "
                "both (workers N is short for local:N)"
            )
        return executor
    if isinstance(executor, ExecutorSpec):
        return executor if workers is None else parse_executor(executor.text, workers)
    return parse_executor(executor, workers)


@contextmanager
def opened(
    executor: str | ExecutorSpec | Executor | None = None, workers: int | None = None
) -> Iterator[Executor]:
    """An executor for the ``with`` block: one given already open is used as it is (and left
    open); a spec (text or parsed, or ``workers`` alone) is opened here and closed at the end."""
    found = resolve(executor, workers)
    if isinstance(found, Executor):
        yield found
        return
    with found.open() as started:
        yield started
