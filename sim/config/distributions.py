"""Time distributions used for service, database and network times.

In a scenario a distribution is either a bare duration or a mapping keyed on ``dist``::

    service_time: 2ms                                  # exponential with mean 2 ms
    service_time: {dist: constant, value: 5ms}
    service_time: {dist: exponential, mean: 2ms}
    service_time: {dist: lognormal, mean: 3ms, p99: 30ms}
    service_time: {dist: uniform, low: 1ms, high: 4ms}
    service_time: {dist: empirical, samples: [1ms, 2ms, 9ms]}
    latency:      {dist: pareto, scale: 2ms, alpha: 2.5}  # heavy tail, minimum = scale
    read_time:    {dist: lognormal, mean: 20ms, p99: 200ms, shift: 0.3ms}

``shift`` (exponential, lognormal, pareto) adds a constant to every draw: a floor such as a
round trip or a fixed cost under a variable part. Where the family is given by what it
measures (exponential's ``mean``, lognormal's ``mean`` and ``p99``) those figures describe the
**whole** distribution, shift included: ``{dist: lognormal, mean: 20ms, p99: 200ms, shift:
0.3ms}`` has mean 20 ms and p99 200 ms, its variable part mean 19.7 ms and p99 199.7 ms.
Pareto's ``scale`` and ``alpha`` are shape parameters of the variable part, which the shift
moves: its minimum is ``shift + scale``. The other families place themselves already
(``low``/``high``, ``value``, ``samples``) and take no shift.

Which family a *bare* duration means depends on the field (work that queues is exponential,
network hops and injected delays are constant): fields are typed :data:`ExponentialTime` or
:data:`ConstantTime` accordingly. A distribution turns into a zero-argument sampler
bound to one random stream with ``sampler``, so the hot path makes one Python call per draw, or
into its inverse distribution function with ``quantile``, which turns the uniform a unit of work
was given (:mod:`sim.kernel.draws`) into a time: the same uniform gives the same time wherever
the distribution is the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from statistics import NormalDist
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

from sim.config.types import NonNegativeDuration, PositiveDuration, StrictModel
from sim.kernel.rng import Stream
from sim.kernel.units import UnitError, parse_duration

__all__ = [
    "Constant",
    "ConstantTime",
    "Distribution",
    "Empirical",
    "Exponential",
    "ExponentialTime",
    "Lognormal",
    "Pareto",
    "Quantile",
    "Sampler",
    "Uniform",
]

Sampler = Callable[[], float]
Quantile = Callable[[float], float]
"""The inverse distribution function: a uniform in [0, 1) to a value."""

_TINY = 2.0**-54

_Z99 = 2.3263478740408408  # standard normal quantile at 0.99

Shift = Annotated[
    NonNegativeDuration,
    Field(description="a constant added to every draw (a floor); mean and p99 include it"),
]


class Constant(StrictModel):
    """Always the same value."""

    dist: Literal["constant"] = "constant"
    value: NonNegativeDuration

    @property
    def mean(self) -> float:
        return self.value

    def sampler(self, stream: Stream) -> Sampler:
        value = self.value
        return lambda: value

    def quantile(self) -> Quantile:
        value = self.value
        return lambda _u: value


class Exponential(StrictModel):
    """Memoryless, with the given mean (an M in queueing notation); with a ``shift``, the
    shift plus an exponential, the mean still that of the whole."""

    dist: Literal["exponential"] = "exponential"
    mean: NonNegativeDuration
    shift: Shift = 0.0

    @model_validator(mode="after")
    def _check_shift(self) -> Exponential:
        if self.shift > self.mean:
            raise ValueError(
                "the mean includes the shift, so it cannot be below it "
                f"(got mean={self.mean:g}s, shift={self.shift:g}s)"
            )
        return self

    def sampler(self, stream: Stream) -> Sampler:
        draw = stream.exponential
        if self.shift == 0:
            mean = self.mean
            return lambda: mean * draw()
        shift, rest = self.shift, self.mean - self.shift
        return lambda: shift + rest * draw()

    def quantile(self) -> Quantile:
        log1p = math.log1p
        if self.shift == 0:
            mean = self.mean
            return lambda u: -mean * log1p(-u)
        shift, rest = self.shift, self.mean - self.shift
        return lambda u: shift - rest * log1p(-u)


class Lognormal(StrictModel):
    """Right-skewed, given by its mean and its 99th percentile (p99 between 1x and ~15x the
    mean); with a ``shift``, the shift plus a lognormal, mean and p99 still those of the whole
    (the lognormal part has mean ``mean - shift`` and p99 ``p99 - shift``)."""

    dist: Literal["lognormal"] = "lognormal"
    mean: PositiveDuration
    p99: PositiveDuration
    shift: Shift = 0.0

    @model_validator(mode="after")
    def _check_shape(self) -> Lognormal:
        if self.shift >= self.mean:
            raise ValueError(
                "the mean includes the shift, so it must be above it "
                f"(got mean={self.mean:g}s, shift={self.shift:g}s)"
            )
        ratio = (self.p99 - self.shift) / (self.mean - self.shift)
        if not 1.0 < ratio <= math.exp(_Z99 * _Z99 / 2):
            raise ValueError(
                "p99 must be above the mean and at most about 14.9 times it for a lognormal "
                f"(got p99/mean = {ratio:.3g}" + (", both less the shift)" if self.shift else ")")
            )
        return self

    @property
    def sigma(self) -> float:
        gap = math.log((self.p99 - self.shift) / (self.mean - self.shift))
        return _Z99 - math.sqrt(_Z99 * _Z99 - 2.0 * gap)

    @property
    def mu(self) -> float:
        return math.log(self.mean - self.shift) - self.sigma**2 / 2.0

    def sampler(self, stream: Stream) -> Sampler:
        mu, sigma, shift = self.mu, self.sigma, self.shift
        draw, exp = stream.normal, math.exp
        if shift == 0:
            return lambda: exp(mu + sigma * draw())
        return lambda: shift + exp(mu + sigma * draw())

    def quantile(self) -> Quantile:
        mu, sigma, shift, exp = self.mu, self.sigma, self.shift, math.exp
        normal = NormalDist().inv_cdf
        if shift == 0:
            return lambda u: exp(mu + sigma * normal(min(max(u, _TINY), 1.0 - _TINY)))
        return lambda u: shift + exp(mu + sigma * normal(min(max(u, _TINY), 1.0 - _TINY)))


class Uniform(StrictModel):
    """Every value between ``low`` and ``high`` equally likely."""

    dist: Literal["uniform"] = "uniform"
    low: NonNegativeDuration
    high: NonNegativeDuration

    @model_validator(mode="after")
    def _check_bounds(self) -> Uniform:
        if self.high < self.low:
            raise ValueError(f"high must not be below low (got low={self.low}, high={self.high})")
        return self

    @property
    def mean(self) -> float:
        return (self.low + self.high) / 2.0

    def sampler(self, stream: Stream) -> Sampler:
        low, width = self.low, self.high - self.low
        draw = stream.uniform
        return lambda: low + width * draw()

    def quantile(self) -> Quantile:
        low, width = self.low, self.high - self.low
        return lambda u: low + width * u


class Empirical(StrictModel):
    """Resampled from measured values, each equally likely."""

    dist: Literal["empirical"] = "empirical"
    samples: list[NonNegativeDuration] = Field(min_length=1)

    @property
    def mean(self) -> float:
        return sum(self.samples) / len(self.samples)

    def sampler(self, stream: Stream) -> Sampler:
        values = tuple(self.samples)
        count = len(values)
        draw = stream.uniform
        return lambda: values[min(int(draw() * count), count - 1)]

    def quantile(self) -> Quantile:
        values = tuple(self.samples)
        count = len(values)
        return lambda u: values[min(int(u * count), count - 1)]


class Pareto(StrictModel):
    """Heavy-tailed (Pareto type I): never below ``scale``; smaller ``alpha`` = heavier tail.
    A ``shift`` moves it: never below ``shift + scale``."""

    dist: Literal["pareto"] = "pareto"
    scale: PositiveDuration
    alpha: float = Field(gt=1.0, description="tail index; must exceed 1 so the mean is finite")
    shift: Shift = 0.0

    @property
    def mean(self) -> float:
        return self.shift + self.alpha * self.scale / (self.alpha - 1.0)

    def sampler(self, stream: Stream) -> Sampler:
        scale, inverse, shift = self.scale, 1.0 / self.alpha, self.shift
        draw = stream.uniform
        if shift == 0:
            return lambda: scale * (1.0 - draw()) ** -inverse
        return lambda: shift + scale * (1.0 - draw()) ** -inverse

    def quantile(self) -> Quantile:
        scale, inverse, shift = self.scale, 1.0 / self.alpha, self.shift
        if shift == 0:
            return lambda u: scale * (1.0 - u) ** -inverse
        return lambda u: shift + scale * (1.0 - u) ** -inverse


Distribution = Annotated[
    Constant | Exponential | Lognormal | Uniform | Empirical | Pareto,
    Field(discriminator="dist"),
]


def _bare(family: str) -> Callable[[Any], Any]:
    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            return value
        try:
            seconds = parse_duration(value)
        except UnitError as error:
            raise ValueError(f"{error}, or a mapping with 'dist'") from None
        if seconds == 0:
            return {"dist": "constant", "value": 0.0}
        if family == "exponential":
            return {"dist": "exponential", "mean": seconds}
        return {"dist": "constant", "value": seconds}

    return convert


class _OrBareDuration:
    """JSON Schema: a distribution mapping, or a bare duration string/number."""

    def __init__(self, meaning: str) -> None:
        self.meaning = meaning

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        mapping = handler(core_schema)
        bare = {
            "anyOf": [{"type": "string"}, {"type": "number", "minimum": 0}],
            "description": f"a bare duration ({self.meaning})",
            "examples": ["2ms", 0.5],
        }
        return {"anyOf": [bare, mapping]}


ExponentialTime = Annotated[
    Distribution,
    BeforeValidator(_bare("exponential")),
    _OrBareDuration("an exponential with that mean"),
]
"""A distribution where a bare duration means an exponential with that mean."""

ConstantTime = Annotated[
    Distribution, BeforeValidator(_bare("constant")), _OrBareDuration("exactly that duration")
]
"""A distribution where a bare duration means exactly that duration."""


def is_zero(
    distribution: Constant | Exponential | Lognormal | Uniform | Empirical | Pareto,
) -> bool:
    """True when every draw is zero, so a hop or a step can be skipped entirely."""
    if isinstance(distribution, Constant):
        return distribution.value == 0
    if isinstance(distribution, Exponential):
        return distribution.mean == 0  # the shift is at most the mean
    if isinstance(distribution, Uniform):
        return distribution.high == 0
    if isinstance(distribution, Empirical):
        return all(sample == 0 for sample in distribution.samples)
    return False
