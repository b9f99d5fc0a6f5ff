"""Source connectors: what carries the owner's committed changes from its database to the broker.

:class:`CdcConnector` is log-based change data capture, modelled on Debezium's PostgreSQL
connector running as a Kafka Connect source task [DBZ-PG, K-CONNECT]:

- **Replication slot.** Created at the connector's first start, at the end of the commit log.
  It keeps every commit-log entry after its confirmed position, which moves only when the
  connector flushes its source offset (``confirmed_flush_lsn``). ``wal_retained`` is the
  number of entries it keeps; its maximum over the run is exact (checked at every commit).
  ``max_slot_wal_keep_size`` is unlimited by default, so nothing is ever invalidated [PG-SLOT].
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
  wake-ups. Deletes are sent as a change carrying the tombstone version.
- **Source offsets.** Every ``offset_flush_interval`` after the task starts, the offset of the
  longest acknowledged prefix of the records sent is stored and confirmed to the slot
  [K-CONNECT]. :meth:`CdcConnector.crash` loses what was not flushed; :meth:`restart` resumes
  from the stored offset (re-sending what came after it: duplicates) or, when no completed
  snapshot was stored, snapshots again. :meth:`stall` and :meth:`resume` stop and continue the
  task without losing its place; offsets keep being flushed meanwhile.
- **Publishing** goes through the ``publish(key, version, acked)`` function the pattern gives;
  a send that fails is sent again after :data:`RETRY_BACKOFF`. The pattern's producer for a
  Connect task should use :func:`connect_producer_config`: Connect forces ``acks=all``, one
  request in flight and an unbounded delivery timeout on source tasks, so a broker outage only
  delays delivery [K-CONNECT]; meanwhile no offset advances and the slot's WAL grows.

:class:`OutboxPoller` is the polling relay of a transactional outbox: every ``poll_interval``
it selects the unsent outbox rows in id order (``LIMIT batch_max_rows``), publishes them,
waits for the broker's acknowledgements and marks them sent. Both queries hold a database
connection (a point-query draw plus ``rows / scan_rate``; tagged ``connector``). A crash
between the publish and the mark re-publishes the rows at the next poll: at least once.
The outbox table is the database's commit log (every committed write of the owner wrote one
outbox row in the same transaction), and the rows marked sent are always a prefix of it.

Left out: Debezium's bounded internal queue (``max.queue.size`` back-pressure on the WAL
reader), heartbeats, incremental snapshots, slot invalidation and ``when_needed``
re-snapshots, the cost of logical decoding on the database server, the time the offset flush
and the task restart themselves take, transactions spanning several rows, and exactly-once
source support [DBZ-EOS].
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Generator
from typing import Any, NamedTuple

import simpy

from sim.config.broker import BrokerConfig
from sim.config.patterns import ConnectorSettings
from sim.context import SimContext
from sim.infra.common import OK, later
from sim.infra.database import Commit, Database

__all__ = [
    "RETRY_BACKOFF",
    "SNAPSHOT_FETCH_SIZE",
    "CdcConnector",
    "OutboxPoller",
    "Publish",
    "SourceOffset",
    "connect_producer_config",
]

Publish = Callable[[int, int, Callable[[bool], None]], None]
"""``publish(key, version, acked)``: send one change; ``acked(True)`` once the broker has it,
``acked(False)`` when the send failed."""

SNAPSHOT_FETCH_SIZE = 10_240
"""Rows per round trip of the snapshot scan: ``snapshot.fetch.size`` [DBZ-PG]."""

RETRY_BACKOFF = 1.0
"""Wait before a failed send is tried again: the producer's ``retry.backoff.max.ms`` [K-PROD]."""

TAG = "connector"
"""Tag of the connectors' queries in :attr:`Database.busy_by_tag`."""

CONNECT_DELIVERY_TIMEOUT = 2_147_483.647
"""``delivery.timeout.ms=Integer.MAX_VALUE`` forced on source-task producers [K-CONNECT]."""


def connect_producer_config(config: BrokerConfig) -> BrokerConfig:
    """The producer settings Kafka Connect forces on a source task without exactly-once support:
    ``acks=all``, one request in flight, unbounded delivery timeout and blocking, no
    idempotence [K-CONNECT]."""
    return config.model_copy(
        update={
            "acks": "all",
            "max_in_flight": 1,
            "delivery_timeout": CONNECT_DELIVERY_TIMEOUT,
            "max_block": math.inf,
            "idempotence": False,
        }
    )


class SourceOffset(NamedTuple):
    """A stored source offset: the log position and whether the snapshot was complete."""

    lsn: int
    snapshot_done: bool


class _Sent:
    __slots__ = ("acked", "offset")

    def __init__(self, offset: SourceOffset) -> None:
        self.offset = offset
        self.acked = False


Process = Generator[simpy.Event, Any, Any]


class Stallable:
    """Stall and resume of a task's loop: ``stall()`` makes the loop wait at its next
    ``yield from self._running()``; ``resume()`` lets it go on where it was."""

    env: simpy.Environment
    stalled: bool
    _resumed: simpy.Event | None

    def stall(self) -> None:
        """The task stops making progress without dying."""
        self.stalled = True

    def resume(self) -> None:
        """A stalled task goes on where it was."""
        self.stalled = False
        if self._resumed is not None:
            resumed, self._resumed = self._resumed, None
            resumed.succeed()

    def _running(self) -> Generator[simpy.Event, Any, None]:
        """Wait while the task is stalled."""
        while self.stalled:
            if self._resumed is None:
                self._resumed = self.env.event()
            yield self._resumed


class _Task(Stallable):
    """Crash, restart, stall and resume of a connector task (its incarnations are epochs)."""

    def __init__(self, ctx: SimContext, name: str, database: Database, publish: Publish) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.database = database
        database.keep_log = True
        self._publish = publish
        self.up = False
        self.stalled = False
        self._epoch = 0
        self._resumed: simpy.Event | None = None
        self.sent = 0
        """Records handed to ``publish`` (resends after a failure not counted)."""

    def start(self) -> None:
        """Start the task (at construction time of the pattern)."""
        if self.up:
            return
        self.up = True
        self._begin(self._epoch)

    def crash(self) -> None:
        """The task dies: work in progress and everything not stored is lost."""
        self.up = False
        self._epoch += 1
        self._lost()

    def restart(self) -> None:
        """The task starts again after a crash."""
        self.start()

    # -- for subclasses ----------------------------------------------------------------------
    def _begin(self, epoch: int) -> None:
        raise NotImplementedError

    def _lost(self) -> None:
        """Forget the state of the incarnation that just crashed."""

    def _alive(self, epoch: int) -> bool:
        return epoch == self._epoch

    def _scan(self, duration: float) -> Generator[simpy.Event, Any, bool]:
        """A query of the table holding a connection for ``duration``; True if it succeeded."""
        answered = self.env.event()

        def done(outcome: int, _value: Any) -> None:
            answered.succeed(outcome)

        self.database.scan(duration, done, TAG)
        outcome = yield answered
        return bool(outcome == OK)

    def _send(self, epoch: int, key: int, version: int, acked: Callable[[], None]) -> None:
        """Publish one change; a failed send is tried again until it is acknowledged."""
        self.sent += 1

        def answered(ok: bool) -> None:
            if epoch != self._epoch:
                return  # an answer to an incarnation that crashed
            if ok:
                acked()
            else:
                later(self.env, RETRY_BACKOFF, lambda: self._resend(epoch, key, version, answered))

        self._publish(key, version, answered)

    def _resend(self, epoch: int, key: int, version: int, answered: Callable[[bool], None]) -> None:
        if epoch == self._epoch:
            self._publish(key, version, answered)


class CdcConnector(_Task):
    """Log-based CDC of one database: snapshot, then streaming of its commit log."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        settings: ConnectorSettings,
        snapshot: bool = True,
        fetch_size: int = SNAPSHOT_FETCH_SIZE,
    ) -> None:
        super().__init__(ctx, name, database, publish)
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
        self._next = 0
        self._unacked: deque[_Sent] = deque()
        self._arrival: simpy.Event | None = None
        self._full: simpy.Event | None = None
        self._table = ctx.recorder.table(
            "connector_offsets",
            {"time": "d", "connector": "O", "event": "O", "lsn": "q", "wal_retained": "q"},
        )
        database.commit_listeners.append(self._committed)

    @property
    def wal_retained(self) -> int:
        """Commit-log entries the slot keeps now."""
        return 0 if self.slot is None else len(self.database.commit_log) - self.slot

    @property
    def position(self) -> int:
        """The log position of the next change the task will read."""
        return self._next

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
                if not (key in meta and meta[key].deleted)
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
        if self._arrival is not None:
            arrival, self._arrival = self._arrival, None
            arrival.succeed()
        if (
            self._full is not None
            and len(self.database.commit_log) - self._next >= self.settings.max_batch_size
        ):
            full, self._full = self._full, None
            full.succeed()

    def _note(self, event: str) -> None:
        lsn = -1 if self.stored is None else self.stored.lsn
        self._table.append(self.env.now, self.name, event, lsn, self.wal_retained)


class OutboxPoller(_Task):
    """The polling relay of a transactional outbox."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        poll_interval: float,
        batch_max_rows: int,
        scan_rate: float,
    ) -> None:
        super().__init__(ctx, name, database, publish)
        self.poll_interval = poll_interval
        self.batch_max_rows = batch_max_rows
        self.scan_rate = scan_rate
        profile = database.profile
        self._select_time = profile.read_time.sampler(ctx.stream(f"connector:{name}:select"))
        self._update_time = profile.write_time.sampler(ctx.stream(f"connector:{name}:update"))
        self.marked = 0
        """Outbox rows marked sent (a prefix of the outbox in id order)."""
        self.polls = 0

    def _begin(self, epoch: int) -> None:
        self.env.process(self._run(epoch))

    def _run(self, epoch: int) -> Process:
        env = self.env
        outbox = self.database.commit_log
        while True:
            yield from self._running()
            if not self._alive(epoch):
                return
            started = env.now
            self.polls += 1
            first = self.marked
            rows = outbox[first : first + self.batch_max_rows]
            selected = yield from self._scan(self._select_time() + len(rows) / self.scan_rate)
            if not self._alive(epoch):
                return
            if selected and rows:
                yield from self._publish_all(epoch, rows)
                if not self._alive(epoch):
                    return
                marked = yield from self._scan(self._update_time() + len(rows) / self.scan_rate)
                if not self._alive(epoch):
                    return
                if marked:
                    self.marked = max(self.marked, first + len(rows))
            if not (selected and len(rows) == self.batch_max_rows):
                wait = started + self.poll_interval - env.now
                if wait > 0.0:
                    yield env.timeout(wait)

    def _publish_all(self, epoch: int, rows: list[Commit]) -> Process:
        waiting = [len(rows)]
        all_acked = self.env.event()

        def acked() -> None:
            waiting[0] -= 1
            if waiting[0] == 0:
                all_acked.succeed()

        for entry in rows:
            self._send(epoch, entry.key, entry.version, acked)
        yield all_acked
