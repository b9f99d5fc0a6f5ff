"""Building blocks of the scenario models: the strict base model and unit-aware field types.

Durations are stored as float seconds, rates as float per second and probabilities as
fractions; each accepts the human forms of :mod:`sim.kernel.units` in the file and is written back in
seconds in the resolved scenario.
"""

from __future__ import annotations

import types
import typing
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import PydanticCustomError

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
    "MAX_RATE",
    "MAX_SECONDS",
    "NAME_PATTERN",
    "Duration",
    "LoadRate",
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


MAX_SECONDS = 30 * 86_400.0
"""The longest duration a scenario may name: 30 days of simulated time."""
MAX_RATE = 1e7
"""The highest rate a scenario may name: ten million per second."""


def _takes_bool(annotation: Any) -> bool:
    if annotation is bool or annotation is Any or annotation is object:
        return True
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _takes_bool(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        return any(_takes_bool(arg) for arg in typing.get_args(annotation))
    return origin is typing.Literal and any(
        isinstance(arg, bool) for arg in typing.get_args(annotation)
    )


class StrictModel(BaseModel):
    """Base of every scenario model: unknown keys are errors, instances are immutable, and
    ``true``/``false`` is refused where a number is expected (``pool: true`` is not a pool of
    1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_a_number(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key) if isinstance(key, str) else None
                if (
                    isinstance(value, bool)
                    and field is not None
                    and not _takes_bool(field.annotation)
                ):
                    raise PydanticCustomError(
                        "bool_for_value",
                        "expected a number or a value here, not {value}",
                        {"key": key, "value": str(value).lower()},
                    )
        return data


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

_LONGEST = Field(le=MAX_SECONDS)
_FASTEST = Field(le=MAX_RATE)
Duration = Annotated[
    float, BeforeValidator(_duration), Field(ge=-MAX_SECONDS), _LONGEST, _DURATION_SCHEMA
]
NonNegativeDuration = Annotated[
    float, BeforeValidator(_duration), Field(ge=0), _LONGEST, _DURATION_SCHEMA
]
PositiveDuration = Annotated[
    float, BeforeValidator(_duration), Field(gt=0), _LONGEST, _DURATION_SCHEMA
]
Rate = Annotated[float, BeforeValidator(_rate), Field(ge=0), _RATE_SCHEMA]
PositiveRate = Annotated[float, BeforeValidator(_rate), Field(gt=0), _RATE_SCHEMA]
LoadRate = Annotated[float, BeforeValidator(_rate), Field(ge=0), _FASTEST, _RATE_SCHEMA]
"""An arrival rate of the load: at most :data:`MAX_RATE` per second."""
Probability = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1), _PERCENT_SCHEMA]
