"""When a lasting fault acts: one window, or recurring windows, each perhaps skipped by a coin.

Without ``schedule`` a lasting fault has one window, from ``start`` for ``duration`` (or until
the load ends). With ``schedule: {every: 10m, duration: 30s, jitter: 5s}`` it recurs, as a
Chaos Mesh ``Schedule`` (a cron of chaos experiments) does: window k opens at
``start + k × every`` plus a jitter drawn uniformly in ``[0, jitter)`` and lasts ``duration``,
for every k whose window opens before the load ends (the last one is cut there, as every
fault is healed by the end of the load). ``duration + jitter`` must not exceed ``every``, so
the windows of one fault never overlap.

``window_probability`` is a coin per window: each window happens with that probability (a
chaos experiment that runs on some days and not others). The name says what it is a
probability *of*: ``probability`` stays the per-request failure chance of an ``error`` fault,
and on any other fault it is refused with a message that points here.

The jitter and the coin of every window come from one named stream per fault,
``fault-windows:N`` (N: the fault's place in the scenario's list), drawn two uniforms per
window (jitter, then coin) whether or not the fault has a jitter or a coin. The stream
depends on the seed, the replication and the sweep point only, never on the pattern, so every
pattern of a replication gets the same windows (common random numbers), and changing
``window_probability`` does not move the jitters. A fault with neither ``schedule`` nor
``window_probability`` draws nothing.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from sim.config.types import NonNegativeDuration, PositiveDuration, StrictModel
from sim.kernel.rng import Streams

__all__ = ["Schedule", "Window", "recurring_windows", "windows_stream"]

Window = tuple[float, float]


class Schedule(StrictModel):
    """Recurring windows: every ``every``, each lasting ``duration``, opened up to ``jitter``
    late (Chaos Mesh Schedule)."""

    every: PositiveDuration = Field(description="time from one window's start to the next")
    duration: PositiveDuration | None = Field(
        None,
        description="how long each window lasts; may be given as the fault's duration instead",
    )
    jitter: NonNegativeDuration = Field(
        0.0, description="each window opens late by a uniform draw in [0, jitter)"
    )

    @model_validator(mode="after")
    def _fits(self) -> Schedule:
        if self.duration is not None and self.duration + self.jitter > self.every:
            raise ValueError(
                f"the windows of one fault would overlap: duration + jitter "
                f"({self.duration:g}s + {self.jitter:g}s) must not exceed every "
                f"({self.every:g}s)"
            )
        return self


def windows_stream(index: int) -> str:
    """The name of the stream that draws the jitters and coins of fault ``index``."""
    return f"fault-windows:{index}"


def recurring_windows(
    start: float,
    length: float | None,
    schedule: Schedule | None,
    probability: float | None,
    heal_by: float,
    streams: Streams,
    index: int,
) -> list[Window]:
    """The windows of a lasting fault, healed by ``heal_by`` at the latest (see the module
    docstring); a window that would open at or after ``heal_by`` is left out."""
    if schedule is None:
        end = heal_by if length is None else start + length
        windows = [(start, min(end, heal_by))]
        if probability is None:
            return windows
        draw = streams.stream(windows_stream(index)).uniform
        draw()  # the jitter's place: a single window has none
        return windows if draw() < probability else []
    assert length is not None
    draw = streams.stream(windows_stream(index)).uniform
    found: list[Window] = []
    k = 0
    while True:
        nominal = start + k * schedule.every
        if nominal >= heal_by:
            return found
        opens = nominal + draw() * schedule.jitter
        happens = draw() < (1.0 if probability is None else probability)
        if happens and opens < heal_by:
            found.append((opens, min(opens + length, heal_by)))
        k += 1
