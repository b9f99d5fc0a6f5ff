"""Pattern models, one module each, registered by their scenario ``kind``.

A pattern is one module here (its settings model and its model class) plus its entry in
:data:`BUILTIN`; importing this package imports each and so registers them in
:data:`sim.kernel.registry.PATTERNS`, from which the scenario's ``patterns:`` union, the
metric catalog and :func:`model_class` are read.
"""

from __future__ import annotations

from importlib import import_module

from sim.kernel.registry import PATTERNS
from sim.patterns.model import PatternModel, register_pattern

__all__ = ["BUILTIN", "PatternModel", "model_class", "register_pattern"]

BUILTIN = (
    "shared_db",
    "sync_http",
    "two_phase_commit",
    "dual_write",
    "event_sourcing",
    "cdc",
    "polling",
    "outbox",
    "saga",
)
"""The modules of the built-in patterns, in the order the schema lists them."""

for _module in BUILTIN:
    import_module(f"sim.patterns.{_module}")


def model_class(kind: str) -> type[PatternModel]:
    """The model class of a pattern ``kind``."""
    found = PATTERNS.get(kind)
    assert issubclass(found, PatternModel)
    return found
