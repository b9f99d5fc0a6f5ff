"""Executors: where the runs of an experiment run — this process, worker processes on this
machine, or a Dask cluster — behind one interface (:class:`Executor`), chosen by a spec
(:func:`parse_executor`): ``local[:N]``, ``dask:local[:N]`` or ``dask://HOST:PORT``.

Every executor runs the same small tasks (:class:`sim.runner.Task`) with the same function
(:func:`sim.runner.run_one`) and yields each result as it finishes; a run depends only on its
task, so the results — bit for bit — do not depend on the executor or the number of workers.
Other work that depends only on its input (a whole search of ``explore``) goes through
:meth:`Executor.map` in the same way.
Dask is an optional extra, imported only when a Dask executor is opened.
"""

from sim.executors.choose import SCHEDULER_PORT, ExecutorSpec, opened, parse_executor, resolve
from sim.executors.interface import Executor, ExecutorError
from sim.executors.local import LocalExecutor

__all__ = [
    "SCHEDULER_PORT",
    "Executor",
    "ExecutorError",
    "ExecutorSpec",
    "LocalExecutor",
    "opened",
    "parse_executor",
    "resolve",
]
