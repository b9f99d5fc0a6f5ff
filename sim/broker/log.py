"""The append-only log of one partition: offsets, timestamps, segments, retention, compaction.

A :class:`PartitionLog` holds the records of the partition's current leader in offset order.
Offsets are assigned on append and never reused or changed; retention removes a prefix (whole
segments) and compaction removes records from the middle, so offsets can have gaps and a read
returns the next record at or after the asked offset, as Kafka does (domain.md §1.6, [K-DESIGN]).
Each append stores the record's fields column by column, so a batch a producer retries after it
was appended is stored again as a second record at its own offset (the duplicate Kafka keeps
without idempotence); a read makes a :class:`Record` of each row it returns.

Segments are modelled only as far as they decide what retention and compaction may touch:

- the active segment rolls on append when it reaches ``segment_bytes`` or ``segment_time``;
- time retention deletes a whole segment once its newest timestamp is older than the retention
  and it lies below the high watermark, so data can outlive the retention by up to one segment
  [K-BRK];
- compaction cleans only closed segments (never the active one), keeps the last record of each
  key, and drops tombstones older than ``delete.retention.ms`` [K-BRK, K-DESIGN]. The tombstone
  age is measured from its own timestamp, a simplification of Kafka's "since the segment was
  cleaned".

Left out: disk, page cache, indexes, file handles, transactions and control records, size-based
retention (``retention.bytes=-1`` is Kafka's default [K-BRK]), the ``min.compaction.lag.ms`` and
``max.compaction.lag.ms`` bounds (Kafka's defaults, 0 and unbounded, mean no extra constraint).

This module knows nothing of SimPy: times are passed in.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from typing import Any

__all__ = ["Offset", "PartitionId", "PartitionLog", "Record"]

Offset = int
PartitionId = int


class Record:
    """One record as stored on the log (the fields a consumer sees, plus bookkeeping)."""

    __slots__ = (
        "acked",
        "batch_id",
        "key",
        "offset",
        "partition",
        "producer",
        "send_id",
        "sequence",
        "size",
        "timestamp",
        "topic",
        "value",
    )

    def __init__(
        self,
        topic: str,
        partition: PartitionId,
        key: Any,
        value: Any,
        timestamp: float,
        size: int,
        producer: str = "",
        send_id: int = -1,
    ) -> None:
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.timestamp = timestamp
        """CreateTime: when the producer's ``send()`` was called."""
        self.size = size
        self.producer = producer
        self.send_id = send_id
        """Identity of the ``send()`` call: two records with the same id are a duplicate."""
        self.offset: Offset = -1
        self.sequence = -1
        self.batch_id = -1
        self.acked = False
        """True once the producer was told (or, with acks=0, assumed) the record was written."""

    def __repr__(self) -> str:
        return (
            f"Record({self.topic}/{self.partition}@{self.offset} key={self.key!r} "
            f"value={self.value!r} ts={self.timestamp:.6g})"
        )


class PartitionLog:
    """Records of one partition in offset order, cut into segments.

    The records are stored column by column (typed arrays for the numbers, lists for keys,
    values and producer names), not as one object each: a log holds every record of a run, and
    a :class:`Record` is made only when one is read. Each append stores its own copy, so a
    retried batch appended again is a second record at its own offset.
    """

    def __init__(
        self, segment_bytes: int, segment_time: float, topic: str = "", partition: PartitionId = 0
    ) -> None:
        self.segment_bytes = segment_bytes
        self.segment_time = segment_time
        self._topic = topic
        self._partition = partition
        """The records' topic and partition, the same for all of them."""
        self._offsets = array("q")
        self._max_ts = array("d")
        """Running maximum of the timestamps, for :meth:`offset_for_time`."""
        self._times = array("d")
        self._sizes = array("i")  # Kafka's sizes and sequence numbers are 32-bit
        self._send_ids = array("q")
        self._sequences = array("i")
        self._batch_ids = array("q")
        self._acked = bytearray()
        self._keys: list[Any] = []
        self._values: list[Any] = []
        self._producers: list[str] = []
        self.log_start: Offset = 0
        self.end: Offset = 0
        """Log end offset: the offset the next appended record gets."""
        self._seg_base: list[Offset] = [0]
        self._seg_created: list[float] = [0.0]
        self._seg_bytes: list[int] = [0]
        self._seg_max_ts: list[float] = [float("-inf")]
        self._cleaned_upto: Offset = 0
        self.bytes = 0

    def _columns(self) -> tuple[Any, ...]:
        return (
            self._offsets,
            self._max_ts,
            self._times,
            self._sizes,
            self._send_ids,
            self._sequences,
            self._batch_ids,
            self._acked,
            self._keys,
            self._values,
            self._producers,
        )

    # --- appends and reads --------------------------------------------------------------------

    def append(self, record: Record, now: float) -> Offset:
        """Store a copy of the record at the next offset; returns the offset (also set on it)."""
        size = record.size
        if self._seg_bytes[-1] and (
            self._seg_bytes[-1] + size > self.segment_bytes
            or now - self._seg_created[-1] >= self.segment_time
        ):
            self._roll(now)
        offset = self.end
        record.offset = offset
        self.end = offset + 1
        timestamp = record.timestamp
        self._offsets.append(offset)
        previous = self._max_ts[-1] if self._max_ts else float("-inf")
        self._max_ts.append(timestamp if timestamp > previous else previous)
        self._times.append(timestamp)
        self._sizes.append(size)
        self._send_ids.append(record.send_id)
        self._sequences.append(record.sequence)
        self._batch_ids.append(record.batch_id)
        self._acked.append(record.acked)
        self._keys.append(record.key)
        self._values.append(record.value)
        self._producers.append(record.producer)
        self._seg_bytes[-1] += size
        if timestamp > self._seg_max_ts[-1]:
            self._seg_max_ts[-1] = timestamp
        self.bytes += size
        return offset

    def _roll(self, now: float) -> None:
        self._seg_base.append(self.end)
        self._seg_created.append(now)
        self._seg_bytes.append(0)
        self._seg_max_ts.append(float("-inf"))

    def __len__(self) -> int:
        return len(self._offsets)

    def _record(self, i: int) -> Record:
        key, value, size = self._keys[i], self._values[i], self._sizes[i]
        record = Record(self._topic, self._partition, key, value, self._times[i], size)
        record.producer, record.send_id = self._producers[i], self._send_ids[i]
        record.offset, record.sequence = self._offsets[i], self._sequences[i]
        record.batch_id, record.acked = self._batch_ids[i], bool(self._acked[i])
        return record

    def _slice(self, i: int, j: int) -> list[Record]:
        make = self._record
        return [make(k) for k in range(i, j)]

    def read(self, start: Offset, upto: Offset, limit: int) -> list[Record]:
        """Up to ``limit`` records with ``start <= offset < upto``, in offset order."""
        offsets = self._offsets
        i = bisect_left(offsets, start)
        j = bisect_left(offsets, upto, lo=i)
        if i == j:  # nothing new: most fetches of an idle partition
            return []
        return self._slice(i, min(j, i + limit))

    def _index(self, offset: Offset) -> int:
        """The position of the record at exactly ``offset``, or -1."""
        i = bisect_left(self._offsets, offset)
        return i if i < len(self._offsets) and self._offsets[i] == offset else -1

    def acknowledge(self, base: Offset, records: list[Record]) -> None:
        """Mark the records stored by the append at ``base`` as acknowledged to the producer
        (a retry's copies, not the copies stored before)."""
        for i, record in enumerate(records):
            k = self._index(base + i)
            if k >= 0 and self._send_ids[k] == record.send_id:
                self._acked[k] = 1

    def bytes_between(self, start: Offset, upto: Offset) -> int:
        """Bytes of the stored records with ``start <= offset < upto``."""
        i = bisect_left(self._offsets, start)
        return sum(self._sizes[i : bisect_left(self._offsets, upto, lo=i)])

    def get(self, offset: Offset) -> Record | None:
        """The record at exactly this offset, if it is still stored."""
        i = self._index(offset)
        return self._record(i) if i >= 0 else None

    def records(self) -> list[Record]:
        """Every stored record, in offset order."""
        return self._slice(0, len(self._offsets))

    def offset_for_time(self, timestamp: float) -> Offset | None:
        """The earliest offset whose timestamp is at or after ``timestamp`` (``offsetsForTimes``).

        None when no stored record is that recent (Kafka answers null) [K-CONS].
        """
        i = bisect_left(self._max_ts, timestamp)
        return self._offsets[i] if i < len(self._offsets) else None

    # --- truncation (leader change) -----------------------------------------------------------

    def truncate(self, to: Offset) -> list[Record]:
        """Drop every record at or after ``to`` (a new leader's log is shorter); returns them."""
        if to >= self.end:
            return []
        i = bisect_left(self._offsets, to)
        removed = self._slice(i, len(self._offsets))
        for column in self._columns():
            del column[i:]
        self.end = max(to, self.log_start)
        while len(self._seg_base) > 1 and self._seg_base[-1] >= self.end:
            for column in (self._seg_base, self._seg_created, self._seg_bytes, self._seg_max_ts):
                column.pop()
        self._refresh_last_segment()
        self.bytes -= sum(record.size for record in removed)
        self._cleaned_upto = min(self._cleaned_upto, self.end)
        return removed

    def _refresh_last_segment(self) -> None:
        start = bisect_left(self._offsets, self._seg_base[-1])
        self._seg_bytes[-1] = sum(self._sizes[start:])
        self._seg_max_ts[-1] = max(self._times[start:], default=float("-inf"))

    # --- retention ----------------------------------------------------------------------------

    def delete_expired(self, cutoff: float, high_watermark: Offset, now: float) -> list[Record]:
        """Delete leading segments whose newest timestamp is before ``cutoff``; returns the records.

        A segment is deletable only when all of it lies below the high watermark and, for the
        active segment, when it is not empty; deleting every segment rolls a new empty one, as
        Kafka's ``deleteOldSegments`` does.
        """
        count = 0
        while count < len(self._seg_base):
            last = count == len(self._seg_base) - 1
            upper = self.end if last else self._seg_base[count + 1]
            if (
                self._seg_max_ts[count] >= cutoff
                or upper > high_watermark
                or (last and self._seg_bytes[count] == 0)
            ):
                break
            count += 1
        if count == 0:
            return []
        new_start = self.end if count == len(self._seg_base) else self._seg_base[count]
        i = bisect_left(self._offsets, new_start)
        removed = self._slice(0, i)
        for column in self._columns():
            del column[:i]
        for column in (self._seg_base, self._seg_created, self._seg_bytes, self._seg_max_ts):
            del column[:count]
        if not self._seg_base:
            self._seg_base.append(self.end)
            self._seg_created.append(now)
            self._seg_bytes.append(0)
            self._seg_max_ts.append(float("-inf"))
        self.log_start = new_start
        self.bytes -= sum(record.size for record in removed)
        self._recompute_max_ts()
        return removed

    def _recompute_max_ts(self) -> None:
        running = float("-inf")
        values = array("d")
        for timestamp in self._times:
            if timestamp > running:
                running = timestamp
            values.append(running)
        self._max_ts[:] = values

    # --- compaction ---------------------------------------------------------------------------

    def dirty_ratio(self) -> float:
        """Share of the closed segments' bytes not yet compacted (0 when nothing is closed)."""
        closed = self.bytes - self._seg_bytes[-1]
        if closed <= 0:
            return 0.0
        first_dirty = bisect_left(self._seg_base, self._cleaned_upto)
        dirty = sum(self._seg_bytes[first_dirty:-1])
        return dirty / closed

    def compact(self, now: float, delete_retention: float) -> list[Record]:
        """Keep the last record of each key in the closed segments; returns the records removed.

        Tombstones that are the last of their key survive until ``delete_retention`` after
        their timestamp. Keyless records are kept (Kafka refuses them on compacted topics).
        """
        active_base = self._seg_base[-1]
        split = bisect_left(self._offsets, active_base)
        keys, values, times, offsets = self._keys, self._values, self._times, self._offsets
        last: dict[Any, Offset] = {}
        for k in range(split):
            if keys[k] is not None:
                last[keys[k]] = offsets[k]
        kept: list[int] = []
        dropped: list[int] = []
        for k in range(split):
            key = keys[k]
            keep = key is None or (
                last[key] == offsets[k]
                and not (values[k] is None and now - times[k] >= delete_retention)
            )
            (kept if keep else dropped).append(k)
        removed = [self._record(k) for k in dropped]
        rows = [*kept, *range(split, len(offsets))]
        for column in self._columns():
            column[:] = _pick(column, rows)
        self._recompute_max_ts()
        self._rebuild_closed_segments(len(kept))
        self.bytes -= sum(record.size for record in removed)
        self._cleaned_upto = active_base
        return removed

    def _rebuild_closed_segments(self, closed_count: int) -> None:
        bases, created = self._seg_base[:-1], self._seg_created[:-1]
        new_base: list[Offset] = []
        new_created: list[float] = []
        new_bytes: list[int] = []
        new_max: list[float] = []
        for index, base in enumerate(bases):
            upper = bases[index + 1] if index + 1 < len(bases) else self._seg_base[-1]
            i = bisect_left(self._offsets, base, hi=closed_count)
            j = bisect_left(self._offsets, upper, lo=i, hi=closed_count)
            if i == j:
                continue
            new_base.append(base)
            new_created.append(created[index])
            new_bytes.append(sum(self._sizes[i:j]))
            new_max.append(max(self._times[i:j]))
        self._seg_base = [*new_base, self._seg_base[-1]]
        self._seg_created = [*new_created, self._seg_created[-1]]
        self._seg_bytes = [*new_bytes, self._seg_bytes[-1]]
        self._seg_max_ts = [*new_max, self._seg_max_ts[-1]]


def _pick(column: Any, rows: list[int]) -> Any:
    """The entries of ``column`` at ``rows``, in a column of the same kind."""
    if isinstance(column, array):
        return array(column.typecode, [column[k] for k in rows])
    if isinstance(column, bytearray):
        return bytearray(column[k] for k in rows)
    return [column[k] for k in rows]
