"""Scheduling helpers of the callback-style hot path.

The hot path (arrival, queue, service, hop, database, completion) is written with callbacks on
SimPy timeout events rather than one generator process per request: a request costs one event
per delay it really waits, and a zero delay costs nothing (the continuation runs at once).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import simpy

__all__ = ["Trampoline", "later"]


def later(env: simpy.Environment, delay: float, callback: Callable[[], Any]) -> None:
    """Run ``callback()`` after ``delay`` simulated seconds (at once when the delay is zero)."""
    if delay <= 0.0:
        callback()
        return
    env.timeout(delay).callbacks.append(lambda _event: callback())


class Trampoline:
    """Runs actions at once but never nested inside one another.

    A chain of zero-time steps (a freed slot or lock handed to a waiter whose work takes no
    time, which frees it again, ...) then runs as a loop instead of a recursion as deep as
    the queue.
    """

    __slots__ = ("_pending", "_running")

    def __init__(self) -> None:
        self._pending: deque[Callable[[], Any]] = deque()
        self._running = False

    def __call__(self, action: Callable[[], Any]) -> None:
        self._pending.append(action)
        if self._running:
            return
        self._running = True
        try:
            while self._pending:
                self._pending.popleft()()
        finally:
            self._running = False
