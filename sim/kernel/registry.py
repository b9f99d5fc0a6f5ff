"""Registries of the kinds a scenario may name: patterns and faults.

A pattern module registers its model class (which carries its settings model and the metrics
it declares); a fault module registers its fault class (a settings model with an ``apply``).
The scenario's ``patterns:`` and ``faults:`` unions, the SLO grammar's metric names and the
summary's columns are all read from here, so adding a kind is one module and one registry line,
and a kind that was never registered is an "unknown kind" validation error, never a
``KeyError`` in the middle of a run.

The registry only stores what it is given; it checks the shape of an entry (a settings model
whose ``kind`` is one literal string, unique) and leaves the meaning to the layers above.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Generic, TypeVar, get_args

__all__ = ["FAULTS", "PATTERNS", "Registry", "RegistryError", "kind_of"]

T = TypeVar("T")


class RegistryError(ValueError):
    """A kind registered twice, or an entry without a literal ``kind``."""


def kind_of(settings: Any) -> str:
    """The one literal value of a settings model's ``kind`` field."""
    fields = getattr(settings, "model_fields", None)
    field = fields.get("kind") if isinstance(fields, dict) else None
    values = get_args(field.annotation) if field is not None else ()
    if len(values) != 1 or not isinstance(values[0], str):
        raise RegistryError(
            f"{getattr(settings, '__name__', settings)!r} needs a field kind: Literal['name'] "
            "with exactly one value"
        )
    return values[0]


class Registry(Generic[T]):
    """Entries by kind, in registration order; ``version`` changes with every change."""

    def __init__(self, what: str) -> None:
        self.what = what
        self._entries: dict[str, T] = {}
        self.version = 0

    def register(self, kind: str, entry: T) -> T:
        """Add ``entry`` under ``kind``; a kind already registered is an error."""
        if kind in self._entries:
            raise RegistryError(f"{self.what} kind {kind!r} is already registered")
        self._entries[kind] = entry
        self.version += 1
        return entry

    def unregister(self, kind: str) -> None:
        """Remove a kind (for tests that register one of their own)."""
        if self._entries.pop(kind, None) is not None:
            self.version += 1

    def get(self, kind: str) -> T:
        """The entry of ``kind``; an unknown kind names the known ones."""
        found = self._entries.get(kind)
        if found is None:
            known = ", ".join(self._entries) or "none"
            raise RegistryError(f"unknown {self.what} kind {kind!r} (registered: {known})")
        return found

    def __contains__(self, kind: object) -> bool:
        return kind in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

    def kinds(self) -> list[str]:
        """Registered kinds, in registration order."""
        return list(self._entries)

    def entries(self) -> list[T]:
        """Registered entries, in registration order."""
        return list(self._entries.values())


PATTERNS: Registry[Any] = Registry("pattern")
"""Pattern model classes by kind (see :mod:`sim.patterns`)."""

FAULTS: Registry[Any] = Registry("fault")
"""Fault classes by kind (see :mod:`sim.faults`)."""
