"""Distributions draw what they promise, refuse impossible parameters, and read bare durations.

Statistical checks use a fixed seed and bounds derived from the known variance (five standard
errors), so they fail for a wrong formula and not for an unlucky seed.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import TypeAdapter, ValidationError

from sim.config.distributions import (
    Constant,
    ConstantTime,
    Distribution,
    Empirical,
    Exponential,
    ExponentialTime,
    Lognormal,
    Pareto,
    Uniform,
)
from sim.config.sections import DatabaseProfile, NetworkConfig, ServiceConfig
from sim.kernel.rng import Streams

N = 200_000
Z99 = 2.3263478740408408


def draws(distribution: object, n: int = N, seed: int = 1) -> np.ndarray:
    sampler = distribution.sampler(Streams(seed).stream("test"))  # type: ignore[attr-defined]
    return np.fromiter((sampler() for _ in range(n)), dtype=float, count=n)


def lognormal_variance(mean: float, p99: float) -> float:
    sigma = Z99 - math.sqrt(Z99 * Z99 - 2.0 * math.log(p99 / mean))
    return (math.exp(sigma * sigma) - 1.0) * mean * mean


MS = 1e-3
CASES = [
    # (distribution, true mean, true variance)
    (Exponential(mean=2 * MS), 2 * MS, (2 * MS) ** 2),
    (Uniform(low=1 * MS, high=4 * MS), 2.5 * MS, (3 * MS) ** 2 / 12),
    (Empirical(samples=["1ms", "2ms", "9ms"]), 4 * MS, ((1 + 4 + 81) / 3 - 16) * MS * MS),
    (Pareto(scale=2 * MS, alpha=5.0), 2.5 * MS, (2 * MS) ** 2 * 5 / (4**2 * 3)),
    (Lognormal(mean=3 * MS, p99=9 * MS), 3 * MS, lognormal_variance(3 * MS, 9 * MS)),
    (Lognormal(mean=3 * MS, p99=30 * MS), 3 * MS, lognormal_variance(3 * MS, 30 * MS)),
]


@pytest.mark.parametrize(
    ("distribution", "mean", "variance"),
    CASES,
    ids=["exponential", "uniform", "empirical", "pareto", "lognormal-3x", "lognormal-10x"],
)
def test_sample_mean_is_within_five_standard_errors(
    distribution: object, mean: float, variance: float
) -> None:
    sample = draws(distribution)
    standard_error = math.sqrt(variance / N)
    assert abs(sample.mean() - mean) < 5 * standard_error
    assert distribution.mean == pytest.approx(mean)  # type: ignore[attr-defined]


def test_constant_always_draws_its_value() -> None:
    assert set(draws(Constant(value="5ms"), 1000)) == {0.005}


def test_draws_stay_in_the_support() -> None:
    assert draws(Exponential(mean=1.0), 20_000).min() >= 0.0
    uniform = draws(Uniform(low=1.0, high=4.0), 20_000)
    assert uniform.min() >= 1.0
    assert uniform.max() < 4.0
    assert draws(Pareto(scale=2.0, alpha=1.5), 20_000).min() >= 2.0
    assert draws(Lognormal(mean=1.0, p99=5.0), 20_000).min() > 0.0


def test_empirical_resamples_each_value_equally_often() -> None:
    sample = draws(Empirical(samples=[1.0, 2.0, 9.0]), 30_000)
    values, counts = np.unique(sample, return_counts=True)
    assert values.tolist() == [1.0, 2.0, 9.0]
    bound = 5 * math.sqrt(30_000 * (1 / 3) * (2 / 3))
    assert np.all(np.abs(counts - 10_000) < bound)


@pytest.mark.parametrize("ratio", [1.5, 3.0, 10.0])
def test_lognormal_p99_is_the_configured_p99(ratio: float) -> None:
    model = Lognormal(mean=0.002, p99=0.002 * ratio)
    sample = draws(model)
    # The fraction below the configured p99 is Binomial(N, 0.99) / N.
    below = np.mean(sample <= model.p99)
    assert abs(below - 0.99) < 5 * math.sqrt(0.99 * 0.01 / N)
    # The sample quantile's standard error by the delta method: sqrt(p(1-p)/N) / density(p99).
    sigma = model.sigma
    density = math.exp(-Z99 * Z99 / 2) / math.sqrt(2 * math.pi) / (model.p99 * sigma)
    standard_error = math.sqrt(0.99 * 0.01 / N) / density
    assert abs(np.quantile(sample, 0.99) - model.p99) < 5 * standard_error
    assert 5 * standard_error / model.p99 < 0.07  # "within a few percent" is what this checks


# -- validation --------------------------------------------------------------------------------

DIST = TypeAdapter(Distribution)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dist": "lognormal", "mean": "3ms", "p99": "3ms"}, "p99 must be above the mean"),
        ({"dist": "lognormal", "mean": "3ms", "p99": "2ms"}, "p99 must be above the mean"),
        ({"dist": "lognormal", "mean": "1ms", "p99": "20ms"}, "at most about 14.9 times"),
        ({"dist": "lognormal", "mean": 0, "p99": "1ms"}, "greater than 0"),
        ({"dist": "uniform", "low": "4ms", "high": "1ms"}, "high must not be below low"),
        ({"dist": "empirical", "samples": []}, "at least 1 item"),
        ({"dist": "empirical", "samples": ["1ms", "-2ms"]}, "greater than or equal to 0"),
        ({"dist": "constant", "value": "-5ms"}, "greater than or equal to 0"),
        ({"dist": "exponential", "mean": -1}, "greater than or equal to 0"),
        ({"dist": "pareto", "scale": "1ms", "alpha": 1.0}, "greater than 1"),
        ({"dist": "pareto", "scale": 0, "alpha": 2.0}, "greater than 0"),
        ({"dist": "normal", "mean": "1ms"}, "does not match any of the expected tags"),
        ({"dist": "constant", "value": "1ms", "mean": "1ms"}, "Extra inputs are not permitted"),
        ({"dist": "constant", "value": "soon"}, "duration such as 250ms"),
    ],
)
def test_bad_parameters_are_refused_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DIST.validate_python(data)


def test_a_uniform_of_one_point_is_allowed() -> None:
    assert DIST.validate_python({"dist": "uniform", "low": "2ms", "high": "2ms"}).mean == 0.002


# -- bare durations ----------------------------------------------------------------------------


def test_bare_duration_is_exponential_where_work_queues() -> None:
    assert TypeAdapter(ExponentialTime).validate_python("2ms") == Exponential(mean=0.002)
    assert ServiceConfig(service_time="2ms").service_time == Exponential(mean=0.002)
    assert DatabaseProfile(write_time=0.004).write_time == Exponential(mean=0.004)


def test_bare_duration_is_constant_for_hops_and_delays() -> None:
    assert TypeAdapter(ConstantTime).validate_python("2ms") == Constant(value=0.002)
    assert NetworkConfig(latency="250us").latency == Constant(value=0.00025)


@pytest.mark.parametrize("field_type", [ExponentialTime, ConstantTime])
def test_bare_zero_is_a_constant_zero_either_way(field_type: object) -> None:
    assert TypeAdapter(field_type).validate_python("0s") == Constant(value=0.0)
    assert TypeAdapter(field_type).validate_python(0) == Constant(value=0.0)


@pytest.mark.parametrize("field_type", [ExponentialTime, ConstantTime])
def test_a_mapping_keeps_its_own_family(field_type: object) -> None:
    parsed = TypeAdapter(field_type).validate_python({"dist": "uniform", "low": 0, "high": "1ms"})
    assert parsed == Uniform(low=0.0, high=0.001)


def test_bare_negative_duration_is_refused_as_negative() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        ServiceConfig(service_time="-2ms")


def test_bare_garbage_says_a_mapping_is_also_accepted() -> None:
    with pytest.raises(ValidationError, match="or a mapping with 'dist'"):
        NetworkConfig(latency="quick")


# -- shift -------------------------------------------------------------------------------------


def test_a_shifted_lognormal_keeps_the_mean_and_p99_of_the_whole() -> None:
    model = Lognormal(mean="20ms", p99="200ms", shift="0.3ms")
    quantile = model.quantile()
    assert quantile(0.99) == pytest.approx(0.2, rel=1e-9)  # p99 includes the shift
    assert quantile(0.0) >= 0.0003
    sample = draws(model)
    assert sample.min() >= 0.0003
    below = np.mean(sample <= 0.2)
    assert abs(below - 0.99) < 5 * math.sqrt(0.99 * 0.01 / N)
    variance = lognormal_variance(0.02 - 0.0003, 0.2 - 0.0003)  # the shift adds no variance
    assert abs(sample.mean() - 0.02) < 5 * math.sqrt(variance / N)


def test_a_shifted_exponential_keeps_its_mean_and_starts_at_the_shift() -> None:
    model = Exponential(mean="2ms", shift="0.5ms")
    quantile = model.quantile()
    assert quantile(0.0) == 0.0005
    assert quantile(1 - math.exp(-1)) == pytest.approx(0.0005 + 0.0015, rel=1e-12)
    sample = draws(model)
    assert sample.min() >= 0.0005
    assert abs(sample.mean() - 0.002) < 5 * 0.0015 / math.sqrt(N)


def test_a_shifted_pareto_moves_its_minimum_and_mean() -> None:
    model = Pareto(scale="2ms", alpha=5.0, shift="1ms")
    assert model.quantile()(0.0) == pytest.approx(0.003)
    assert model.mean == pytest.approx(0.001 + 0.0025)
    sample = draws(model)
    assert sample.min() >= 0.003
    assert abs(sample.mean() - 0.0035) < 5 * math.sqrt(0.002**2 * 5 / (16 * 3) / N)


def test_no_shift_draws_exactly_as_before() -> None:
    plain, shifted = Lognormal(mean=0.003, p99=0.03), Lognormal(mean=0.003, p99=0.03, shift=0)
    assert draws(plain, 100).tolist() == draws(shifted, 100).tolist()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"dist": "lognormal", "mean": "1ms", "p99": "9ms", "shift": "1ms"}, "must be above"),
        ({"dist": "lognormal", "mean": "2ms", "p99": "20ms", "shift": "1ms"}, "less the shift"),
        ({"dist": "exponential", "mean": "1ms", "shift": "2ms"}, "cannot be below it"),
        ({"dist": "pareto", "scale": "1ms", "alpha": 2, "shift": "-1ms"}, "greater than or eq"),
        ({"dist": "uniform", "low": 0, "high": 1, "shift": "1ms"}, "Extra inputs"),
    ],
)
def test_bad_shifts_are_refused_with_the_reason(data: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        DIST.validate_python(data)
