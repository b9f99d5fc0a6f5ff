"""Building blocks of the scenario models: the strict base model and unit-aware field types.

Durations are stored as float seconds, rates as float per second and probabilities as
fractions; each accepts the human forms of :mod:`sim.kernel.units` in the file and is written back in
seconds in the resolved scenario.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

from sim.kernel.units import (
    DURATION_HELP,
    PERCENT_HELP,
    RATE_HELP,
    UnitError,
    parse_duration,
    parse_percent,
    parse_rate,
)

__all__ = [
    "NAME_PATTERN",
    "Duration",
    "Name",
    "NonNegativeDuration",
    "PositiveDuration",
    "PositiveRate",
    "Probability",
    "Rate",
    "StrictModel",
]


NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]
"""A name of a service, pattern or scenario: a letter, then letters, digits, ``_ . -``."""


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors and instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _duration(value: Any) -> Any:
    try:
        return parse_duration(value)
    except UnitError as error:
        raise ValueError(str(error)) from None


def _rate(value: Any) -> Any:
    try:
        return parse_rate(value)
    except UnitError as error:
        raise ValueError(str(error)) from None


def _percent(value: Any) -> Any:
    try:
        return parse_percent(value)
    except UnitError as error:
        raise ValueError(str(error)) from None


_DURATION_SCHEMA = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string", "pattern": r"^-?\s*(\d+(\.\d+)?(ns|us|µs|ms|s|m|h|d))+\s*$"},
            {"type": "number"},
        ],
        "description": DURATION_HELP,
        "examples": ["250ms", "30s", "1m30s"],
    }
)
_RATE_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "string"}, {"type": "number"}],
        "description": RATE_HELP,
        "examples": ["200/s", "12k/min"],
    }
)
_PERCENT_SCHEMA = WithJsonSchema(
    {
        "anyOf": [{"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*%\s*$"}, {"type": "number"}],
        "description": PERCENT_HELP,
        "examples": ["5%", 0.05],
    }
)

Duration = Annotated[float, BeforeValidator(_duration), _DURATION_SCHEMA]
NonNegativeDuration = Annotated[float, BeforeValidator(_duration), Field(ge=0), _DURATION_SCHEMA]
PositiveDuration = Annotated[float, BeforeValidator(_duration), Field(gt=0), _DURATION_SCHEMA]
Rate = Annotated[float, BeforeValidator(_rate), Field(ge=0), _RATE_SCHEMA]
PositiveRate = Annotated[float, BeforeValidator(_rate), Field(gt=0), _RATE_SCHEMA]
Probability = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1), _PERCENT_SCHEMA]
