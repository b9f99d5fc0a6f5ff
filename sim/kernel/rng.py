"""Named random streams from one ``numpy.random.SeedSequence``.

Every purpose (arrivals, the keys of requests, the service times of one service, the draws of
one fault, ...) has its own stream, keyed by ``(seed, point, replication, name)`` and never by
the pattern. Two patterns run with the same seed therefore see the same arrivals, keys and
fault draws (common random numbers), and adding a new stream never shifts the draws of another.

Scalars are served from blocks drawn in bulk, because one ``Generator`` call per event costs
more than the event itself in SimPy.
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Stream", "Streams", "name_key"]

_BLOCK = 4096


def name_key(name: str) -> int:
    """A stable 64-bit integer for a stream name (Python's ``hash`` is salted per process)."""
    return int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")


class Stream:
    """One named stream: a ``numpy.random.Generator`` plus buffered scalar draws."""

    __slots__ = ("_exp", "_exp_i", "_norm", "_norm_i", "_uni", "_uni_i", "generator", "name")

    def __init__(self, name: str, generator: np.random.Generator) -> None:
        self.name = name
        self.generator = generator
        self._uni: list[float] = []
        self._uni_i = 0
        self._exp: list[float] = []
        self._exp_i = 0
        self._norm: list[float] = []
        self._norm_i = 0

    def uniform(self) -> float:
        """A draw from U[0, 1)."""
        i = self._uni_i
        if i >= len(self._uni):
            self._uni = self.generator.random(_BLOCK).tolist()
            i = 0
        self._uni_i = i + 1
        return self._uni[i]

    def exponential(self) -> float:
        """A draw from the standard exponential distribution (mean 1)."""
        i = self._exp_i
        if i >= len(self._exp):
            self._exp = self.generator.standard_exponential(_BLOCK).tolist()
            i = 0
        self._exp_i = i + 1
        return self._exp[i]

    def normal(self) -> float:
        """A draw from the standard normal distribution."""
        i = self._norm_i
        if i >= len(self._norm):
            self._norm = self.generator.standard_normal(_BLOCK).tolist()
            i = 0
        self._norm_i = i + 1
        return self._norm[i]


class Streams:
    """The family of named streams of one replication (of one sweep point)."""

    def __init__(self, seed: int, replication: int = 0, point: int = 0) -> None:
        self.seed = int(seed)
        self.replication = int(replication)
        self.point = int(point)
        self._streams: dict[str, Stream] = {}

    def sequence(self, name: str) -> np.random.SeedSequence:
        """The seed sequence of one stream; independent of every other name."""
        return np.random.SeedSequence(
            entropy=self.seed, spawn_key=(self.point, self.replication, name_key(name))
        )

    def stream(self, name: str) -> Stream:
        """The stream called ``name``, created on first use."""
        found = self._streams.get(name)
        if found is None:
            found = Stream(name, np.random.Generator(np.random.PCG64(self.sequence(name))))
            self._streams[name] = found
        return found

    def generator(self, name: str) -> np.random.Generator:
        """The raw generator of a stream, for vectorised draws."""
        return self.stream(name).generator
