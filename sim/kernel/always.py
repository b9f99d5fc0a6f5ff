"""Invariants checked during a run: cheap ``always`` checks that fail fast.

As FoundationDB's simulation does, a component can state what must hold of its own state at
the moment it changes (a slot released by the job that held it, a high watermark no higher
than the log end, a copy applying only a version its owner committed) and stop the run at the
first moment it does not, with the simulated time, the component, the key, what was expected
and what was found: :class:`InvariantBroken`. The checks read the state; they never draw a
random number or schedule an event, so a run with checks on gives the same figures as one
without.

A run's :class:`Always` (``ctx.always``) says whether checks are on. Components consult it
once, when they are built, and bind their checked variants then (a checked subclass, a checked
method bound on the instance): with checks off the hot path runs exactly the code it runs
without this module. Checks are on when a run asks for them (``sim.api.run(...,
check_invariants=True)``, ``--check-invariants``) or when the environment variable
:data:`ENV_VAR` is set to a non-empty value other than ``0`` (the test suite sets it).

The checks live with the state they guard, in one small ``always`` module per layer
(:mod:`sim.infra.always`, :mod:`sim.broker.always`, :mod:`sim.connectors.always`,
:mod:`sim.metrics.always`); ``docs/model.md`` lists them.

Left out: checks that need the whole history (those are the invariants of
:mod:`sim.metrics.invariants`, judged after the run), and any repair: a broken invariant is a
bug of the model, never a figure.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

__all__ = ["ENV_VAR", "OFF", "Always", "InvariantBroken", "requested"]

ENV_VAR = "PATTERNSIM_CHECK_INVARIANTS"
"""Set (to anything but ``""`` or ``"0"``) to check invariants in every run of the process."""


def requested() -> bool:
    """Whether the environment asks for invariant checks in every run."""
    return os.environ.get(ENV_VAR, "") not in ("", "0")


class InvariantBroken(RuntimeError):
    """An invariant did not hold during a run: when, where, of what, and how."""

    def __init__(
        self,
        time: float,
        component: str,
        key: Any,
        check: str,
        expected: str,
        found: str,
        pattern: str = "",
    ) -> None:
        self.time = time
        self.component = component
        self.key = key
        self.check = check
        self.expected = expected
        self.found = found
        self.pattern = pattern
        # the arguments rebuild it whole: SimPy re-raises a process's error as
        # ``type(error)(*error.args)``, and pickling (from worker processes) does the same
        super().__init__(time, component, key, check, expected, found, pattern)

    def named(self, pattern: str) -> InvariantBroken:
        """The same, naming the pattern whose run broke it."""
        self.pattern = pattern
        self.args = (*self.args[:6], pattern)
        return self

    def line(self) -> str:
        """The one line a user sees."""
        where = f"pattern {self.pattern}, " if self.pattern else ""
        return (
            f"invariant broken at t={self.time:.6f}s: {self.check} ({where}{self.component}, "
            f"key {self.key}): expected {self.expected}, found {self.found}"
        )

    def __str__(self) -> str:
        return self.line()


class Always:
    """Whether a run checks its invariants, and how a check reports a broken one."""

    __slots__ = ("_clock", "on")

    def __init__(self, on: bool = False, clock: Any = None) -> None:
        self.on = on
        """Checks are on: components bind their checked variants when built."""
        self._clock = clock

    def broken(self, component: str, key: Any, check: str, expected: Any, found: Any) -> NoReturn:
        """Stop the run: ``check`` does not hold of ``component`` for ``key``."""
        now = float(self._clock.now) if self._clock is not None else float("nan")
        raise InvariantBroken(now, component, key, check, str(expected), str(found))


OFF = Always(False)
"""No checks (the default of a context made without asking for them)."""
