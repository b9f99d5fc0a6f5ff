"""Settings of client components that several patterns share: HTTP retry backoff and the
Kafka Connect source connector.

Defaults cite ``domain.md`` by source tag; "judgment" marks a value chosen here.
"""

from __future__ import annotations

from pydantic import Field

from sim.config.distributions import Exponential, ExponentialTime
from sim.config.types import NonNegativeDuration, PositiveDuration, PositiveRate, StrictModel

__all__ = ["Backoff", "ConnectorSettings"]


class Backoff(StrictModel):
    """Exponential backoff with full jitter: retry n waits U[0, min(cap, (2^n - 1) * base))."""

    base: PositiveDuration = Field(0.025, description="Envoy retry base interval 25 ms [ENVOY]")
    cap: PositiveDuration = Field(0.25, description="Envoy cap, 10x base [ENVOY]")


class ConnectorSettings(StrictModel):
    """A Kafka Connect source connector reading a commit log (log-based CDC, an outbox relay)."""

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
    decode_time: NonNegativeDuration = Field(
        0.0001,
        description="database time logical decoding spends per change (the walsender's work, "
        "charged to the source database); judgment: no published figure was found, 0.1 ms is a "
        "fraction of a point write [PG-PERF]",
    )
    wal_bytes_per_change: int = Field(
        1024, ge=1, description="WAL bytes one change occupies in the slot; judgment"
    )
    max_slot_wal_keep_size: int | None = Field(
        None,
        ge=1,
        description="bytes of WAL a replication slot may hold before PostgreSQL invalidates it "
        "and the connector must snapshot again; null: unlimited, the default (-1) [PG-SLOT]",
    )
