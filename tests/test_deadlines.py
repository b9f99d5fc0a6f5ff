"""Constant timeouts in a line (sim.kernel.schedule.Deadlines) against one SimPy Timeout each.

The line must give the same events in the same order, ties included, as a ``Timeout`` per
timer whose callback does nothing once cancelled; it only saves the cancelled firings.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import simpy
from hypothesis import given
from hypothesis import strategies as st

from sim.kernel.schedule import Deadline, Deadlines

DELAYS = (0.5, 1.0)

# one step of a script: (when, what, delay index, target, chained)
steps = st.lists(
    st.tuples(
        st.integers(0, 6),  # at 0.5 s steps: many ties with the timers' due times
        st.sampled_from(("timer", "event", "cancel")),
        st.integers(0, len(DELAYS) - 1),
        st.integers(0, 30),
        st.booleans(),
    ),
    max_size=40,
)


class _Reference:
    """One Timeout per timer; a cancelled timer's callback does nothing."""

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env

    def add(self, delay: float, fn: Callable[[], Any]) -> list[bool]:
        cancelled = [False]
        self.env.timeout(delay).callbacks.append(lambda _e: None if cancelled[0] else fn())
        return cancelled

    @staticmethod
    def cancel(handle: list[bool]) -> None:
        handle[0] = True


class _Lines:
    """The timers in :class:`Deadlines` lines, one per delay."""

    def __init__(self, env: simpy.Environment) -> None:
        self.lines = {delay: Deadlines(env, delay) for delay in DELAYS}

    def add(self, delay: float, fn: Callable[[], Any]) -> Deadline:
        return self.lines[delay].add(fn)

    @staticmethod
    def cancel(handle: Deadline) -> None:
        handle.cancel()


def _play(script: list[tuple[int, str, int, int, bool]], timers: str) -> tuple[list[Any], int]:
    """Run the script; the trace of what happened and how many events SimPy processed."""
    env = simpy.Environment()
    maker = _Reference(env) if timers == "reference" else _Lines(env)
    trace: list[Any] = []
    handles: list[Any] = []

    def set_timer(label: int, delay: float, chained: bool) -> None:
        def fire() -> None:
            trace.append(("fire", label, env.now))
            if chained:  # a timer set while a timer of the same line fires
                set_timer(label + 1000, delay, False)

        handles.append(maker.add(delay, fire))  # type: ignore[attr-defined]

    def act(label: int, what: str, delay: float, target: int, chained: bool) -> None:
        if what == "timer":
            set_timer(label, delay, chained)
        elif what == "event":
            env.timeout(delay).callbacks.append(lambda _e: trace.append(("event", label, env.now)))
        elif handles:
            maker.cancel(handles[target % len(handles)])  # type: ignore[attr-defined]
            trace.append(("cancel", target % len(handles), env.now))

    for label, (slot, what, which, target, chained) in enumerate(script):
        env.timeout(slot * 0.5).callbacks.append(
            lambda _e, a=(label, what, DELAYS[which], target, chained): act(*a)
        )
    events = 0
    while env.peek() != float("inf"):
        env.step()
        events += 1
    return trace, events


@given(steps)
def test_a_line_of_timeouts_keeps_the_order_of_one_timeout_each(script: Any) -> None:
    reference, reference_events = _play(script, "reference")
    lines, line_events = _play(script, "lines")
    assert lines == reference
    assert line_events <= reference_events


def test_cancelled_timeouts_take_no_place_in_the_event_queue() -> None:
    env = simpy.Environment()
    line = Deadlines(env, 1.0)
    fired: list[float] = []
    for i in range(1000):  # a timer set every millisecond and cancelled at once but the last
        env.timeout(i / 1000).callbacks.append(
            lambda _e, i=i: (
                line.add(lambda: fired.append(env.now)).cancel()
                if i < 999
                else line.add(lambda: fired.append(env.now))
            )
        )
    env.run(until=0.5)
    # SimPy's end-of-run marker, the 500 setters still to come and the one armed timer (with a
    # Timeout each, the 500 cancelled timers set so far would wait there too)
    assert len(env._queue) == 502
    env.run()
    assert fired == [999 / 1000 + 1.0]
    assert len(line) == 0
