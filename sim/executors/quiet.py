"""A Dask worker preload for the workers of ``dask:local``: the worker process ignores SIGINT.

Ctrl-C in a terminal reaches every process of the foreground group, the workers of a local
cluster included. As with the local process pool, only the ``patternsim`` process should see
it: it stops the experiment, keeps the finished runs and closes the cluster; without this, each
worker would print its own ``KeyboardInterrupt`` traceback on the way down.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

__all__ = ["dask_setup"]


def dask_setup(worker: Any) -> None:
    """Called by Dask in the worker process when the worker starts."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
