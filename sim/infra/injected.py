"""The faults a component carries while they last: extra delays and error probabilities.

Latency and error faults (:mod:`sim.faults`) do not reach into a component's internals; they
add to and remove from one :class:`Injected` that the component consults on its hot path
(an empty one costs one truth test).
"""

from __future__ import annotations

from sim.config.distributions import Sampler

__all__ = ["Injectable", "Injected", "combined"]


def combined(probabilities: list[float]) -> float:
    """Probability that at least one of several independent failures happens."""
    miss = 1.0
    for probability in probabilities:
        miss *= 1.0 - probability
    return 1.0 - miss


class Injected:
    """Extra delays and error probabilities injected into one component."""

    __slots__ = ("delays", "error_probability", "errors")

    def __init__(self) -> None:
        self.delays: list[Sampler] = []
        self.errors: list[float] = []
        self.error_probability = 0.0
        """The chance that at least one of the injected errors fires."""

    def __bool__(self) -> bool:
        return bool(self.delays or self.errors)

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


class Injectable:
    """What a component that latency and error faults act on offers (``Slowable``,
    ``Erroring`` in :mod:`sim.faults.components`): it keeps them in :attr:`injected`."""

    injected: Injected

    def add_delay(self, sampler: Sampler) -> None:
        self.injected.add_delay(sampler)

    def remove_delay(self, sampler: Sampler) -> None:
        self.injected.remove_delay(sampler)

    def add_error(self, probability: float) -> None:
        self.injected.add_error(probability)

    def remove_error(self, probability: float) -> None:
        self.injected.remove_error(probability)
