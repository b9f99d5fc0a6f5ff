"""Provisioned throughput of a database, DynamoDB style, and the SDK's retries of a throttled
request (``databases.<name>.capacity``).

Defaults and sources (``domain.md`` §5.3, §5.1): up to 300 s of unused capacity is banked as
burst [DDB]; a read of an item up to 4 KB costs one read capacity unit (strongly consistent),
a write of up to 1 KB one write capacity unit; a request over the limit fails fast with
``ProvisionedThroughputExceededException``, which the AWS SDK for Java v1 retries for
DynamoDB up to 10 times, with full-jitter exponential backoff from a 500 ms base for
throttling errors, capped at 20 s [AWS-J1, AWS-JIT]. A table's partitions each have a hard cap
of 3,000 RCU and 1,000 WCU that burst does not lift; adaptive capacity lets a hot partition use
the table's unused capacity up to that cap [DDB]. On-demand mode absorbs up to twice the
previous traffic peak at once [DDB]; a new on-demand table's previous peak is 2,000 write and
6,000 read request units, and a peak counts as "previous" 30 minutes after it (AWS DynamoDB
developer guide, "initial throughput for on-demand capacity mode"; not in ``domain.md``).
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, model_validator

from sim.config.types import NonNegativeDuration, PositiveDuration, PositiveRate, StrictModel

__all__ = ["Provisioned"]


class Provisioned(StrictModel):
    """Provisioned (or on-demand) read and write capacity, its burst bank, the table's
    partitions, and the client's retries."""

    mode: Literal["provisioned", "on_demand"] = Field(
        "provisioned",
        description="provisioned: reads and writes per second with a burst bank; on_demand: up "
        "to twice the previous peak, at most max_reads / max_writes [DDB]",
    )
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
    partitions: int | None = Field(
        None,
        ge=1,
        le=10_000,
        description="partitions of the table; null: ceil(reads / 3000 + writes / 1000), at "
        "least 1 (on demand: of twice the previous peak) [DDB]",
    )
    partition_reads: PositiveRate = Field(
        3000.0, description="hard cap of one partition, read units per second [DDB]"
    )
    partition_writes: PositiveRate = Field(
        1000.0, description="hard cap of one partition, write units per second [DDB]"
    )
    previous_peak_reads: PositiveRate = Field(
        6000.0,
        description="on demand: the previous read peak (a new table's: 6,000 units/s); the "
        "table serves up to twice its previous peak at once",
    )
    previous_peak_writes: PositiveRate = Field(
        2000.0, description="on demand: the previous write peak (a new table's: 2,000 units/s)"
    )
    max_reads: PositiveRate | None = Field(
        None, description="on demand: the table's maximum read throughput; null: none"
    )
    max_writes: PositiveRate | None = Field(
        None, description="on demand: the table's maximum write throughput; null: none"
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

    @model_validator(mode="after")
    def _mode_keys(self) -> Provisioned:
        if self.mode == "on_demand" and (self.reads is not None or self.writes is not None):
            raise ValueError(
                "an on_demand table has no provisioned reads or writes: give previous_peak_reads"
                " / previous_peak_writes, or max_reads / max_writes"
            )
        return self

    def partition_count(self) -> int:
        """The table's partitions (the setting, or DynamoDB's rule of thumb)."""
        if self.partitions is not None:
            return self.partitions
        if self.mode == "on_demand":
            reads, writes = 2 * self.previous_peak_reads, 2 * self.previous_peak_writes
        else:
            reads, writes = self.reads or 0.0, self.writes or 0.0
        return max(1, math.ceil(reads / self.partition_reads + writes / self.partition_writes))
