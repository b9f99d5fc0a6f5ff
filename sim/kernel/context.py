"""The one object passed, first, to every component of a model.

``SimContext`` bundles the SimPy environment (the simulated clock: nothing reads the wall
clock), the named random streams of this replication and the recorder that collects facts.
Components never reach for globals: whatever they need comes through the context or their
constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import simpy

from sim.kernel.recorder import Recorder
from sim.kernel.rng import Stream, Streams
from sim.kernel.schedule import AtOnce

__all__ = ["SimContext", "SimTime"]

SimTime = float
"""Simulated time in seconds."""


@dataclass
class SimContext:
    """Environment, random streams and recorder of one simulated run."""

    env: simpy.Environment
    streams: Streams
    recorder: Recorder = field(default_factory=Recorder)
    at_once: AtOnce = field(default_factory=AtOnce)
    """Runs the run's zero-time steps with bounded nesting (:class:`~sim.kernel.schedule.AtOnce`)."""

    @classmethod
    def create(cls, seed: int, replication: int = 0, point: int = 0) -> SimContext:
        """A fresh context at time zero."""
        return cls(simpy.Environment(), Streams(seed, replication, point), Recorder())

    @property
    def now(self) -> SimTime:
        """The current simulated time."""
        return self.env.now

    def stream(self, name: str) -> Stream:
        """The named random stream (see :mod:`sim.kernel.rng`)."""
        return self.streams.stream(name)
