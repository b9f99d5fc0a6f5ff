"""The Dask executor: runs on a Dask distributed cluster, one started for the experiment
(``dask:local``, ``dask:local:N``: a ``LocalCluster`` of N worker processes with one thread
each) or one already running (``dask://HOST:PORT``: a ``Client`` connected to its scheduler).

Dask is imported only here, and only when a Dask executor is opened; without the optional
extra (``pip install 'patternsim[dask]'``) opening one is an :class:`ExecutorError`.

Each batch sends every distinct scenario to the cluster once (``Client.scatter``) and one small
task per run: the task without its scenario (a pattern index, a replication, a point and its
stream key, and whatever else a :class:`sim.runner.Task` carries), so what crosses the network
per run is a few hundred bytes. A worker puts the scenario back into the task and calls
:func:`sim.runner.run_one`; results stream back as they finish (``distributed.as_completed``)
and each is released on the cluster once it is handed on. Other calls (:meth:`DaskExecutor.map`:
a whole search of ``explore``) are sent with their item, which is small. On an error or an
interrupt the unfinished runs are cancelled. A local cluster's workers ignore Ctrl-C, which is for the
``patternsim`` process to answer (:mod:`sim.executors.quiet`), and its scheduler listens on
this machine only. When Ctrl-C interrupts a wait on the cluster whose coroutine has not started
yet, Dask's ``distributed.utils.sync`` schedules a cancel that fails with a ``NameError`` (its
future is not assigned yet) and tornado prints that traceback; the run is being stopped anyway,
so that one message is dropped (:class:`CancelBeforeStart`, on the ``tornado.application``
logger once a Dask executor is opened). Connecting to a running scheduler checks that a worker
joins within :data:`WAIT_FOR_WORKERS` seconds and that every worker runs the same patternsim
version.

Left out: data that a scenario reads from files at run time (trace files) is read by the
worker, so a remote cluster needs those files at the same paths (a shared file system); patterns
or faults registered at run time (in a notebook) exist on a worker only if the module that
registers them is importable there; no retries of a run whose worker died beyond what Dask
itself does; TLS and authentication (give Dask's own configuration for them).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any, TypeVar, cast

from sim import __version__
from sim.config.model import Scenario
from sim.executors.interface import Executor, ExecutorError
from sim.runner import RunResult, Task, run_one

__all__ = ["CONNECT_TIMEOUT", "MISSING", "WAIT_FOR_WORKERS", "CancelBeforeStart", "DaskExecutor"]

T = TypeVar("T")
R = TypeVar("R")

MISSING = (
    "the dask executors need Dask distributed, which is not installed: "
    "install patternsim[dask] (pip install 'patternsim[dask]')"
)
CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a running scheduler to answer."""
WAIT_FOR_WORKERS = 30.0
"""Seconds to wait for a running scheduler to have at least one worker."""


class CancelBeforeStart(logging.Filter):
    """Drops the traceback of ``distributed.utils.sync``'s cancel callback failing with
    ``NameError`` (a Ctrl-C that came before the awaited coroutine started); lets every other
    record through."""

    _WHERE = os.path.join("distributed", "utils.py")

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if not isinstance(error, NameError) or error.__traceback__ is None:
            return True
        last = error.__traceback__
        while last.tb_next is not None:
            last = last.tb_next
        code = last.tb_frame.f_code
        return not (code.co_name == "cancel" and code.co_filename.endswith(self._WHERE))


_CANCEL_BEFORE_START = CancelBeforeStart()


class DaskExecutor(Executor):
    """Runs tasks on a Dask cluster: a local one started here (``address`` None, ``workers``
    processes) or the one whose scheduler is at ``address`` (``tcp://host:port``)."""

    def __init__(self, address: str | None = None, workers: int = 1) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError(MISSING) from None
        logging.getLogger("tornado.application").addFilter(_CANCEL_BEFORE_START)  # (once)
        self._cluster: Any = None
        if address is None:
            self.description = f"dask:local:{workers}"
            self._cluster = LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # the scheduler's HTTP routes on a free port: no clash over 8787, no warning
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.ERROR,
                preload=["sim.executors.quiet"],  # Ctrl-C is for this process alone
            )
            try:
                self._client: Any = Client(self._cluster, set_as_default=False)
            except BaseException:
                self._cluster.close()
                raise
            return
        self.description = address.replace("tcp://", "dask://", 1)
        try:
            self._client = Client(address, timeout=CONNECT_TIMEOUT, set_as_default=False)
        except (OSError, TimeoutError) as error:
            raise ExecutorError(f"cannot reach the Dask scheduler at {address}: {error}") from None
        try:
            self._check_workers(address)
        except BaseException:
            self._client.close()
            raise

    def _check_workers(self, address: str) -> None:
        try:
            self._client.wait_for_workers(1, timeout=WAIT_FOR_WORKERS)
        except (OSError, TimeoutError):
            raise ExecutorError(
                f"the Dask scheduler at {address} has no worker (none joined within "
                f"{WAIT_FOR_WORKERS:g} s): start one with dask worker {address}"
            ) from None
        try:
            versions = self._client.run(_worker_version)
        except Exception as error:
            raise ExecutorError(
                f"the Dask workers at {address} cannot run patternsim ({error}): install "
                f"patternsim {__version__} on every worker"
            ) from None
        other = {worker: found for worker, found in versions.items() if found != __version__}
        if other:
            shown = ", ".join(f"{worker} has {found}" for worker, found in sorted(other.items()))
            raise ExecutorError(
                f"the Dask workers at {address} run another patternsim than this one "
                f"({__version__}): {shown}"
            )

    def run(self, tasks: Sequence[Task]) -> Iterator[tuple[int, RunResult]]:
        client = self._client
        sent: dict[int, Any] = {}
        futures = []
        for index, task in enumerate(tasks):
            key = id(task.scenario)
            if key not in sent:
                sent[key] = client.scatter(task.scenario, hash=False)
            bare = replace(task, scenario=cast(Scenario, None))
            futures.append(client.submit(_run_task, index, bare, sent[key], pure=False))
        try:
            yield from self._streamed(futures)
        finally:
            for future in sent.values():
                future.release()

    def map(self, function: Callable[[T], R], items: Sequence[T]) -> Iterator[tuple[int, R]]:
        submit = self._client.submit
        return self._streamed(
            [submit(_call, index, function, item, pure=False) for index, item in enumerate(items)]
        )

    def _streamed(self, futures: list[Any]) -> Iterator[tuple[int, Any]]:
        """Each future's ``(index, result)`` as it finishes, released once handed on; the
        unfinished ones cancelled when the caller stops (an error, an interrupt)."""
        if not futures:
            return
        from distributed import as_completed

        client = self._client
        try:
            for future in as_completed(futures, loop=client.loop):
                index, result = future.result()
                future.release()
                yield index, result
        finally:
            client.cancel([future for future in futures if not future.done()])

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def _run_task(index: int, bare: Task, scenario: Scenario) -> tuple[int, RunResult]:
    """On a worker: the task with its scenario back in, run."""
    return index, run_one(replace(bare, scenario=scenario))


def _call(index: int, function: Callable[[T], R], item: T) -> tuple[int, R]:
    """On a worker: one call of :meth:`DaskExecutor.map`."""
    return index, function(item)


def _worker_version() -> str:
    return __version__
