"""How a pattern's synchronous calls behave: timeouts, retries and the resilience guards, for
all its call edges at once and per edge.

A pattern that calls other services (``sync_http``) takes the keys of :class:`CallPolicy` at
its top level — they apply to every call edge — and may override any of them for the calls to
one service under ``calls``::

    - kind: sync_http
      retries: 2
      retry_budget: 10%
      circuit_breaker: {}            # resilience4j defaults
      calls:
        billing: {timeout: 2s, bulkhead: {max_concurrent: 10}}
        audit: {circuit_breaker: null}  # no breaker on this edge

Every guard is off by default, so a scenario that names none runs as before. Defaults cite
``domain.md`` by source tag. The policy itself lives in :mod:`sim.config.policy` (a service's
own calls, :mod:`sim.config.graph`, take the same keys).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from sim.config.clients import Backoff
from sim.config.model import PatternSettings, Problem, Scenario
from sim.config.policy import ISTIO_RETRY_ON, CallPolicy, RetryOn
from sim.config.resilience import Bulkhead, CircuitBreaker
from sim.config.types import Name, PositiveDuration, Probability, StrictModel

__all__ = ["ISTIO_RETRY_ON", "CallOverride", "CallPolicy", "CallingPattern", "RetryOn"]

_NULLABLE = frozenset({"per_try_timeout", "retry_budget", "circuit_breaker", "bulkhead"})
"""Keys whose ``null`` in an override means "none on this edge"."""


class CallOverride(StrictModel):
    """The keys of :class:`CallPolicy` to change for the calls to one service (unset: the
    pattern's; ``null`` on a guard: none on this edge)."""

    timeout: PositiveDuration | None = None
    per_try_timeout: PositiveDuration | None = None
    retries: int | None = Field(None, ge=0, le=100)
    retry_on: list[RetryOn] | None = None
    backoff: Backoff | None = None
    retry_budget: Probability | None = None
    circuit_breaker: CircuitBreaker | None = None
    bulkhead: Bulkhead | None = None
    deadline: bool | None = None


class CallingPattern(PatternSettings, CallPolicy):
    """Settings of a pattern whose owner calls the replica services."""

    calls: dict[Name, CallOverride] = Field(
        default_factory=dict,
        description="per call edge (by callee service): keys that differ from the pattern's",
    )

    def policy_for(self, callee: str) -> CallPolicy:
        """The policy of the calls to ``callee``."""
        override = self.calls.get(callee)
        base: dict[str, Any] = {name: getattr(self, name) for name in CallPolicy.model_fields}
        if override is None:
            return CallPolicy.model_validate(base)
        for name in override.model_fields_set:
            value = getattr(override, name)
            if value is not None or name in _NULLABLE:
                base[name] = value
        return CallPolicy.model_validate(base)

    def problems(self, scenario: Scenario) -> list[Problem]:
        replicas = scenario.data.replica_services()
        return [
            (
                ("calls", name),
                f"the owner makes no calls to {name}: calls are to the replicas "
                f"({', '.join(replicas) or 'none'})",
                name,
            )
            for name in self.calls
            if name not in replicas
        ]
