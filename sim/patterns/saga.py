"""The saga pattern: a chain of local transactions, one per copy, that compensating
transactions undo when a step fails [MSP, SAGA-AZ].

``coordination`` chooses who drives it: ``orchestration`` (:mod:`sim.patterns.saga_orchestration`:
the owner's orchestrator calls each step over HTTP and keeps the saga's state in its
database) or ``choreography`` (:mod:`sim.patterns.saga_choreography`: each participant reacts
to the previous one's event on the broker; there is no coordinator). The step classes
(compensatable, pivot, retriable), the participants' local transactions and the metrics are
in :mod:`sim.patterns.saga_steps`; how a compensation counts in the consistency metrics, in
:mod:`sim.metrics.compensation`.

Left out (each module says what it leaves out): semantic locks and the other countermeasures
to a saga's lack of isolation, compensations that leave a trace of their own, parallel steps.
"""

from __future__ import annotations

from typing import Any

from sim.config.model import Scenario
from sim.kernel.context import SimContext
from sim.metrics.requests import RequestLog
from sim.patterns.model import register_pattern
from sim.patterns.saga_choreography import ChoreographedSaga
from sim.patterns.saga_orchestration import OrchestratedSaga
from sim.patterns.saga_steps import SagaBase, SagaSettings

__all__ = ["SagaModel", "SagaSettings"]


@register_pattern
class SagaModel(SagaBase):
    """A saga, orchestrated or choreographed: building one builds the model of its
    ``coordination``."""

    def __new__(  # type: ignore[misc]  # returns the coordination's model instead
        cls, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog
    ) -> SagaBase:
        if spec.coordination == "choreography":
            return ChoreographedSaga(ctx, scenario, spec, log)
        return OrchestratedSaga(ctx, scenario, spec, log)
