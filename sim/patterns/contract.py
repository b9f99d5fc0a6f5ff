"""What a pattern model promises the runner, checked at the end of every run: no slot leaked by
a job (:mod:`sim.infra.service`), every gauge it reports declared in its ``metrics`` and every
declared gauge reported (:mod:`sim.metrics.catalog`). A broken promise is a
:class:`ModelError`, naming the pattern."""

from __future__ import annotations

from sim.metrics.catalog import declared
from sim.patterns.entities import EntityModels
from sim.patterns.model import PatternModel

__all__ = ["ModelError", "checked_gauges"]


class ModelError(RuntimeError):
    """A pattern model broke its contract during a run (a leaked slot, an undeclared gauge)."""


def checked_gauges(model: PatternModel | EntityModels, label: str) -> dict[str, float]:
    """The model's gauges, after checking its contract: no leaked slot, every gauge declared
    and every declared gauge reported."""
    leaks = model.leaks()
    held = sum(service.held_by_finished() for service in model.all_services())
    if leaks or held:
        shown = ", ".join(map(repr, leaks[:5])) + (" ..." if len(leaks) > 5 else "")
        raise ModelError(
            f"pattern {label!r} ({model.kind}): {len(leaks) + held} job(s) ended their work "
            f"without finishing, so their slots leaked: {shown or 'slots held by finished jobs'}. "
            "Every path through a job's work must end with job.finish(...), and work must "
            "continue only through the job (job.read_row, job.write_row, job.track)."
        )
    gauges = model.gauges()
    names = {m.name for m in declared(model.declares)}
    undeclared = sorted(set(gauges) - names)
    missing = sorted(names - set(gauges))
    if undeclared or missing:
        parts = []
        if undeclared:
            parts.append(f"reports {', '.join(undeclared)} without declaring it in `metrics`")
        if missing:
            parts.append(f"declares {', '.join(missing)} but does not report it in gauges()")
        raise ModelError(f"pattern {label!r} ({model.kind}) " + " and ".join(parts))
    return gauges
