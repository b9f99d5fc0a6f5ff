"""The faults a component carries while they last: extra delays, error probabilities, a
service-time factor, a hang, a refusal and a clock offset.

Faults (:mod:`sim.faults`) do not reach into a component's internals; they add to and remove
from one :class:`Injected` that the component consults on its hot path (an empty one costs
one truth test):

- ``delays`` (``latency``): samplers whose draws are added to each unit of work's time;
- ``errors`` (``error``): probabilities; an arriving unit of work fails fast with the chance
  that at least one fires;
- ``factor`` (``slowdown``, StressChaos / Gremlin CPU): the product of the active factors, by
  which the unit of work's *drawn* time is multiplied (the same draw, scaled: common random
  numbers between a slowed and an unslowed run);
- ``hung`` (``hang``, Toxiproxy's ``timeout`` toxic with no timeout): work is accepted but
  nothing started or finished while it lasts answers; the component parks it in ``held``
  (it keeps its slot or connection) and, when the last hang ends, :meth:`Injectable.reset`
  fails each held unit of work with ``"reset"``, as when the hung connections are killed;
- ``refusing`` (``unavailable``, Chaos Mesh pod-failure): arriving work is refused at once
  (connection refused), while work already accepted goes on (state kept, nothing lost);
- ``clock`` (``clock-skew``, Chaos Mesh TimeChaos): the offset of the component's clock, read
  where timestamps are taken (:mod:`sim.infra.database`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.config.distributions import Sampler
from sim.kernel.codes import ERROR

__all__ = ["Injectable", "Injected", "combined"]

Undo = Callable[[], None]


def combined(probabilities: list[float]) -> float:
    """Probability that at least one of several independent failures happens."""
    miss = 1.0
    for probability in probabilities:
        miss *= 1.0 - probability
    return 1.0 - miss


class Injected:
    """Extra delays, error probabilities and the other faults injected into one component."""

    __slots__ = (
        "clock",
        "clocks",
        "delays",
        "error_probability",
        "errors",
        "factor",
        "factors",
        "held",
        "hung",
        "refusing",
    )

    def __init__(self) -> None:
        self.delays: list[Sampler] = []
        self.errors: list[float] = []
        self.error_probability = 0.0
        """The chance that at least one of the injected errors fires."""
        self.factors: list[float] = []
        self.factor = 1.0
        """The product of the active slowdown factors."""
        self.hung = 0
        """Active hangs."""
        self.held: list[Any] = []
        """Work parked by a hang, reset when the last hang ends."""
        self.refusing = 0
        """Active ``unavailable`` faults."""
        self.clocks: list[float] = []
        self.clock = 0.0
        """How far the component's clock is ahead of the true time (negative: behind)."""

    def __bool__(self) -> bool:
        return bool(self.delays or self.errors or self.factors or self.hung or self.refusing)

    def add_delay(self, sampler: Sampler) -> None:
        self.delays.append(sampler)

    def remove_delay(self, sampler: Sampler) -> None:
        self.delays.remove(sampler)

    def add_error(self, probability: float) -> None:
        self.errors.append(probability)
        self.error_probability = combined(self.errors)

    def remove_error(self, probability: float) -> None:
        self.errors.remove(probability)
        self.error_probability = combined(self.errors)

    def scaled(self, time: float) -> float:
        """A unit of work's drawn time under the active slowdowns, plus the extra delays."""
        if self.factors:
            time *= self.factor
        for extra in self.delays:
            time += extra()
        return time

    def holds(self, work: Any) -> bool:
        """Park ``work`` if a hang is active (True: the caller must not go on with it)."""
        if self.hung:
            self.held.append(work)
            return True
        return False


class Injectable:
    """What a component that faults act on offers (``Slowable``, ``Erroring``, ... in
    :mod:`sim.faults.components`): it keeps them in :attr:`injected`."""

    injected: Injected

    def add_delay(self, sampler: Sampler) -> None:
        self.injected.add_delay(sampler)

    def remove_delay(self, sampler: Sampler) -> None:
        self.injected.remove_delay(sampler)

    def add_error(self, probability: float) -> None:
        self.injected.add_error(probability)

    def remove_error(self, probability: float) -> None:
        self.injected.remove_error(probability)

    def slow_down(self, factor: float) -> Undo:
        """Multiply the time of the work started from now on by ``factor``."""
        injected = self.injected
        injected.factors.append(factor)
        injected.factor *= factor

        def undo() -> None:
            injected.factors.remove(factor)
            product = 1.0
            for left in injected.factors:
                product *= left
            injected.factor = product

        return undo

    def refuse(self) -> Undo:
        """Refuse arriving work until the undo runs; accepted work goes on."""
        injected = self.injected
        injected.refusing += 1

        def undo() -> None:
            injected.refusing -= 1

        return undo

    def hang(self) -> Undo:
        """Accept work and never answer it until the undo runs; then reset what was held."""
        injected = self.injected
        injected.hung += 1

        def undo() -> None:
            injected.hung -= 1
            if injected.hung == 0:
                held, injected.held = injected.held, []
                for work in held:
                    self.reset(work)

        return undo

    def reset(self, work: Any) -> None:
        """Fail a unit of work a hang held (a job of a service instance by default)."""
        work.finish(ERROR, "reset")

    def skew_clock(self, offset: float) -> Undo:
        """Set the component's clock ``offset`` seconds off until the undo runs."""
        injected = self.injected
        injected.clocks.append(offset)
        injected.clock = sum(injected.clocks)

        def undo() -> None:
            injected.clocks.remove(offset)
            injected.clock = sum(injected.clocks)

        return undo
