"""Scheduling helpers of the callback-style hot path.

The hot path (arrival, queue, service, hop, database, completion) is written with callbacks on
SimPy timeout events rather than one generator process per request: a request costs one event
per delay it really waits, and a zero delay costs nothing (the continuation runs at once).

Running zero-time steps at once nests them: a chain of zero-time hops (a sequential fan-out to
many copies, a deep call graph, a service calling itself again) would nest a few dozen Python
frames per hop and die of ``RecursionError`` after a few dozen hops. :class:`AtOnce` bounds the
nesting: a step runs at once while fewer than :data:`AT_ONCE_DEPTH` steps are running around
it, and a deeper one waits in a run queue until they have returned, still at the same simulated
instant and before any later event. Below the bound the order of events is exactly that of
running every step at once; past it, the deferred steps run in the order they were asked for.

A timeout of a constant delay that is almost always cancelled (a per-try timeout, a route
timeout) waits in a :class:`Deadlines` line instead of the event queue: only the oldest live
one has a place there, so cancelled ones cost no event and do not swell the heap.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from functools import partial
from heapq import heappush
from typing import Any

import simpy

__all__ = [
    "AT_ONCE_DEPTH",
    "AtOnce",
    "Deadline",
    "Deadlines",
    "Timer",
    "Trampoline",
    "call_later",
    "later",
]

NORMAL = 1
"""SimPy's priority of ordinary events (``simpy.events.NORMAL``): that of a ``Timeout``."""


class Timer:
    """A timer in SimPy's event queue that calls ``fn(arg)`` (or ``fn()``) when it comes due.

    It is not a ``simpy.Event``: nothing can wait on it or cancel it; a callback decides, when
    it runs, whether it still matters (as the hot path's callbacks do with epochs and flags).
    """

    __slots__ = ("arg", "callbacks", "fn")
    _ok = True
    """What ``Environment.step`` checks after the callbacks: the timer never fails."""

    def __init__(self, fn: Callable[..., Any], arg: Any, callbacks: tuple[Any, ...]) -> None:
        self.fn = fn
        self.arg = arg
        self.callbacks = callbacks


def _fire_with(timer: Timer) -> None:
    timer.fn(timer.arg)


def _fire(timer: Timer) -> None:
    timer.fn()


_WITH = (_fire_with,)
_WITHOUT = (_fire,)


def call_later(env: simpy.Environment, delay: float, fn: Callable[[Any], Any], arg: Any) -> None:
    """Call ``fn(arg)`` after ``delay`` (> 0) simulated seconds: one entry in the event queue."""
    env.schedule(Timer(fn, arg, _WITH), NORMAL, delay)  # type: ignore[arg-type]


def later(env: simpy.Environment, delay: float, callback: Callable[[], Any]) -> None:
    """Run ``callback()`` after ``delay`` simulated seconds (at once when the delay is zero)."""
    if delay <= 0.0:
        callback()
        return
    env.schedule(Timer(callback, None, _WITHOUT), NORMAL, delay)  # type: ignore[arg-type]


class Deadline:
    """A timer of a :class:`Deadlines` queue; :meth:`cancel` it once it no longer matters."""

    __slots__ = ("at", "cancelled", "eid", "fn")

    def __init__(self, at: float, eid: int, fn: Callable[[], Any]) -> None:
        self.at = at
        self.eid = eid
        self.fn = fn
        self.cancelled = False

    def cancel(self) -> None:
        """Promise that ``fn()`` would do nothing now or at any later time: it is not run,
        and its slot in SimPy's event queue is never taken."""
        self.cancelled = True
        self.fn = _nothing  # what it would have called can be freed now


def _nothing() -> None:
    pass


class Deadlines:
    """Timers of one constant delay (a timeout that almost never fires), with at most one
    entry in SimPy's event queue.

    Timers of one delay come due in the order they were set, so they wait in a FIFO line and
    only the oldest live one is in the event queue. It goes there under the very key a
    ``Timeout`` set at the same moment would have had (due time, priority, and the event id
    taken when the timer was set: :meth:`add` takes it from the environment's counter, as
    ``Environment.schedule`` does), so the order of events is exactly that of one timer per
    timeout, minus the firings of the cancelled ones, which did nothing. A timeout cancelled
    after it was queued still comes due, as a no-op.

    This relies on SimPy 4's event queue: a heap of ``(time, priority, id, event)`` in
    ``Environment._queue`` and the id counter ``Environment._eid``.
    """

    __slots__ = ("_armed", "_delay", "_env", "_line", "callbacks")
    _ok = True

    def __init__(self, env: simpy.Environment, delay: float) -> None:
        self._env = env
        self._delay = delay
        self._line: deque[Deadline] = deque()
        self._armed = False
        self.callbacks: tuple[Callable[[Deadlines], None], ...] | None = None

    def __len__(self) -> int:
        """Timers set and not yet due or skipped (cancelled ones included)."""
        return len(self._line)

    def add(self, fn: Callable[[], Any]) -> Deadline:
        """Call ``fn()`` after the delay unless the returned timer is cancelled first."""
        env = self._env
        timer = Deadline(env.now + self._delay, next(env._eid), fn)
        self._line.append(timer)
        if not self._armed:
            self._arm(timer)
        return timer

    def _arm(self, timer: Deadline) -> None:
        self._armed = True
        self.callbacks = _DUE
        queue: list[Any] = self._env._queue  # it holds timers that are not Events (as Timer)
        heappush(queue, (timer.at, NORMAL, timer.eid, self))

    def _due(self) -> None:
        line = self._line
        timer = line.popleft()
        if not timer.cancelled:
            timer.fn()  # still armed meanwhile: a timer it sets waits in line
        while line and line[0].cancelled:
            line.popleft()
        if line:
            self._arm(line[0])
        else:
            self._armed = False


_DUE = (Deadlines._due,)


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

    def call(self, fn: Callable[[Any], Any], arg: Any) -> None:
        """``self(lambda: fn(arg))``, in the same order, without making the closure when it
        can run at once."""
        if self._running or self._pending:
            self(partial(fn, arg))
            return
        self._running = True
        try:
            fn(arg)
            while self._pending:
                self._pending.popleft()()
        finally:
            self._running = False


AT_ONCE_DEPTH = 24
"""How many zero-time steps of :class:`AtOnce` may run nested inside one another (each hop of
a call costs about a dozen Python frames, so this stays far below Python's recursion limit)."""


class AtOnce:
    """Runs zero-time steps at once, at most :data:`AT_ONCE_DEPTH` deep; a deeper step waits in
    a run queue until the steps around it have returned (the same instant, before any later
    event), so chains of any length run in bounded stack depth."""

    __slots__ = ("_depth", "_limit", "_pending")

    def __init__(self, limit: int = AT_ONCE_DEPTH) -> None:
        self._depth = 0
        self._limit = limit
        self._pending: deque[Callable[[], Any]] = deque()

    def __call__(self, action: Callable[[], Any]) -> None:
        depth = self._depth
        if depth >= self._limit:
            self._pending.append(action)
            return
        self._depth = depth + 1
        try:
            action()
        except BaseException:
            self._pending.clear()  # the run has failed: nothing deferred may run after it
            raise
        finally:
            self._depth = depth
        if depth == 0 and self._pending:
            self._drain()

    def _drain(self) -> None:
        pending = self._pending
        try:
            while pending:
                self._depth = 1
                pending.popleft()()
        except BaseException:
            pending.clear()
            raise
        finally:
            self._depth = 0
