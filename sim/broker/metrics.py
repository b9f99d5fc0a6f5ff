"""The tables a broker records, and the rows it appends to them.

All through ``ctx.recorder`` (one row per fact, frames built at the end):

- ``broker_lost``: a record that left the log or never reached it although the producer was or
  will be told otherwise: truncated by a new leader (``leader-change``; ``acked`` = 0 means the
  producer had not been told success and will retry or fail it), dropped by an unclean election
  (``unclean-election``), or sent with acks=0 to a leader that could not take it.
- ``broker_duplicates``: a retried non-idempotent batch appended a second time (one row per
  record, at the offset of the first copy).
- ``leader_elections``: old and new leader (-1: none, the partition is offline), unclean or not,
  records truncated and how many of them had been acknowledged.
- ``partition_unavailable``: from a leader's death until clients reach the next one.
- ``isr_changes``: shrink (dead or lagging follower) and expand events with the ISR size after.
- ``broker_cleanup``: records removed by retention or compaction, with the new log start.
"""

from __future__ import annotations

from typing import Protocol

from sim.broker.log import Record
from sim.kernel.context import SimContext

__all__ = ["BrokerMetrics", "PartitionView"]


class PartitionView(Protocol):
    """What the tables note of a partition."""

    topic: str
    index: int
    isr: list[int]
    leader: int | None


class BrokerMetrics:
    """Declares the broker's tables and appends its facts."""

    def __init__(self, ctx: SimContext) -> None:
        self._env = ctx.env
        table = ctx.recorder.table
        self.lost = table(
            "broker_lost",
            {
                "time": "d",
                "topic": "s",
                "partition": "i",
                "offset": "q",
                "send_id": "q",
                "acked": "q",
                "reason": "s",
            },
        )
        self.duplicates = table(
            "broker_duplicates",
            {
                "time": "d",
                "topic": "s",
                "partition": "i",
                "offset": "q",
                "send_id": "q",
                "producer": "s",
            },
        )
        self.elections = table(
            "leader_elections",
            {
                "time": "d",
                "topic": "s",
                "partition": "i",
                "old_leader": "q",
                "new_leader": "q",
                "unclean": "q",
                "truncated": "q",
                "lost_acked": "q",
            },
        )
        self.unavailable = table(
            "partition_unavailable", {"topic": "s", "partition": "i", "start": "d", "end": "d"}
        )
        self.isr = table(
            "isr_changes",
            {
                "time": "d",
                "topic": "s",
                "partition": "i",
                "broker": "q",
                "change": "s",
                "isr_size": "q",
            },
        )
        self.cleanup = table(
            "broker_cleanup",
            {
                "time": "d",
                "topic": "s",
                "partition": "i",
                "removed": "q",
                "reason": "s",
                "log_start": "q",
            },
        )

    def isr_change(self, part: PartitionView, broker_id: int, change: str) -> None:
        """Note a change of a partition's in-sync replica set."""
        self.isr.append(self._env.now, part.topic, part.index, broker_id, change, len(part.isr))

    def election(
        self, part: PartitionView, old_leader: int | None, *, unclean: bool, truncated: list[Record]
    ) -> None:
        """Note an election (or a failed one: ``part.leader`` is None) and the records it cut."""
        now = self._env.now
        reason = "unclean-election" if unclean else "leader-change"
        lost_acked = 0
        for record in truncated:
            lost_acked += record.acked
            self.lost.append(
                now,
                part.topic,
                part.index,
                record.offset,
                record.send_id,
                int(record.acked),
                reason,
            )
        self.elections.append(
            now,
            part.topic,
            part.index,
            -1 if old_leader is None else old_leader,
            -1 if part.leader is None else part.leader,
            int(unclean),
            len(truncated),
            lost_acked,
        )

    def available_again(self, part: PartitionView, since: float) -> None:
        """Note the end of a partition's unavailability to clients."""
        self.unavailable.append(part.topic, part.index, since, self._env.now)
