"""Which keys a scenario mapping may hold, for "unknown key" messages: the keys allowed where
the unknown one was written, and the near miss the user probably meant ("did you mean
'timeout'?").

:func:`allowed_keys` follows a validation error's location (``patterns, 1, sync_http,
timeot``) through the scenario model's types: model fields (by name and alias), lists,
mappings, optional and plain unions, and the pattern and fault unions built from the
registries, whose member pydantic names by its ``kind`` in the location.
"""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Sequence
from typing import Annotated, Any

from pydantic import BaseModel, RootModel

from sim.config.model import Scenario

__all__ = ["allowed_keys", "unknown_key_message"]


def _members(annotation: Any) -> list[Any]:
    """The types ``annotation`` stands for, unwrapped (Annotated, Optional, unions, the
    registry unions as their settings models)."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        base, *extra = typing.get_args(annotation)
        for marker in extra:
            registry = getattr(marker, "registry", None)
            if registry is not None:
                attribute = getattr(marker, "settings", None)
                return [
                    registry.get(kind)
                    if attribute is None
                    else getattr(registry.get(kind), attribute)
                    for kind in registry.kinds()
                ]
        return _members(base)
    if origin in (typing.Union, types.UnionType):
        return [m for arg in typing.get_args(annotation) for m in _members(arg)]
    return [annotation]


def _kind_of(model: type[BaseModel]) -> str | None:
    field = model.model_fields.get("kind")
    if field is None:
        return None
    args = typing.get_args(field.annotation)
    return str(args[0]) if args else None


def _step(candidates: list[Any], part: str | int) -> list[Any]:
    found: list[Any] = []
    for candidate in candidates:
        if isinstance(candidate, type) and issubclass(candidate, RootModel):
            candidate = candidate.model_fields["root"].annotation
        origin = typing.get_origin(candidate)
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            if isinstance(part, str) and _kind_of(candidate) == part:
                found.append(candidate)  # pydantic names the union member by its kind
                continue
            for name, field in candidate.model_fields.items():
                if part in (name, field.alias):
                    found.extend(_members(field.annotation))
        elif origin in (list, tuple, Sequence) and isinstance(part, int):
            args = typing.get_args(candidate)
            found.extend(_members(args[0]) if args else [])
        elif origin is dict:
            args = typing.get_args(candidate)
            found.extend(_members(args[1]) if len(args) == 2 else [])
    return [m for c in found for m in _members(c)]


def allowed_keys(loc: Sequence[str | int]) -> list[str]:
    """The keys a mapping at ``loc`` may hold (empty when they cannot be told)."""
    candidates: list[Any] = [Scenario]
    for part in loc:
        candidates = _step(candidates, part)
        if not candidates:
            return []
    keys: list[str] = []
    for candidate in candidates:
        if (
            isinstance(candidate, type)
            and issubclass(candidate, BaseModel)
            and not issubclass(candidate, RootModel)
        ):
            for name, field in candidate.model_fields.items():
                shown = field.alias or name
                if shown not in keys:
                    keys.append(shown)
    return keys


def unknown_key_message(loc: Sequence[str | int], key: str) -> str:
    """``unknown key; did you mean 'timeout'? (allowed here: ...)``."""
    allowed = allowed_keys(loc)
    if not allowed:
        return "unknown key"
    close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
    hint = f"; did you mean {close[0]!r}?" if close else ""
    shown = ", ".join(allowed[:16]) + (", …" if len(allowed) > 16 else "")
    return f"unknown key{hint} (allowed here: {shown})"
