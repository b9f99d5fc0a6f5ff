"""Log-based change data capture: :class:`CdcConnector`, modelled on Debezium's PostgreSQL
connector running as a Kafka Connect source task [DBZ-PG, K-CONNECT]:

- **Replication slot.** Created at the connector's first start, at the end of the commit log.
  It keeps every commit-log entry after its confirmed position, which moves only when the
  connector flushes its source offset (``confirmed_flush_lsn``). ``wal_retained`` is the
  number of entries it keeps; its maximum over the run is exact (checked at every commit).
  Each entry counts ``wal_bytes_per_change`` bytes; a slot holding more than
  ``max_slot_wal_keep_size`` bytes is invalidated and the connector snapshots again
  (``snapshot.mode=when_needed``); the limit is unlimited by default [PG-SLOT].
- **Decoding load.** Logical decoding runs on the database server: every batch the task reads
  costs ``decode_time`` per change of database time (a query holding one of its connections,
  tagged ``connector``), so CDC loads its source database too.
- **Initial snapshot** (``snapshot.mode=initial``: only when there is no stored offset). It
  reads the log position, then scans the rows as they were at that instant (a serializable
  snapshot) in primary-key order, ``snapshot.fetch.size`` rows per round trip; each chunk is a
  :meth:`~sim.infra.database.Database.scan` of ``rows / snapshot_rate`` seconds that holds a
  connection (tagged ``connector``, so it shows in the database's load), then every row of the
  chunk is sent as a READ event. A snapshot that is interrupted (a crash, a failed scan) starts
  over from the beginning [DBZ-PG]. With ``snapshot=False`` (``snapshot.mode=no_data``, for an
  outbox table that is kept empty) the connector streams from the slot's position instead.
- **Streaming** from the snapshot's position, in commit order, keyed by primary key. Each poll
  of the task (Debezium's ``ChangeEventQueue.poll``) returns when ``max_batch_size`` changes
  are waiting or ``poll_interval`` after it began, whichever comes first; the task then spends
  ``event_time`` per change (decode, convert) and hands the batch to the producer, and polls
  again. An idle task sleeps until a commit arrives and then finishes the poll window that
  commit fell in, which is what polling every ``poll_interval`` would do, without the empty
  wake-ups. Deletes are sent as a change carrying the tombstone version. A connector that
  captures one table of a database that holds others (``capture``: the table's keys, one
  entity of several) decodes every entry and sends only its table's; the slot keeps the
  others too until a later flush passes them, as without heartbeats.
- **Source offsets.** Every ``offset_flush_interval`` after the task starts, the offset of the
  longest acknowledged prefix of the records sent is stored and confirmed to the slot
  [K-CONNECT]. :meth:`CdcConnector.crash` loses what was not flushed; :meth:`restart` resumes
  from the stored offset (re-sending what came after it: duplicates) or, when no completed
  snapshot was stored, snapshots again. :meth:`stall` and :meth:`resume` stop and continue the
  task without losing its place; offsets keep being flushed meanwhile.
- **Publishing** goes through the ``publish(key, version, acked)`` function the pattern gives
  (:mod:`sim.connectors.task`). The pattern's producer for a Connect task uses
  :func:`~sim.broker.producer_settings.connect_source_settings`: Connect forces ``acks=all``,
  one request in flight and an unbounded delivery timeout on source tasks, so a broker outage
  only delays delivery [K-CONNECT]; meanwhile no offset advances and the slot's WAL grows.

Left out: Debezium's bounded internal queue (``max.queue.size`` back-pressure on the WAL
reader), heartbeats, incremental snapshots, the time the offset flush
and the task restart themselves take, transactions spanning several rows, and exactly-once
source support [DBZ-EOS].
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Generator
from typing import Any, NamedTuple

import simpy

from sim.config.clients import ConnectorSettings
from sim.connectors.always import check_cdc
from sim.connectors.task import PollLog, Process, Publish, SourceTask
from sim.infra.database import Database
from sim.infra.rows import Commit
from sim.kernel.context import SimContext

__all__ = ["SNAPSHOT_FETCH_SIZE", "CdcConnector", "SourceOffset"]

SNAPSHOT_FETCH_SIZE = 10_240
"""Rows per round trip of the snapshot scan: ``snapshot.fetch.size`` [DBZ-PG]."""


class SourceOffset(NamedTuple):
    """A stored source offset: the log position and whether the snapshot was complete."""

    lsn: int
    snapshot_done: bool


class _Sent:
    __slots__ = ("acked", "offset")

    def __init__(self, offset: SourceOffset) -> None:
        self.offset = offset
        self.acked = False


class CdcConnector(SourceTask):
    """Log-based CDC of one database: snapshot, then streaming of its commit log."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        settings: ConnectorSettings,
        *,
        retry_backoff: float,
        snapshot: bool = True,
        fetch_size: int = SNAPSHOT_FETCH_SIZE,
        capture: tuple[int, int] | None = None,
    ) -> None:
        super().__init__(ctx, name, database, publish, retry_backoff)
        self.capture = capture
        """The captured table's keys ``[first, end)`` (Debezium's ``table.include.list``), when
        the database holds other tables too; None: every row of the database."""
        self._poll_log = PollLog(ctx, name)
        self.settings = settings
        self.snapshot = snapshot
        self.fetch_size = fetch_size
        self._event_time = settings.event_time.sampler(ctx.stream(f"connector:{name}:event"))
        self.slot: int | None = None
        """The slot's confirmed position (None before the connector first starts)."""
        self.stored: SourceOffset | None = None
        """The last flushed source offset."""
        self.wal_retained_max = 0
        self.snapshots_started = 0
        self.snapshots_completed = 0
        self.slot_invalidations = 0
        self._next = 0
        self._unacked: deque[_Sent] = deque()
        self._arrival: simpy.Event | None = None
        self._full: simpy.Event | None = None
        self._table = ctx.recorder.table(
            "connector_offsets",
            {"time": "d", "connector": "s", "event": "s", "lsn": "q", "wal_retained": "q"},
        )
        database.commit_listeners.append(self._committed)
        if ctx.always.on:
            check_cdc(self)

    @property
    def wal_retained(self) -> int:
        """Commit-log entries the slot keeps now."""
        return 0 if self.slot is None else len(self.database.commit_log) - self.slot

    @property
    def position(self) -> int:
        """The log position of the next change the task will read."""
        return self._next

    def pending_changes(self) -> list[tuple[int, int]]:
        """The changes the task will still send: the commit log from its read position."""
        return [
            (entry.key, entry.version)
            for entry in self.database.commit_log[self._next :]
            if self._captured(entry.key)
        ]

    @property
    def idle(self) -> bool:
        """Up, not snapshotting, the whole log read and every change sent acknowledged."""
        return (
            self.up
            and self.snapshots_started == self.snapshots_completed
            and self._next >= len(self.database.commit_log)
            and all(sent.acked for sent in self._unacked)
        )

    def flush(self) -> None:
        """Store the offset of the acknowledged prefix of what was sent; confirm it to the slot."""
        last: SourceOffset | None = None
        unacked = self._unacked
        while unacked and unacked[0].acked:
            last = unacked.popleft().offset
        if last is not None:
            self.stored = last
            self.slot = last.lsn if self.slot is None else max(self.slot, last.lsn)
        self._note("flush")

    # -- the task ----------------------------------------------------------------------------
    def _begin(self, epoch: int) -> None:
        if self.slot is None:
            self.slot = len(self.database.commit_log)  # the slot is created at first start
        self.env.process(self._run(epoch))
        self.env.process(self._flush_offsets(epoch))
        self._note("start")

    def _lost(self) -> None:
        self._unacked.clear()
        self._arrival = None
        self._full = None
        self._note("crash")

    def _run(self, epoch: int) -> Process:
        stored = self.stored
        if self.snapshot and (stored is None or not stored.snapshot_done):
            done = yield from self._snapshot(epoch)
            if not done:
                return
        else:
            assert self.slot is not None
            self._next = stored.lsn if stored is not None else self.slot
        yield from self._stream(epoch)

    def _snapshot(self, epoch: int) -> Generator[simpy.Event, Any, bool]:
        database = self.database
        rate = self.settings.snapshot_rate
        while True:
            self.snapshots_started += 1
            position = len(database.commit_log)
            meta = database.meta
            rows = sorted(
                (key, version)
                for key, version in database.rows.items()
                if not (key in meta and meta[key].deleted) and self._captured(key)
            )
            complete = True
            for first in range(0, len(rows), self.fetch_size):
                chunk = rows[first : first + self.fetch_size]
                scanned = yield from self._scan(len(chunk) / rate)
                if not self._alive(epoch):
                    return False
                if not scanned:
                    complete = False
                    break
                yield from self._running()
                yield from self._work(len(chunk))
                if not self._alive(epoch):
                    return False
                last = first + len(chunk) == len(rows)
                for index, (key, version) in enumerate(chunk):
                    offset = SourceOffset(position, last and index == len(chunk) - 1)
                    self._send_change(epoch, key, version, offset)
            if complete:
                self._next = position
                self.snapshots_completed += 1
                self._note("snapshot")
                return True
            # the database could not be read: the snapshot starts over after a poll interval
            yield self.env.timeout(self.settings.poll_interval)
            if not self._alive(epoch):
                return False

    def _stream(self, epoch: int) -> Process:
        env = self.env
        log = self.database.commit_log
        interval = self.settings.poll_interval
        limit = self.settings.max_batch_size
        while True:
            yield from self._running()
            if not self._alive(epoch):
                return
            start = env.now
            end = start + interval
            if self._next >= len(log):
                self._arrival = env.event()
                yield self._arrival
                if not self._alive(epoch):
                    return
                windows = max(1, math.ceil((env.now - start) / interval))
                end = start + windows * interval
            if len(log) - self._next < limit and env.now < end:
                self._full = env.event()
                yield env.any_of([env.timeout(end - env.now), self._full])
                self._full = None
                if not self._alive(epoch):
                    return
            if self.stalled:
                continue
            batch = log[self._next : self._next + limit]
            self._next += len(batch)
            read_at = env.now
            if self.settings.decode_time > 0.0:  # the walsender decodes them on the database
                decoded = yield from self._scan(len(batch) * self.settings.decode_time)
                if not self._alive(epoch):
                    return
                if not decoded:  # the database could not be read: read them again later
                    self._poll_log.record(read_at, 0, False)
                    self._next -= len(batch)
                    yield env.timeout(interval)
                    continue
            if self.capture is not None:  # decoded, but another table's: not sent
                batch = [entry for entry in batch if self._captured(entry.key)]
            self._poll_log.record(read_at, len(batch), True)
            yield from self._work(len(batch))
            if not self._alive(epoch):
                return
            for entry in batch:
                self._send_change(epoch, entry.key, entry.version, SourceOffset(entry.lsn, True))

    def _work(self, changes: int) -> Process:
        draw = self._event_time
        total = sum(draw() for _ in range(changes))
        if total > 0.0:
            yield self.env.timeout(total)

    def _flush_offsets(self, epoch: int) -> Process:
        interval = self.settings.offset_flush_interval
        while True:
            yield self.env.timeout(interval)
            if not self._alive(epoch):
                return
            self.flush()

    # -- helpers -----------------------------------------------------------------------------
    def _captured(self, key: int) -> bool:
        capture = self.capture
        return capture is None or capture[0] <= key < capture[1]

    def _send_change(self, epoch: int, key: int, version: int, offset: SourceOffset) -> None:
        sent = _Sent(offset)
        self._unacked.append(sent)

        def acked() -> None:
            sent.acked = True

        self._send(epoch, key, version, acked)

    def _committed(self, entry: Commit) -> None:
        if self.slot is not None:
            retained = entry.lsn - self.slot
            if retained > self.wal_retained_max:
                self.wal_retained_max = retained
            limit = self.settings.max_slot_wal_keep_size
            if limit is not None and retained * self.settings.wal_bytes_per_change > limit:
                self._invalidate()
        if self._arrival is not None:
            arrival, self._arrival = self._arrival, None
            arrival.succeed()
        if (
            self._full is not None
            and len(self.database.commit_log) - self._next >= self.settings.max_batch_size
        ):
            full, self._full = self._full, None
            full.succeed()

    def _invalidate(self) -> None:
        """The slot held more WAL than ``max_slot_wal_keep_size``: PostgreSQL invalidates it
        and the stored offset names WAL that is gone. The connector creates a new slot at the
        end of the log and, as ``snapshot.mode=when_needed`` does, snapshots again; what was
        committed in between and overwritten before the snapshot never reaches the topic."""
        self.slot_invalidations += 1
        self.stored = None
        self.slot = len(self.database.commit_log)
        self._note("invalidated")
        if self.up:
            self._epoch += 1
            self._lost()
            self._begin(self._epoch)

    def _note(self, event: str) -> None:
        lsn = -1 if self.stored is None else self.stored.lsn
        self._table.append(self.env.now, self.name, event, lsn, self.wal_retained)
