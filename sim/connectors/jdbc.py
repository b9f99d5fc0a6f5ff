"""A query-based change poller: one Kafka Connect JDBC source task reading one table.

Use::

    poller = JdbcSourcePoller(ctx, "users", database, publish, mode="timestamp")
    poller.start()

``publish(key, version, acked)`` hands one record to the connector's producer; ``acked(True)``
is called once the broker has it (a failed send is sent again after ``retry_backoff``).

What is modelled ([JDBC-CFG], [JDBC-ISS], [QCDC], [K-CONNECT]):

- **The table** is the database's rows with their metadata (:class:`sim.infra.database.RowMeta`):
  a timestamp column holding the time the last writing transaction *began*, an incrementing id
  assigned to the row when it was inserted, and whether it was deleted. A query sees only what
  was committed when it is issued (its snapshot); deleted rows are gone from the table.
- **One query per poll**, selected by ``mode``:
  ``bulk`` reads every row; ``incrementing`` reads rows with ``id > last_id`` (new rows only);
  ``timestamp`` reads ``ts > last_ts AND ts < now - timestamp_delay``; ``timestamp+incrementing``
  reads ``ts < now - delay AND ((ts = last_ts AND id > last_id) OR ts > last_ts)``; the
  incremental modes order by ``ts, id`` (or ``id``). The timestamp modes first ask the database
  for its current time (``SELECT CURRENT_TIMESTAMP``: one round trip, one draw of the database's
  read time), which is the ``now`` of the query (:meth:`Database.clock`: off under a
  ``clock-skew`` of the database).
- **Clocks** (``clock-skew``, Chaos Mesh TimeChaos): a row's stamp is read from the clock of
  the database, shifted by the writing service's skew (an application that sets the column
  itself). A writer whose clock is behind stamps its rows below rows already read, so the
  timestamp modes skip them for good (a backward jump of the database's clock does the same
  to the rows written just after it); a writer ahead stamps rows in the future, which wait
  until the database's clock passes them. ``incrementing`` mode reads no clock and is
  unaffected.
- **The position** moves to each row as it is handed to the producer, so it ends past the
  highest value read. A row whose transaction began before a row already read but committed
  after that read has a value below the position and is skipped forever: the missed-row window
  of out-of-order commits [JDBC-ISS]. ``timestamp_delay`` leaves out rows newer than the delay,
  so a transaction shorter than the delay is not missed, and every change waits that long.
- **Updates collapse**: a poll publishes each selected row's current version, keyed by primary
  key, so the versions committed between two polls that read a row are never published.
- **Cost on the database**: the result set is read through a cursor with a fetch size of
  ``batch_max_rows`` (the dialect sets the statement's fetch size to it; no ``LIMIT`` is added):
  the first fetch costs one draw of the database's read time (planning, index descent) plus
  ``row_time`` per row, each further fetch ``row_time`` per row; each fetch holds one of the
  database's connections (:meth:`Database.scan`, tagged ``connector``), so polls compete
  with requests and count in the connector's share of the database's capacity. ``bulk`` reads
  the whole table every time. Each fetch's rows are handed to the producer as soon as they
  arrive; the next fetch follows at once (``JdbcSourceTask.poll`` returns at most
  ``batch_max_rows`` records per call and keeps the result set open); once the result set is
  drained the task waits ``poll_interval`` before the next query (the next query is due at
  the end of the last one plus the interval).
- **Offsets** as in any Connect source task [K-CONNECT]: a record's position can be committed
  once it and every record before it are acknowledged by the broker; the committable position
  is flushed every ``offset_flush_interval``. :meth:`crash` drops the task (its query, its
  unflushed position); :meth:`restart` starts a fresh task from the last flushed position, so
  the rows read since are read and published again (redelivery). :meth:`stall` stops the task
  between two steps (no new query, no hand-over) until :meth:`resume`; offsets keep flushing.
- A failed fetch (database down, pool wait timed out, injected error) ends the query; the rows
  already handed over stay handed over and the next query starts ``poll_interval`` later. A
  ``partition`` between the connector and the database holds the fetch until it heals (TCP;
  the JDBC socket timeout is 0, none).

Recorded: counters on the object (``polls``, ``rows_read``, ``records``, ``failed_fetches``,
``flushes``), the database time in ``database.busy_by_tag["connector"]``, and each query's
snapshot and position and each commit's stamp (the ``poll_positions`` and ``row_stamps`` tables
of :mod:`sim.connectors.positions`, which a key's timeline shows).

Left out: the connector's own database connection (here each fetch takes one from the pool,
which stands for the database's capacity, and a connection is not held between two fetches);
the snapshot is taken when the query is issued, not when it gets its connection; timestamp
granularity and time zones, custom queries, several tables or tasks. The id column comes from a sequence taken when the
insert begins, so ``incrementing`` mode misses an insert that commits after a higher id was
read, as ``timestamp`` mode does.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right, insort
from collections import deque
from collections.abc import Generator
from typing import Any, Literal, NamedTuple

import simpy

from sim.connectors.positions import PollTrace, Snapshot
from sim.connectors.task import TAG, PollLog, Publish, StallGate
from sim.infra.database import Database
from sim.infra.network import Network
from sim.infra.rows import Commit
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = ["START", "JdbcSourcePoller", "Mode", "Position"]

Mode = Literal["bulk", "incrementing", "timestamp", "timestamp+incrementing"]


class Position(NamedTuple):
    """A source offset: the timestamp and id columns of the last row handed over."""

    ts: float
    row_id: int


START = Position(float("-inf"), 0)
"""No stored offset: every row of the table is after it."""


class _Row(NamedTuple):
    position: Position
    key: int
    version: int


class JdbcSourcePoller(StallGate):
    """A JDBC source task polling one table and publishing its changed rows."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        *,
        mode: Mode = "timestamp",
        poll_interval: float = 5.0,
        batch_max_rows: int = 1000,
        timestamp_delay: float = 0.0,
        row_time: float = 0.00001,
        offset_flush_interval: float = 60.0,
        retry_backoff: float = 1.0,
        network: Network | None = None,
        capture: tuple[int, int] | None = None,
    ) -> None:
        if batch_max_rows < 1:
            raise ValueError(f"batch_max_rows must be at least 1 (got {batch_max_rows})")
        self.ctx = ctx
        self.name = name
        self.database = database
        self.publish = publish
        self.mode = mode
        self.poll_interval = poll_interval  # poll.interval.ms=5000 [JDBC-CFG]
        self.batch_max_rows = batch_max_rows  # batch.max.rows=1000 [JDBC-CFG]
        self.timestamp_delay = timestamp_delay  # timestamp.delay.interval.ms=0 [JDBC-CFG]
        self.row_time = row_time
        self.offset_flush_interval = offset_flush_interval  # offset.flush.interval.ms [K-CONNECT]
        self.retry_backoff = retry_backoff  # the producer's retry.backoff.max [K-PROD]
        self.network = network
        self.capture = capture
        """The polled table's keys ``[first, end)`` when the database holds other tables too
        (one entity of several); None: every row of the database."""
        self.node = f"connector:{name}"
        self._poll_log = PollLog(ctx, name)
        self._trace = PollTrace(ctx, name, database)
        self.tag = TAG
        self._read_time = database.profile.read_time.sampler(ctx.stream(f"connector:{name}"))
        database.keep_log = True
        self.position = START
        """Where the next query starts (the last row handed over)."""
        self.committable = START
        """The last position whose record and every record before it the broker has."""
        self.flushed = START
        """The last position flushed to the offset store: where a restart resumes."""
        self._unacked: deque[list[Any]] = deque()
        self._published: dict[int, int] = {}
        """The version of each row last handed to the producer."""
        self.env = ctx.env
        self.up = True
        self.stalled = False
        self._epoch = 0
        self._resumed: simpy.Event | None = None
        self._ids: list[int] = []
        self._id_keys: dict[int, int] = {}
        if mode == "incrementing":
            database.commit_listeners.append(self._index_id)
        self.polls = 0
        self.rows_read = 0
        self.records = 0
        self.failed_fetches = 0
        self.flushes = 0

    # -- life --------------------------------------------------------------------------------
    def start(self) -> None:
        """Start the task (its first query runs at once: no stored offset, no last update)."""
        env = self.ctx.env
        env.process(self._poll_loop(self._epoch))
        env.process(self._flush_loop(self._epoch))

    def crash(self) -> None:
        """The task dies: its query and unflushed position are lost."""
        if not self.up:
            return
        self.up = False
        self._epoch += 1
        self.position = self.committable = self.flushed
        self._unacked.clear()

    def restart(self) -> None:
        """A fresh task resumes from the last flushed position."""
        if self.up:
            return
        self.up = True
        self.start()

    def pending_changes(self) -> list[tuple[int, int]]:
        """The row versions a later poll will still publish: rows after the position whose
        current version was not handed over yet (an overwritten version is not among them:
        a poll only ever sees the current one)."""
        published = self._published
        return [
            (row.key, row.version)
            for row in self._select(math.inf)
            if published.get(row.key) != row.version
        ]

    @property
    def idle(self) -> bool:
        """Up, every record acknowledged, and no row visible now that was not published."""
        if not self.up or self._unacked:
            return False
        published = self._published
        return all(published.get(r.key) == r.version for r in self._select(self.database.clock()))

    @property
    def busy_time(self) -> float:
        """Connection-seconds the database spent on this task's queries."""
        return self.database.busy_by_tag.get(self.tag, 0.0)

    # -- processes ---------------------------------------------------------------------------
    def _poll_loop(self, epoch: int) -> Generator[simpy.Event, Any, None]:
        env = self.ctx.env
        while epoch == self._epoch:
            started = env.now
            done = yield from self._query(epoch)
            if epoch != self._epoch:
                return
            if done is not None:
                self._poll_log.record(started, *done)
            yield env.timeout(self.poll_interval)

    def _flush_loop(self, epoch: int) -> Generator[simpy.Event, Any, None]:
        env = self.ctx.env
        while True:
            yield env.timeout(self.offset_flush_interval)
            if epoch != self._epoch:
                return
            self.flushed = self.committable
            self.flushes += 1

    def _query(self, epoch: int) -> Generator[simpy.Event, Any, tuple[int, bool] | None]:
        """One query: select at the snapshot, fetch the result set batch by batch, hand over;
        returns (rows fetched, whether the query ended well), None when the task died."""
        yield from self._running()
        if epoch != self._epoch:
            return None
        self.polls += 1
        fetched = 0
        if self.mode.startswith("timestamp"):
            # the upper bound is the database's clock: one more statement before the query
            outcome = yield self._fetch(self._read_time())
            if epoch != self._epoch:
                return None
            if outcome != OK:
                self.failed_fetches += 1
                return 0, False
        now = self.database.clock()
        rows = self._select(now)
        bound = now - self.timestamp_delay if self.mode.startswith("timestamp") else math.inf
        snapshot = Snapshot(self.env.now, bound, *self.position)
        size = self.batch_max_rows
        for start in range(0, max(len(rows), 1), size):
            batch = rows[start : start + size]
            duration = self.row_time * len(batch)
            if start == 0:
                duration += self._read_time()
            outcome = yield self._fetch(duration)
            if epoch != self._epoch:
                return None
            if outcome != OK:
                self.failed_fetches += 1
                self._trace.query(snapshot, *self.position, fetched)
                return fetched, False
            self.rows_read += len(batch)
            fetched += len(batch)
            yield from self._running()
            if epoch != self._epoch:
                return None
            self._hand_over(batch, epoch)
        self._trace.query(snapshot, *self.position, fetched)
        return fetched, True

    def _fetch(self, duration: float) -> simpy.Event:
        """One round trip to the database holding a connection for ``duration``; the event's
        value is the outcome. Across a ``partition`` the hop waits for the link to heal, as
        TCP does (the JDBC socket timeout is 0: none)."""
        env = self.ctx.env
        answer = env.event()
        database = self.database
        network = self.network
        node, db_node, tag = self.node, f"db:{database.name}", self.tag

        def ended(outcome: int, _value: Any) -> None:
            if network is None:
                answer.succeed(outcome)
            else:
                network.send(db_node, node, lambda: answer.succeed(outcome))

        if network is None:
            database.scan(duration, ended, tag)
        else:
            network.send(node, db_node, lambda: database.scan(duration, ended, tag))
        return answer

    # -- selection ---------------------------------------------------------------------------
    def _select(self, now: float) -> list[_Row]:
        """The rows the query returns, in its order, from the rows committed by ``now``
        (only the polled table's, with ``capture``)."""
        rows = self._select_rows(now)
        capture = self.capture
        if capture is None:
            return rows
        return [row for row in rows if capture[0] <= row.key < capture[1]]

    def _select_rows(self, now: float) -> list[_Row]:
        meta = self.database.meta
        if self.mode == "bulk":
            rows = [
                _Row(Position(m.updated_at, m.row_id), key, m.version)
                for key, m in meta.items()
                if not m.deleted
            ]
            rows.sort(key=lambda row: row.position.row_id)
            return rows
        if self.mode == "incrementing":
            last_id = self.position.row_id
            rows = []
            for row_id in self._ids[bisect_right(self._ids, last_id) :]:
                key = self._id_keys[row_id]
                m = meta[key]
                if m.row_id == row_id and not m.deleted:
                    rows.append(_Row(Position(m.updated_at, row_id), key, m.version))
            return rows
        # A row stamped after last_ts committed after last_ts (a transaction commits after it
        # begins), so only the commits since last_ts can hold a row the query returns; a clock
        # skewed forward stamps rows ahead of their commit by up to stamp_lead.
        last = self.position
        log = self.database.commit_log
        first = bisect_left(log.times, last.ts - self.database.stamp_lead)
        bound = now - self.timestamp_delay
        with_id = self.mode == "timestamp+incrementing"
        rows = []
        for key in dict.fromkeys(log.keys_from(first)):
            m = meta[key]
            if m.deleted or m.updated_at >= bound:
                continue
            position = Position(m.updated_at, m.row_id)
            if position.ts > last.ts or (with_id and position > last):
                rows.append(_Row(position, key, m.version))
        rows.sort(key=lambda row: row.position)
        return rows

    def _index_id(self, entry: Commit) -> None:
        """Keep the id column's index (rows by incrementing id) as rows are inserted."""
        row_id = self.database.meta[entry.key].row_id
        if row_id not in self._id_keys:
            self._id_keys[row_id] = entry.key
            insort(self._ids, row_id)

    # -- hand-over and offsets ---------------------------------------------------------------
    def _hand_over(self, batch: list[_Row], epoch: int) -> None:
        incremental = self.mode != "bulk"
        for row in batch:
            self._published[row.key] = row.version
            if incremental:
                self.position = row.position
            entry = [self.position, False]
            self._unacked.append(entry)
            self.records += 1
            self._send(row.key, row.version, entry, epoch)

    def _send(self, key: int, version: int, entry: list[Any], epoch: int) -> None:
        def acked(ok: bool) -> None:
            if epoch != self._epoch:
                return
            if not ok:  # sent again, as the Connect worker retries a failed send [K-CONNECT]
                later(
                    self.ctx.env, self.retry_backoff, lambda: self._send(key, version, entry, epoch)
                )
                return
            entry[1] = True
            unacked = self._unacked
            while unacked and unacked[0][1]:
                self.committable = unacked.popleft()[0]

        self.publish(key, version, acked)
