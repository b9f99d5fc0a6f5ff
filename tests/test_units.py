"""Human units: every accepted form reads as SI, every other form fails with the expected syntax."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.kernel.units import UnitError, format_duration, parse_duration, parse_percent, parse_rate

# -- durations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("250ms", 0.25),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("2h", 7200.0),
        ("1d", 86400.0),
        ("1.5us", 1.5e-6),
        ("1.5µs", 1.5e-6),
        ("40ns", 40e-9),
        ("1h1m1s", 3661.0),
        (".5s", 0.5),
        ("  250ms  ", 0.25),
        ("0s", 0.0),
    ],
)
def test_duration_with_units_reads_as_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds, rel=1e-12)


def test_m_is_minutes_and_ms_is_milliseconds() -> None:
    assert parse_duration("1m") == 60.0
    assert parse_duration("1ms") == pytest.approx(0.001)


@pytest.mark.parametrize(("value", "seconds"), [(3, 3.0), (0.25, 0.25), ("3", 3.0), ("0.25", 0.25)])
def test_bare_number_is_seconds(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(("text", "seconds"), [("-250ms", -0.25), ("- 1m30s", -90.0), ("-3", -3.0)])
def test_negative_sign_is_kept_so_validation_can_reject_it_by_name(
    text: str, seconds: float
) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


def test_negative_bare_number_is_kept() -> None:
    assert parse_duration(-2) == -2.0


@pytest.mark.parametrize(
    "value",
    [
        "",
        "   ",
        "-",
        "abc",
        "ms",
        "10 parsecs",
        "1m 30s",
        "5x",
        "30s!",
        "1.2.3s",
        "s30",
        None,
        True,
        [1],
    ],
)
def test_garbage_is_not_a_duration(value: object) -> None:
    with pytest.raises(UnitError, match=r"duration such as 250ms, 30s, 1m30s or 2h"):
        parse_duration(value)


@pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
def test_non_finite_number_is_not_a_duration(value: float) -> None:
    with pytest.raises(UnitError, match="finite"):
        parse_duration(value)


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "Infinity"])
def test_non_finite_text_is_rejected_like_a_non_finite_number(text: str) -> None:
    # A number written in the file as text must obey the same rule as the number itself;
    # otherwise ``duration: inf`` slips through as an endless phase.
    with pytest.raises(UnitError):
        parse_duration(text)


def test_unit_error_is_a_value_error_so_pydantic_reports_it() -> None:
    assert issubclass(UnitError, ValueError)


# -- rates -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_second"),
    [
        ("200/s", 200.0),
        ("200/sec", 200.0),
        ("12k/min", 200.0),
        ("12K/m", 200.0),
        ("3/h", 3 / 3600),
        ("3/hour", 3 / 3600),
        ("1.5M/d", 1.5e6 / 86400),
        ("86400/day", 1.0),
        (" 12 k / min ", 200.0),
        ("50", 50.0),
        (50, 50.0),
        (0.5, 0.5),
    ],
)
def test_rate_reads_as_per_second(text: object, per_second: float) -> None:
    assert parse_rate(text) == pytest.approx(per_second, rel=1e-12)


@pytest.mark.parametrize(
    "value", ["fast", "200/week", "200 per s", "/s", "k/s", "200/", "-5/s", "", None, False]
)
def test_garbage_is_not_a_rate(value: object) -> None:
    with pytest.raises(UnitError, match=r"rate such as 200/s, 12k/min or 3/h"):
        parse_rate(value)


@pytest.mark.parametrize(
    "value", [math.inf, math.nan, "inf", "nan"], ids=["inf", "nan", "text-inf", "text-nan"]
)
def test_non_finite_rate_is_rejected(value: object) -> None:
    with pytest.raises(UnitError):
        parse_rate(value)


# -- percents ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "fraction"),
    [
        ("99.9%", 0.999),
        ("5 %", 0.05),
        ("100%", 1.0),
        ("0%", 0.0),
        ("0.05", 0.05),
        (0.05, 0.05),
        (1, 1.0),
    ],
)
def test_percent_reads_as_fraction(value: object, fraction: float) -> None:
    assert parse_percent(value) == pytest.approx(fraction, rel=1e-12)


@pytest.mark.parametrize("value", ["abc%", "five", "%", "", None, True])
def test_garbage_is_not_a_percent(value: object) -> None:
    with pytest.raises(UnitError, match=re.escape("percentage such as 99.9%")):
        parse_percent(value)


# -- formatting --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (90, "1m30s"),
        (7200, "2h"),
        (3661, "1h1m1s"),
        (0.25, "250ms"),
        (0.0015, "1.5ms"),
        (2e-6, "2us"),
        (-90, "-1m30s"),
    ],
)
def test_format_gives_the_short_human_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=-10 * 86_400_000, max_value=10 * 86_400_000))
def test_formatted_whole_milliseconds_read_back_as_the_same_duration(milliseconds: int) -> None:
    seconds = milliseconds / 1000
    text = format_duration(seconds)
    assert math.isclose(parse_duration(text), seconds, rel_tol=1e-9, abs_tol=1e-12), text


@pytest.mark.parametrize("seconds", [59.999, 1234.567, 100_000.5, 1_000_000.5])
def test_formatted_fractional_seconds_keep_every_digit(seconds: float) -> None:
    text = format_duration(seconds)
    assert math.isclose(parse_duration(text), seconds, rel_tol=1e-9), text
