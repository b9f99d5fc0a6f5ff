"""Python's cyclic garbage collector during a run: out of the way of what the run built.

Reference counting frees almost everything the hot path allocates (a request's timers, hops
and continuations hold one another in one direction only). The cyclic collector exists for
what counting cannot free, but CPython starts it by *allocation counts*, and a full pass walks
every tracked object alive: the modules imported, the parsed scenario, the topology, the
drawn requests, the logs the run fills. On a broker or call-heavy run those full passes cost
a fifth to a half of the simulation's CPU time while finding almost nothing to free.

:func:`collector_out_of_the_way` therefore, for the span of one run,

- moves every object alive when the run starts into the permanent generation
  (``gc.freeze()``, as a pre-fork server does): full passes no longer walk them;
- raises the first generation's threshold from 700 to :data:`YOUNG_THRESHOLD` allocations,
  so the collector runs about a fourteenth as often, each pass no dearer per object;

and restores both on the way out (``gc.unfreeze()``: a worker process that runs many tasks
collects what the finished run left, so nothing leaks from one task to the next).

It changes no simulated figure: no model code has a finalizer or a weak reference, so when an
unreachable object is freed is invisible to the simulation. Left out: disabling the collector
outright (a model with a reference cycle per request would then grow without bound).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["YOUNG_THRESHOLD", "collector_out_of_the_way"]

YOUNG_THRESHOLD = 10_000
"""Net allocations of tracked objects between two young-generation passes during a run."""


_lock = threading.Lock()
_runs = 0
"""Runs under way in this process (a Dask worker may run several in threads)."""
_saved: tuple[int, ...] = ()


@contextmanager
def collector_out_of_the_way() -> Iterator[None]:
    """Freeze what is alive now and collect less often until the block ends (the first of
    overlapping runs in threads sets it up, the last one to end restores it)."""
    global _runs, _saved
    with _lock:
        _runs += 1
        if _runs == 1:
            _saved = gc.get_threshold()
            gc.freeze()
            gc.set_threshold(YOUNG_THRESHOLD, *_saved[1:])
    try:
        yield
    finally:
        with _lock:
            _runs -= 1
            if _runs == 0:
                gc.set_threshold(*_saved)
                gc.unfreeze()
