"""The producer's accumulator: batches of records per partition, and their bookkeeping.

Plain data; the behaviour (when a batch is ready, sent, retried or expired) lives in
:mod:`sim.broker.producer`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple

from sim.broker.log import Offset, PartitionId, Record
from sim.kernel.schedule import Deadline

if TYPE_CHECKING:
    from sim.broker.replication import Partition

__all__ = ["INF", "AckCallback", "Batch", "PartitionQueue", "RecordMetadata"]

INF = float("inf")


class RecordMetadata(NamedTuple):
    """Where an acknowledged record landed (offset -1 with acks=0)."""

    topic: str
    partition: PartitionId
    offset: Offset
    timestamp: float


AckCallback = Callable[[RecordMetadata | None, str | None], None]
"""``on_ack(metadata, error)``: metadata and None on success, None and an error code on failure."""


class Batch:
    """Records bound for one partition, sent and answered together."""

    __slots__ = (
        "attempts",
        "base_seq",
        "batch_id",
        "bytes",
        "closed",
        "created",
        "deadline",
        "handlers",
        "records",
        "retry_at",
        "seq_epoch",
        "timeout",
    )

    def __init__(self, batch_id: int, now: float, deadline: float) -> None:
        self.batch_id = batch_id
        self.created = now
        self.deadline = deadline
        self.records: list[Record] = []
        self.handlers: list[AckCallback | None] = []
        self.bytes = 0
        self.closed = False
        self.attempts = 0
        self.retry_at = 0.0
        self.base_seq = -1
        self.seq_epoch = -1
        self.timeout: Deadline | None = None
        """The request timeout of its latest attempt (cancelled once that is answered)."""


class PartitionQueue:
    """The accumulator of one partition."""

    __slots__ = (
        "batches",
        "dead",
        "epoch",
        "in_flight",
        "next_seq",
        "part",
        "partition",
        "timer_at",
        "topic",
        "watching",
    )

    def __init__(self, topic: str, partition: PartitionId, part: Partition) -> None:
        self.topic = topic
        self.partition = partition
        self.part = part
        self.batches: deque[Batch] = deque()
        self.in_flight: list[Batch] = []
        self.next_seq = 0
        self.epoch = 0
        self.timer_at = INF
        self.watching = False
        self.dead = False
        """True once the producer's process crashed: answers complete or fail, nothing more."""
