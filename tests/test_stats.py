"""Student-t quantiles match the published tables; intervals are right and NaN when undefined."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.metrics.stats import mean_ci, t_quantile

# Two-sided 95 % critical values, t_{0.975, df}, as printed in standard tables.
PUBLISHED_975 = [(1, 12.7062), (2, 4.3027), (5, 2.5706), (10, 2.2281), (30, 2.0423), (120, 1.9799)]


@pytest.mark.parametrize(("df", "published"), PUBLISHED_975)
def test_t_quantile_matches_published_tables(df: int, published: float) -> None:
    assert t_quantile(0.975, df) == pytest.approx(published, abs=5e-5)


@pytest.mark.parametrize(
    ("probability", "df", "published"), [(0.95, 4, 2.1318), (0.995, 10, 3.1693)]
)
def test_t_quantile_at_other_levels(probability: float, df: int, published: float) -> None:
    assert t_quantile(probability, df) == pytest.approx(published, abs=5e-5)


def test_t_tends_to_the_normal_quantile_for_many_degrees_of_freedom() -> None:
    assert t_quantile(0.975, 1_000_000) == pytest.approx(1.959964, abs=1e-5)


def test_median_is_zero() -> None:
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-9)


@given(st.floats(min_value=0.501, max_value=0.999), st.integers(min_value=1, max_value=500))
def test_t_quantile_is_symmetric(probability: float, df: int) -> None:
    assert t_quantile(1.0 - probability, df) == pytest.approx(
        -t_quantile(probability, df), rel=1e-9
    )


@given(
    st.floats(min_value=0.55, max_value=0.995),
    st.floats(min_value=0.001, max_value=0.004),
    st.integers(min_value=1, max_value=200),
)
def test_t_quantile_grows_with_probability_and_shrinks_with_df(
    probability: float, step: float, df: int
) -> None:
    assert t_quantile(probability + step, df) > t_quantile(probability, df)
    assert t_quantile(probability, df + 1) < t_quantile(probability, df)


@pytest.mark.parametrize("probability", [0.0, 1.0, -0.1, 1.5])
def test_probability_outside_the_open_interval_is_refused_with_the_value(
    probability: float,
) -> None:
    with pytest.raises(ValueError, match=f"got {probability}"):
        t_quantile(probability, 5)


def test_no_values_gives_nan_everything_and_zero_count() -> None:
    mean, low, high, n = mean_ci([])
    assert n == 0
    assert math.isnan(mean)
    assert math.isnan(low)
    assert math.isnan(high)


def test_one_value_gives_its_mean_and_no_interval() -> None:
    mean, low, high, n = mean_ci([3.5])
    assert (mean, n) == (3.5, 1)
    assert math.isnan(low)
    assert math.isnan(high)


def test_known_small_sample() -> None:
    # mean 3, s = sqrt(2.5), se = sqrt(0.5), t_{0.975,4} = 2.776445
    mean, low, high, n = mean_ci([1.0, 2.0, 3.0, 4.0, 5.0])
    half = 2.776445 * math.sqrt(0.5)
    assert n == 5
    assert mean == 3.0
    assert low == pytest.approx(3.0 - half, abs=1e-5)
    assert high == pytest.approx(3.0 + half, abs=1e-5)


def test_lower_level_gives_a_narrower_interval() -> None:
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    _, low90, high90, _ = mean_ci(values, level=0.90)
    _, low95, high95, _ = mean_ci(values, level=0.95)
    assert high90 - low90 == pytest.approx(2 * 2.131847 * math.sqrt(0.5), abs=1e-5)
    assert low95 < low90 < high90 < high95


def test_non_finite_and_missing_values_are_left_out() -> None:
    assert mean_ci([1.0, math.nan, 3.0, math.inf, None])[::3] == (2.0, 2)  # type: ignore[list-item]


def test_identical_values_give_a_zero_width_interval() -> None:
    assert mean_ci([4.0, 4.0, 4.0]) == (4.0, 4.0, 4.0, 3)
