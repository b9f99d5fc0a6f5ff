"""The one object passed, first, to every component of a model.

``SimContext`` bundles the SimPy environment (the simulated clock: nothing reads the wall
clock), the named random streams of this replication, the recorder that collects facts and
whether the run checks its invariants as it goes (:mod:`sim.kernel.always`), and the components
built once per run that several models share (:meth:`SimContext.once`).
Components never reach for globals: whatever they need comes through the context or their
constructor arguments.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

import simpy

from sim.kernel.always import OFF, Always
from sim.kernel.recorder import Recorder
from sim.kernel.rng import Stream, Streams
from sim.kernel.schedule import AtOnce, Deadlines

__all__ = ["SimContext", "SimTime"]

SimTime = float
"""Simulated time in seconds."""

T = TypeVar("T")
_MISSING = object()


@dataclass
class SimContext:
    """Environment, random streams and recorder of one simulated run."""

    env: simpy.Environment
    streams: Streams
    recorder: Recorder = field(default_factory=Recorder)
    always: Always = OFF
    """Whether components check their invariants during the run (:mod:`sim.kernel.always`)."""
    at_once: AtOnce = field(default_factory=AtOnce)
    """Runs the run's zero-time steps with bounded nesting (:class:`~sim.kernel.schedule.AtOnce`)."""
    timeouts: dict[float, Deadlines] = field(default_factory=dict)
    """The run's queues of constant timeouts, by delay (:meth:`timeout_line`)."""
    shared: dict[str, Any] = field(default_factory=dict)
    """The run's components built once and shared by every model of the run (:meth:`once`)."""

    def once(self, name: str, build: Callable[[], T]) -> T:
        """The run's component called ``name``: built by ``build()`` the first time it is
        asked for, the same object after (the models of a run's entities share the run's
        services, databases, network and broker this way)."""
        found = self.shared.get(name, _MISSING)
        if found is _MISSING:
            found = self.shared[name] = build()
        return cast(T, found)

    def timeout_line(self, delay: float) -> Deadlines:
        """The queue of the run's timeouts of ``delay`` seconds (> 0), for timers that are
        almost always cancelled (:class:`~sim.kernel.schedule.Deadlines`)."""
        found = self.timeouts.get(delay)
        if found is None:
            found = self.timeouts[delay] = Deadlines(self.env, delay)
        return found

    @classmethod
    def create(
        cls, seed: int, replication: int = 0, point: int = 0, check: bool = False
    ) -> SimContext:
        """A fresh context at time zero; ``check`` turns the invariant checks on."""
        env = simpy.Environment()
        always = Always(True, env) if check else OFF
        return cls(env, Streams(seed, replication, point), Recorder(), always)

    @property
    def now(self) -> SimTime:
        """The current simulated time."""
        return self.env.now

    def stream(self, name: str) -> Stream:
        """The named random stream (see :mod:`sim.kernel.rng`)."""
        return self.streams.stream(name)
