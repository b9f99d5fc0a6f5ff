"""The policy of one call edge between services: timeouts, retries and resilience guards.

The same keys configure a pattern's calls (:mod:`sim.config.calls`) and the calls of a
service's call graph (:mod:`sim.config.graph`). Every guard is off by default. Defaults cite
``domain.md`` by source tag.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.config.clients import Backoff
from sim.config.resilience import Bulkhead, CircuitBreaker
from sim.config.types import PositiveDuration, Probability, StrictModel

__all__ = ["ISTIO_RETRY_ON", "CallPolicy", "RetryOn"]

RetryOn = Literal[
    "5xx",
    "gateway-error",
    "reset",
    "connect-failure",
    "refused-stream",
    "unavailable",
    "cancelled",
    "retriable-status-codes",
]
ISTIO_RETRY_ON: tuple[RetryOn, ...] = (
    "connect-failure",
    "refused-stream",
    "unavailable",
    "cancelled",
    "retriable-status-codes",
)


class CallPolicy(StrictModel):
    """Timeouts, retries and guards of a call edge."""

    timeout: PositiveDuration = Field(
        15.0,
        description="the route timeout: the whole call to one replica, retries included; "
        "Envoy's default 15 s [ENVOY]",
    )
    per_try_timeout: PositiveDuration | None = Field(
        None,
        description="the timeout of one attempt; none by default: an attempt may use what is "
        "left of the route timeout [ENVOY]",
    )
    retries: int = Field(2, ge=0, le=100, description="Istio default: 2 retries [ISTIO]")
    retry_on: list[RetryOn] = Field(
        default_factory=lambda: list[RetryOn](ISTIO_RETRY_ON),
        description="failures that are retried (Envoy's retry_on); Istio's default: "
        "connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes "
        "(503) [ISTIO]; add reset or 5xx to retry resets and per-try timeouts",
    )
    backoff: Backoff = Field(default_factory=lambda: Backoff.model_validate({}))
    retry_budget: Probability | None = Field(
        None,
        description="retries as a share of calls on this edge (Envoy retry_budget, Finagle "
        "RetryBudget; SRE: 10%); null: no budget",
    )
    circuit_breaker: CircuitBreaker | None = Field(
        None, description="a resilience4j circuit breaker per edge ({}: its defaults); null: none"
    )
    bulkhead: Bulkhead | None = Field(
        None,
        description="a resilience4j semaphore bulkhead per edge ({}: its defaults); null: none",
    )
    deadline: bool = Field(
        False,
        description="propagate deadlines (gRPC style): each attempt carries the time its caller "
        "stops waiting, so the callee drops work whose caller gave up; at the pattern's level "
        "also the client's deadline (arrival + workload.timeout), so the owner and the read "
        "targets drop client requests past it and the owner's calls are cut to the time left",
    )
