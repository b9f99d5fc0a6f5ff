"""Pattern models, one module each, registered by their scenario ``kind``."""

from __future__ import annotations

from sim.patterns.base import PatternModel
from sim.patterns.dual_write import DualWriteModel
from sim.patterns.shared_db import SharedDbModel
from sim.patterns.sync_http import SyncHttpModel
from sim.patterns.two_phase_commit import TwoPhaseCommitModel

__all__ = ["REGISTRY", "PatternModel"]

REGISTRY: dict[str, type[PatternModel]] = {
    model.kind: model
    for model in (SharedDbModel, SyncHttpModel, TwoPhaseCommitModel, DualWriteModel)
}
"""Pattern model classes by ``kind``."""
