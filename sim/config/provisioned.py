"""Provisioned throughput of a database, DynamoDB style, and the SDK's retries of a throttled
request (``databases.<name>.capacity``).

Defaults and sources (``domain.md`` §5.3, §5.1): up to 300 s of unused capacity is banked as
burst [DDB]; a read of an item up to 4 KB costs one read capacity unit (strongly consistent),
a write of up to 1 KB one write capacity unit; a request over the limit fails fast with
``ProvisionedThroughputExceededException``, which the AWS SDK for Java v1 retries for
DynamoDB up to 10 times, with full-jitter exponential backoff from a 500 ms base for
throttling errors, capped at 20 s [AWS-J1, AWS-JIT].
"""

from __future__ import annotations

from pydantic import Field

from sim.config.types import NonNegativeDuration, PositiveDuration, PositiveRate, StrictModel

__all__ = ["Provisioned"]


class Provisioned(StrictModel):
    """Provisioned read and write capacity, its burst bank, and the client's retries."""

    reads: PositiveRate | None = Field(
        None, description="read capacity units per second; null: reads are not limited"
    )
    writes: PositiveRate | None = Field(
        None, description="write capacity units per second; null: writes are not limited"
    )
    burst: NonNegativeDuration = Field(
        300.0, description="seconds of unused capacity banked as burst; DynamoDB: 300 s [DDB]"
    )
    item_kb: float = Field(
        1.0,
        gt=0,
        le=400,
        description="item size in KB: a read costs ceil(kb / 4) units, a write ceil(kb) [DDB]",
    )
    retries: int = Field(
        10,
        ge=0,
        le=50,
        description="SDK retries of a throttled request; Java v1 for DynamoDB: 10 [AWS-J1]",
    )
    backoff: PositiveDuration = Field(
        0.5, description="base of the full-jitter backoff after a throttle: 500 ms [AWS-J1]"
    )
    max_backoff: PositiveDuration = Field(
        20.0, description="cap of one backoff wait: 20 s [AWS-J1]"
    )
