"""Human units used in scenario files.

Durations are written like ``250ms``, ``30s``, ``1m30s``, ``2h`` or ``1.5us``; a bare number is
seconds. Rates are ``200/s``, ``12k/min``, ``3/h`` (or a bare number per second). Percentages
are ``99.9%`` (or a bare fraction). Internally everything is SI: seconds, per second, fractions.

Every parser raises :class:`UnitError` with a message that says what was expected, so the
scenario loader can show it next to the file position.
"""

from __future__ import annotations

import math
import re

__all__ = [
    "UnitError",
    "format_duration",
    "parse_duration",
    "parse_percent",
    "parse_rate",
]


class UnitError(ValueError):
    """A value that is not in the expected unit syntax."""


# (multiply, divide): dividing by 1000 rounds "9ms" to 0.009 exactly, multiplying by 1e-3 does not
_DURATION_UNITS: dict[str, tuple[float, float]] = {
    "ns": (1.0, 1e9),
    "us": (1.0, 1e6),
    "µs": (1.0, 1e6),
    "ms": (1.0, 1e3),
    "s": (1.0, 1.0),
    "m": (60.0, 1.0),
    "h": (3600.0, 1.0),
    "d": (86400.0, 1.0),
}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h|d)")
_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*([kKM]?)\s*/\s*(s|sec|m|min|h|hour|d|day)\s*$")
_RATE_PER: dict[str, float] = {
    "s": 1.0,
    "sec": 1.0,
    "m": 60.0,
    "min": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}
_MULTIPLIER = {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6}

DURATION_HELP = "a duration such as 250ms, 30s, 1m30s or 2h (a bare number is seconds)"
RATE_HELP = "a rate such as 200/s, 12k/min or 3/h (a bare number is per second)"
PERCENT_HELP = "a percentage such as 99.9% or a fraction between 0 and 1"


def _number_text(text: str, expected: str) -> float | None:
    """A plain number written as text (``"0.5"``), or None when it is not one."""
    try:
        number = float(text)
    except ValueError:
        return None
    if not math.isfinite(number):
        raise UnitError(f"expected {expected}; a number must be finite")
    return number


def _finite_number(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
        if not math.isfinite(number):
            raise UnitError(f"expected {DURATION_HELP}; a number must be finite")
        return number
    return None


def parse_duration(value: object) -> float:
    """Seconds from ``"1m30s"``, ``"250ms"`` or a bare number of seconds.

    A leading ``-`` is accepted so that validation can say "must not be negative" instead of
    "not a duration".
    """
    number = _finite_number(value)
    if number is not None:
        return number
    if not isinstance(value, str):
        raise UnitError(f"expected {DURATION_HELP}")
    text = value.strip()
    sign = 1.0
    if text.startswith("-"):
        sign, text = -1.0, text[1:].strip()
    if not text:
        raise UnitError(f"expected {DURATION_HELP}")
    number = _number_text(text, DURATION_HELP)
    if number is not None:
        return sign * number
    position, total = 0, 0.0
    for match in _DURATION_PART.finditer(text):
        if match.start() != position:
            break
        multiply, divide = _DURATION_UNITS[match.group(2)]
        total += float(match.group(1)) * multiply / divide
        position = match.end()
    if position != len(text):
        raise UnitError(f"expected {DURATION_HELP}")
    return sign * total


def parse_rate(value: object) -> float:
    """Events per second from ``"200/s"``, ``"12k/min"`` or a bare number per second."""
    if isinstance(value, bool):
        raise UnitError(f"expected {RATE_HELP}")
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            raise UnitError(f"expected {RATE_HELP}; a number must be finite")
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected {RATE_HELP}")
    text = value.strip()
    number = _number_text(text, RATE_HELP)
    if number is not None:
        return number
    match = _RATE.match(text)
    if match is None:
        raise UnitError(f"expected {RATE_HELP}")
    count = float(match.group(1)) * _MULTIPLIER[match.group(2)]
    return count / _RATE_PER[match.group(3)]


def parse_percent(value: object) -> float:
    """A fraction from ``"99.9%"`` or a bare fraction such as ``0.05``."""
    if isinstance(value, bool):
        raise UnitError(f"expected {PERCENT_HELP}")
    if isinstance(value, int | float):
        if not math.isfinite(float(value)):
            raise UnitError(f"expected {PERCENT_HELP}; a number must be finite")
        return float(value)
    if not isinstance(value, str):
        raise UnitError(f"expected {PERCENT_HELP}")
    text = value.strip()
    try:
        number = float(text[:-1].strip()) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise UnitError(f"expected {PERCENT_HELP}") from None
    if not math.isfinite(number):
        raise UnitError(f"expected {PERCENT_HELP}; a number must be finite")
    return number


def format_duration(seconds: float) -> str:
    """The shortest exact human form of a duration, e.g. ``90`` -> ``"1m30s"``, ``0.25`` -> ``"250ms"``."""
    if seconds == 0:
        return "0s"
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 1:
        for unit, scale in (("ms", 1e-3), ("us", 1e-6), ("ns", 1e-9)):
            count = seconds / scale
            if count >= 1 or unit == "ns":
                return f"{count:.12g}{unit}"
    if seconds != int(seconds):
        return f"{seconds:.15g}s"
    whole = int(seconds)
    parts = []
    for unit, scale in (("h", 3600), ("m", 60), ("s", 1)):
        if whole >= scale:
            parts.append(f"{whole // scale}{unit}")
            whole %= scale
    return "".join(parts)
