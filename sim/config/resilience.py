"""Settings of the resilience mechanisms of synchronous calls and of the services that take them.

Client side, per call edge (a caller calling one callee): a circuit breaker and a bulkhead
(resilience4j's, with its defaults [R4J]). Server side, per service: a bounded queue that sheds
load and health-checked load balancing. Every mechanism is off unless the scenario names it,
so a scenario without them runs exactly as before.

Defaults cite ``domain.md`` by source tag; "judgment" marks a value chosen here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sim.config.types import (
    NonNegativeDuration,
    PositiveDuration,
    PositiveRate,
    Probability,
    StrictModel,
)

__all__ = ["Bulkhead", "CircuitBreaker", "HealthCheck", "QueueLimit", "RateLimit"]


class CircuitBreaker(StrictModel):
    """resilience4j's CircuitBreaker: a sliding window of call outcomes opens the breaker when
    the failure rate (or the slow-call rate) reaches its threshold; open, it refuses calls for
    ``wait_in_open``; then half-open, it lets ``half_open_calls`` through and closes or opens
    again on their failure rate. ``{}`` gives every default [R4J]."""

    window: Literal["count", "time"] = Field(
        "count",
        description="COUNT_BASED (the last `size` calls) or TIME_BASED (the calls of the last "
        "`size` seconds); resilience4j default COUNT_BASED [R4J]",
    )
    size: int = Field(
        100, ge=1, le=100_000, description="window size: calls, or seconds; default 100 [R4J]"
    )
    minimum_calls: int = Field(
        100,
        ge=1,
        le=100_000,
        description="calls the window must hold before a rate is computed; default 100 [R4J]",
    )
    failure_rate: Probability = Field(
        0.5, description="failure rate that opens the breaker; default 50% [R4J]"
    )
    slow_call_rate: Probability = Field(
        1.0, description="share of slow calls that opens the breaker; default 100% [R4J]"
    )
    slow_call_duration: PositiveDuration = Field(
        60.0, description="a call longer than this is slow; default 60 s [R4J]"
    )
    wait_in_open: PositiveDuration = Field(
        60.0, description="how long the breaker stays open before half-open; default 60 s [R4J]"
    )
    half_open_calls: int = Field(
        10,
        ge=1,
        le=100_000,
        description="trial calls permitted in half-open; default 10 [R4J]",
    )


class Bulkhead(StrictModel):
    """resilience4j's semaphore Bulkhead: at most ``max_concurrent`` calls to the callee at once;
    a call over it waits up to ``max_wait`` for a free permit, then is refused [R4J]."""

    max_concurrent: int = Field(
        25, ge=1, le=100_000, description="concurrent calls; default 25 [R4J]"
    )
    max_wait: NonNegativeDuration = Field(
        0.0, description="how long a call waits for a permit; default 0 [R4J]"
    )


class QueueLimit(StrictModel):
    """A bounded queue at each instance of a service: past ``limit`` waiting requests, load is
    shed (the request answered at once with 503, as a server's accept queue or an Envoy
    ``max_pending_requests`` overflow does [ENVOY])."""

    limit: int = Field(ge=0, le=10_000_000, description="requests that may wait per instance")
    order: Literal["fifo", "lifo"] = Field(
        "fifo",
        description="which waiting request a freed slot takes: the oldest (fifo) or the newest "
        "(lifo, always; not Facebook's adaptive LIFO, which switches only under congestion)",
    )
    overflow: Literal["reject", "drop_oldest"] = Field(
        "reject",
        description="when the queue is full: refuse the arriving request, or drop the oldest "
        "waiting one to make room",
    )


class HealthCheck(StrictModel):
    """An active health check by the load balancer: every ``interval`` it probes each
    instance; after ``unhealthy_threshold`` failed probes in a row the instance leaves the
    rotation, after ``healthy_threshold`` good ones it comes back. Defaults are Kubernetes'
    readiness probe (periodSeconds 10, failureThreshold 3, successThreshold 1); judgment, as
    domain.md gives only Envoy's passive outlier detection [ENVOY]."""

    interval: PositiveDuration = Field(10.0, description="time between probes; default 10 s")
    unhealthy_threshold: int = Field(
        3, ge=1, le=1000, description="failed probes in a row that take an instance out"
    )
    healthy_threshold: int = Field(
        1, ge=1, le=1000, description="good probes in a row that bring it back"
    )
    panic_threshold: Probability = Field(
        0.5,
        description="below this share of instances in rotation the balancer uses them all, as "
        "Envoy's panic threshold (50%) does [ENVOY]",
    )


class RateLimit(StrictModel):
    """A service's capacity, as a local rate limiter in front of it (Envoy's local rate limit,
    an API gateway's): a token bucket of ``requests`` per second holding ``burst`` seconds of
    them (at least one request); a request that finds it empty is refused at once with a 429 and counted as
    throttled. A 429 is not retried (Envoy's retry policies retry 5xx, resets and connect
    failures; Istio's default retriable status code is 503 [ISTIO])."""

    requests: PositiveRate = Field(description="requests per second the service admits")
    burst: PositiveDuration = Field(
        1.0, description="seconds of requests the bucket holds (a full bucket to start); judgment"
    )
