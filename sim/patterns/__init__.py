"""Pattern models, one module each, found by their scenario ``kind``.

Modules are imported when a run first needs them, so a notebook that compares two patterns does
not pay for the others.
"""

from __future__ import annotations

from importlib import import_module

from sim.patterns.base import PatternModel

__all__ = ["KINDS", "PatternModel", "model_class"]

KINDS: dict[str, str] = {
    "shared_db": "sim.patterns.shared_db:SharedDbModel",
    "sync_http": "sim.patterns.sync_http:SyncHttpModel",
    "two_phase_commit": "sim.patterns.two_phase_commit:TwoPhaseCommitModel",
    "dual_write": "sim.patterns.dual_write:DualWriteModel",
    "event_sourcing": "sim.patterns.event_sourcing:EventSourcingModel",
    "cdc": "sim.patterns.cdc:CdcModel",
    "polling": "sim.patterns.polling:PollingModel",
    "outbox": "sim.patterns.outbox:OutboxModel",
}
"""Where the model class of each ``kind`` lives (``module:Class``)."""


def model_class(kind: str) -> type[PatternModel]:
    """The model class of a pattern ``kind``."""
    module, _, name = KINDS[kind].partition(":")
    found = getattr(import_module(module), name)
    assert issubclass(found, PatternModel)
    return found
