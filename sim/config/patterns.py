"""The patterns a scenario compares, one model per ``kind``, with their settings and defaults.

Defaults cite ``domain.md`` by source tag; "judgment" marks a value chosen here.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from sim.config.types import NonNegativeDuration, PositiveDuration, PositiveRate, StrictModel
from sim.distributions import Exponential, ExponentialTime

__all__ = [
    "Backoff",
    "CdcPattern",
    "DualWritePattern",
    "EventSourcingPattern",
    "OutboxPattern",
    "Pattern",
    "PollingPattern",
    "SharedDbPattern",
    "SyncHttpPattern",
    "TwoPhaseCommitPattern",
]

NAME_PATTERN = r"^[A-Za-z][A-Za-z0-9_.-]*$"
Name = Annotated[str, Field(pattern=NAME_PATTERN, max_length=64)]


class SharedDbPattern(StrictModel):
    """Every service reads and writes one database: never stale, one hot spot."""

    kind: Literal["shared_db"]
    name: Name | None = Field(None, description="label in reports; defaults to the kind")


class Backoff(StrictModel):
    """Exponential backoff with full jitter: retry n waits U[0, min(cap, (2^n - 1) * base))."""

    base: PositiveDuration = Field(0.025, description="Envoy retry base interval 25 ms [ENVOY]")
    cap: PositiveDuration = Field(0.25, description="Envoy cap, 10x base [ENVOY]")


class SyncHttpPattern(StrictModel):
    """The owner commits, then calls each replica service over HTTP."""

    kind: Literal["sync_http"]
    name: Name | None = None
    fanout: Literal["sequential", "parallel"] = Field(
        "sequential", description="sequential stops at the first call that fails"
    )
    timeout: PositiveDuration = Field(
        15.0, description="per attempt; Envoy route timeout 15 s [ENVOY]"
    )
    retries: int = Field(2, ge=0, le=100, description="Istio default: 2 retries [ISTIO]")
    backoff: Backoff = Field(default_factory=lambda: Backoff.model_validate({}))


class TwoPhaseCommitPattern(StrictModel):
    """The owner coordinates prepare and commit across every copy."""

    kind: Literal["two_phase_commit"]
    name: Name | None = None
    fanout: Literal["sequential", "parallel"] = Field(
        "sequential",
        description="participants one after another (a JTA manager's default) or all at once",
    )
    timeout: PositiveDuration = Field(
        15.0, description="per call (prepare votes; decision re-sends); Envoy route timeout [ENVOY]"
    )
    backoff: Backoff = Field(
        default_factory=lambda: Backoff.model_validate({}),
        description="between re-sends of a decision that was not acknowledged",
    )


class DualWritePattern(StrictModel):
    """The owner commits to its database and publishes the change to the broker, not atomically."""

    kind: Literal["dual_write"]
    name: Name | None = None
    order: Literal["commit_first", "publish_first"] = Field(
        "commit_first",
        description="commit_first loses the event when the publish fails or the owner crashes "
        "in between; publish_first leaves a phantom event when the commit then fails [DBZ-BLOG]",
    )
    idempotent_consumers: bool = Field(
        False, description="consumers drop an event whose version they already hold"
    )


class ConnectorSettings(StrictModel):
    """A Kafka Connect source connector (log-based CDC or a JDBC-style poller)."""

    offset_flush_interval: PositiveDuration = Field(
        60.0,
        description="source offsets are flushed this often; offset.flush.interval.ms [K-CONNECT]",
    )
    poll_interval: PositiveDuration = Field(
        0.5,
        description="how often the CDC connector reads the log; Debezium poll.interval.ms [DBZ-PG]",
    )
    max_batch_size: int = Field(
        2048, ge=1, description="changes per batch; Debezium max.batch.size [DBZ-PG]"
    )
    event_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.0001),
        description="connector work per change (decode, convert); judgment",
    )
    snapshot_rate: PositiveRate = Field(
        20_000.0,
        description="rows per second of the initial snapshot scan; judgment (snapshot.fetch.size "
        "10240 rows per round trip [DBZ-PG])",
    )


class CdcPattern(StrictModel):
    """The owner writes only its database; a connector tails the commit log into the broker."""

    kind: Literal["cdc"]
    name: Name | None = None
    idempotent_consumers: bool = Field(
        False, description="consumers drop a change whose version they already hold"
    )
    connector: ConnectorSettings = Field(
        default_factory=lambda: ConnectorSettings.model_validate({})
    )


class PollingPattern(StrictModel):
    """A Kafka Connect JDBC-style source polls the owner's table for changed rows."""

    kind: Literal["polling"]
    name: Name | None = None
    mode: Literal["bulk", "incrementing", "timestamp", "timestamp+incrementing"] = Field(
        "timestamp", description="which rows a poll selects [JDBC-CFG]"
    )
    poll_interval: PositiveDuration = Field(5.0, description="poll.interval.ms [JDBC-CFG]")
    batch_max_rows: int = Field(1000, ge=1, description="batch.max.rows [JDBC-CFG]")
    timestamp_delay: NonNegativeDuration = Field(
        0.0,
        description="timestamp.delay.interval.ms: skip rows newer than now minus this [JDBC-CFG]",
    )
    row_time: NonNegativeDuration = Field(
        0.00001, description="database time per row a poll reads (10 us); judgment"
    )
    offset_flush_interval: PositiveDuration = Field(
        60.0,
        description="source offsets are flushed this often; offset.flush.interval.ms [K-CONNECT]",
    )
    idempotent_consumers: bool = Field(
        False, description="consumers drop a row version they already hold"
    )


class OutboxPattern(StrictModel):
    """The owner writes the row and an outbox record in one transaction; a relay publishes it."""

    kind: Literal["outbox"]
    name: Name | None = None
    relay: Literal["cdc", "polling"] = Field(
        "cdc", description="the relay: a log-based connector or a poller of unsent outbox rows"
    )
    poll_interval: PositiveDuration = Field(
        1.0, description="with relay: polling, how often unsent rows are read; judgment"
    )
    batch_max_rows: int = Field(1000, ge=1, description="rows per poll [JDBC-CFG]")
    idempotent_consumers: bool = Field(
        True, description="consumers deduplicate by event id [DBZ-OUTBOX, DBZ-BLOG]"
    )
    connector: ConnectorSettings = Field(
        default_factory=lambda: ConnectorSettings.model_validate({})
    )


class EventSourcingPattern(StrictModel):
    """The log is the source of truth: writers append, listeners project, readers answer."""

    kind: Literal["event_sourcing"]
    name: Name | None = None
    writers: int = Field(
        1,
        ge=1,
        le=10_000,
        description="instances of the write service (the owner's concurrency and service time); "
        "one serialized writer per key is assumed [ES-KAFKA]",
    )
    listeners: int = Field(
        2,
        ge=1,
        le=10_000,
        description="members of the listener group of each read store (consumer:SERVICE); "
        "parallelism is capped by the partitions [RAO]",
    )
    readers: int = Field(
        3,
        ge=1,
        le=10_000,
        description="instances of each read service (that service's concurrency and service time)",
    )
    projection_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.002),
        description="a listener's work per event before it writes the read store; judgment",
    )


Pattern = Annotated[
    SharedDbPattern
    | SyncHttpPattern
    | TwoPhaseCommitPattern
    | DualWritePattern
    | EventSourcingPattern
    | CdcPattern
    | PollingPattern
    | OutboxPattern,
    Field(discriminator="kind"),
]
