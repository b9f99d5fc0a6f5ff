"""A database: a connection pool with a wait timeout, query times, row locks and the rows.

A query first waits for a connection (FIFO; a waiter gives up after ``connection_timeout``, as
HikariCP's ``connectionTimeout`` does [HIKARI]), then a write waits for the row lock of its key
(PostgreSQL's default ``lock_timeout=0``: no limit [PG-CFG]) while holding its connection, then
holds both for one draw of ``write_time`` (``read_time`` for a read). At the end of a write
the new version of the row commits; reads return the version committed when they finish
(MVCC: readers take no locks and never wait for writers). With ``capacity`` a request first
passes the provisioned throughput (:mod:`sim.infra.throttle`). Rows are key -> version. A write either assigns the next version of the key (the owner's
commit), stores a version it was given (a copy applying a change it received), or stores what
a function of the row's version decides at the commit instant (a conditional write). Every write
that commits calls its continuation at the commit instant, so callers record commit times
exactly.

For two-phase commit a write can be *prepared*: it does its work under the row lock and keeps
the lock, across crashes, until it is committed or rolled back (PostgreSQL's prepared
transactions keep their locks as if live [PG-2PC]).

With ``keep_log`` set, every commit is appended to a commit log with a log sequence number (what
logical decoding reads, in commit order; stored column by column, :class:`CommitLog`) and
tells the ``commit_listeners``, and each row keeps the metadata a query-based poller selects
on: the time its last writing transaction *began* (a ``now()`` timestamp column, so a long
transaction commits a row stamped earlier than rows committed before it), an incrementing id
assigned at insert, and whether it was deleted.
:meth:`Database.scan` is a query that holds a connection for a given time (a poll, a snapshot
scan), accounted separately. The pool's busy connections and waiting queries are integrated
over time at every change (:mod:`sim.infra.occupancy`).

Faults: ``crash`` (down; queries in flight and waiters fail; the rows survive, as on disk),
``latency`` (added to every query's time), ``error`` (a query fails fast with a probability),
``throttle`` (with ``capacity``, :mod:`sim.infra.throttle`: the provisioned rates scaled),
``slowdown`` (each query's drawn time × a factor), ``hang`` (queries take connections and
locks and never finish until it ends; then they fail with ``reset`` and free them),
``unavailable`` (new queries refused; those under way go on) and ``clock-skew`` (its
``now()`` is off: the timestamps of the rows it writes and :meth:`Database.clock`, which a
poller's ``CURRENT_TIMESTAMP`` reads; a writing service's skew shifts the stamps of its
rows too, as an application that sets ``updated_at`` itself does).

Left out: the query planner and caches, disk, deadlocks (each transaction locks one key), the
server's ``max_connections`` when several pools share a database (here the pool is the
database's capacity), isolation anomalies other than reading the last committed version.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sim.config.distributions import Sampler, is_zero
from sim.config.sections import DatabaseProfile
from sim.infra.always import check_database
from sim.infra.injected import Injectable, Injected
from sim.infra.occupancy import Occupied
from sim.infra.rows import Commit, CommitLog, RowMeta, VersionAt
from sim.infra.statement import Statement
from sim.infra.throttle import Throttle
from sim.kernel.codes import ERROR, OK, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import Trampoline, call_later

__all__ = ["Commit", "Database", "RowMeta", "VersionAt"]


class Database(Injectable, Occupied):
    """One database with its pool, locks and rows (the pool's occupancy integrated,
    :mod:`sim.infra.occupancy`)."""

    def __init__(self, ctx: SimContext, name: str, profile: DatabaseProfile) -> None:
        self.ctx = ctx
        self.name = name
        self.profile = profile
        self.rows: dict[int, int] = {}
        self.free = profile.pool
        self._waiting: deque[Statement] = deque()
        self._init_occupancy(profile.pool)
        self._locks: dict[int, deque[Statement]] = {}
        self._active: dict[Statement, None] = {}  # in the order they began (not by address)
        self._read_time: Sampler = profile.read_time.sampler(ctx.stream(f"db:{name}:read"))
        self._write_time: Sampler = profile.write_time.sampler(ctx.stream(f"db:{name}:write"))
        self._read_quantile = profile.read_time.quantile()
        self._write_quantile = profile.write_time.quantile()
        self._reads_free = is_zero(profile.read_time) and profile.capacity is None
        self._fault_draw = ctx.stream(f"fault:db:{name}").uniform
        self.up = True
        self.epoch = 0
        self.injected = Injected()
        self._soon = Trampoline()
        self.keep_log = False
        """Set by patterns that read the commit log (CDC) or the rows' metadata (polling)."""
        self.commit_log = CommitLog()
        self.commit_listeners: list[Callable[[Commit], None]] = []
        self.meta: dict[int, RowMeta] = {}
        self._row_ids = 0
        self.busy_by_tag: dict[str, float] = {}
        """Connection-seconds of :meth:`scan` queries, by tag."""
        self.stamp_lead = 0.0
        """How far ahead of the true time a row was ever stamped (a clock skewed forward)."""
        self.prepared: dict[int, object] = {}
        """Keys whose write is prepared (two-phase commit) and still holds its row lock."""
        limits = profile.capacity
        self.throttle = Throttle(ctx, name, limits) if limits is not None else None
        if ctx.always.on:
            check_database(self)

    # -- public calls ------------------------------------------------------------------------
    def answers_now(self) -> bool:
        """Whether a read is answered at once (no read time, throughput limit or fault)."""
        return self._reads_free and self.up and self.free > 0 and not self.injected

    def read(self, key: int, done: Done, draws: WorkDraws | None = None, n: int = 0) -> None:
        """Read a row; ``done(OK, version)`` with 0 for a row never written.

        ``draws`` and ``n`` name the query as the n-th of a unit of work (its time and its
        error-fault coin come from them, :mod:`sim.kernel.draws`); without them the
        database's own streams are used."""
        if self.answers_now():  # a zero-time query holds its connection for no time at all
            done(OK, self.rows.get(key, 0))
            return
        self._submit(Statement(key, False, None, done, draws=draws, n=n))

    def write(
        self,
        key: int,
        done: Done,
        version: int | VersionAt | None = None,
        delete: bool = False,
        draws: WorkDraws | None = None,
        n: int = 0,
        extra: float = 0.0,
        skew: float = 0.0,
    ) -> None:
        """Write a row; ``done(OK, version)`` at the commit instant.

        Without ``version`` the next version of the key is assigned at commit (an owner's
        write); with it, that version is stored (a copy applying a received change); a function
        ``version(current)`` of the row's version decides it at the commit (conditional). A
        ``delete`` removes the row: its version still advances (a tombstone), but the row is
        gone from the table (a query of the table no longer finds it). ``extra`` is more work
        in the same transaction (another statement), holding the lock and the connection.
        ``skew``: how far the writer's clock is off (it shifts the row's timestamp).
        """
        query = Statement(key, True, version, done, draws=draws, n=n)
        query.delete = delete
        query.extra = extra
        query.skew = skew
        self._submit(query)

    def scan(self, duration: float, done: Done, tag: str = "scan") -> None:
        """A query that holds a connection for ``duration`` (a table scan, a poll);
        ``done(OK, None)`` when it ends. Its time is added to ``busy_by_tag[tag]``."""
        query = Statement(-1, False, None, done)
        query.scan = duration
        query.tag = tag
        self._submit(query)

    def prepare(
        self, key: int, token: object, done: Done, draws: WorkDraws | None = None, n: int = 0
    ) -> None:
        """Phase one of two-phase commit (``PREPARE TRANSACTION``): do the write's work under
        the row lock, then keep the lock after the connection is returned; ``done(OK, None)``.

        The lock is held, across crashes of the database, until :meth:`commit_prepared` or
        :meth:`rollback_prepared`; other writes of the key wait behind it."""
        self._submit(Statement(key, True, None, done, prepare=token, draws=draws, n=n))

    def commit_prepared(
        self,
        key: int,
        token: object,
        done: Done,
        version: int | None = None,
        draws: WorkDraws | None = None,
        n: int = 0,
    ) -> None:
        """Phase two (``COMMIT PREPARED``): a durable write like any commit, so it takes a
        connection and one draw of ``write_time``; then the write of ``key`` prepared under
        ``token`` commits (next version, or ``version``) and its lock is released.
        ``done(ERROR, "not prepared")`` when that transaction is not prepared."""
        self._submit(Statement(key, True, version, done, commit=token, draws=draws, n=n))

    def rollback_prepared(self, key: int, token: object) -> bool:
        """Abort the write of ``key`` prepared under ``token`` and release its lock."""
        if self.prepared.get(key) != token:
            return False
        del self.prepared[key]
        self._unlock(key)
        return True

    def version(self, key: int) -> int:
        """The committed version of a row (0 if never written)."""
        return self.rows.get(key, 0)

    # -- pool --------------------------------------------------------------------------------
    def _submit(self, query: Statement) -> None:
        if not self.up or self.injected.refusing:
            self._fail(query, "refused")
            return
        if self.throttle is not None and self.throttle.holds(query, self._submit, self._fail):
            return
        injected = self.injected
        if injected.errors:
            draws = query.draws
            coin = self._fault_draw() if draws is None else draws.query_coin(query.n)
            if coin < injected.error_probability:
                self._fail(query, "injected")
                return
        query.epoch = self.epoch
        self._tally(self.ctx.env.now, self.slots - self.free, len(self._waiting))
        if self.free > 0:
            self.free -= 1
            self._connected(query)
            return
        self._waiting.append(query)
        timer = self.ctx.env.timeout(self.profile.connection_timeout)
        timer.callbacks.append(lambda _e: self._wait_expired(query))

    def _wait_expired(self, query: Statement) -> None:
        if query.settled or query.epoch != self.epoch:
            return
        self._tally(self.ctx.env.now, self.slots - self.free, len(self._waiting))
        try:
            self._waiting.remove(query)
        except ValueError:
            return  # already holds a connection
        self._fail(query, "pool timeout")

    def _release_connection(self) -> None:
        self._tally(self.ctx.env.now, self.slots - self.free, len(self._waiting))
        while self._waiting:
            query = self._waiting.popleft()
            if not query.settled:
                self._soon.call(self._connected, query)
                return
        self.free += 1

    # -- locks and execution -----------------------------------------------------------------
    def _connected(self, query: Statement) -> None:
        self._active[query] = None
        if query.scan >= 0.0:
            self.busy_by_tag[query.tag] = self.busy_by_tag.get(query.tag, 0.0) + query.scan
            self._execute(query, query.scan)
            return
        if query.commit is not None:  # the prepared transaction already holds the lock
            self._execute(query, self._write_duration(query))
            return
        if not query.write:
            if self._reads_free:
                self._execute(query, 0.0)
            elif query.draws is None:
                self._execute(query, self._read_time())
            else:
                self._execute(query, self._read_quantile(query.draws.query(query.n)))
            return
        holders = self._locks.get(query.key)
        if holders is None:
            self._locks[query.key] = deque()
            self._execute(query, self._write_duration(query))
        else:
            holders.append(query)

    def _write_duration(self, query: Statement) -> float:
        draws = query.draws
        own = self._write_time() if draws is None else self._write_quantile(draws.query(query.n))
        return own + query.extra

    def _execute(self, query: Statement, duration: float) -> None:
        injected = self.injected
        now = query.begun = self.ctx.env.now
        if self.keep_log and query.write and query.scan < 0.0:
            old = self.meta.get(query.key)
            if old is None or old.deleted:  # an insert takes its id from the sequence now
                self._row_ids += 1
                query.row_id = self._row_ids
            if query.skew or injected.clock:  # a skewed clock stamps the row
                query.begun = now + injected.clock + query.skew
                self.stamp_lead = max(self.stamp_lead, query.begun - now)
        if injected:  # slowdown, latency, hang (sim.infra.injected)
            if injected.holds(query):
                return
            duration = injected.scaled(duration)
        if duration <= 0.0:
            self._complete(query)
        else:
            call_later(self.ctx.env, duration, self._complete, query)  # no Timeout, no closure

    def _complete(self, query: Statement) -> None:
        """A query ends: commit or read, answer the caller, then free the lock and connection.

        The caller hears first, so that when freeing them lets a zero-time waiter finish at the
        same instant, answers still come in commit order.
        """
        if query.settled or query.epoch != self.epoch or self.injected.holds(query):
            return
        query.settled = True
        self._active.pop(query, None)
        key = query.key
        if query.scan >= 0.0:
            query.done(OK, None)
        elif query.prepare is not None:
            self.prepared[key] = query.prepare  # keeps the row lock
            query.done(OK, None)
        elif query.commit is not None:
            if self.prepared.get(key) != query.commit:
                query.done(ERROR, "not prepared")
            else:
                del self.prepared[key]
                query.done(OK, self._commit_row(query))
                self._unlock(key)
        elif query.write:
            query.done(OK, self._commit_row(query))
            self._unlock(key)
        else:
            query.done(OK, self.rows.get(key, 0))
        self._release_connection()

    def _commit_row(self, query: Statement) -> int:
        key = query.key
        given, current = query.version, self.rows.get(key, 0)
        version = current + 1 if given is None else given(current) if callable(given) else given
        self.rows[key] = version
        if self.keep_log:
            now = self.ctx.env.now
            old = self.meta.get(key)
            row_id = query.row_id or (old.row_id if old is not None else 0)
            self.meta[key] = RowMeta(query.begun, row_id, query.delete, now, version)
            entry = self.commit_log.append(key, version, now, query.delete)
            for listener in self.commit_listeners:
                listener(entry)
        return version

    def _unlock(self, key: int) -> None:
        waiters = self._locks.get(key)
        if waiters is None:
            return
        while waiters:
            query = waiters.popleft()
            if not query.settled:
                self._soon.call(self._start_locked, query)
                return
        del self._locks[key]

    def _start_locked(self, query: Statement) -> None:
        self._execute(query, self._write_duration(query))

    def _fail(self, query: Statement, reason: str) -> None:
        query.settled = True
        query.done(ERROR, reason)

    # -- faults ------------------------------------------------------------------------------
    def crash(self) -> None:
        """Go down: queries in flight and waiting fail now; committed rows survive."""
        self._tally(self.ctx.env.now, self.slots - self.free, len(self._waiting))
        self.up = False
        self.epoch += 1
        victims = [*self._active, *self._waiting]
        self._active.clear()
        self._waiting.clear()
        self._locks = {key: deque() for key in self.prepared}  # prepared locks survive
        self.free = self.profile.pool
        for query in victims:
            if not query.settled:
                self._fail(query, "crashed")

    def restart(self) -> None:
        """Come back up, empty pool queues, rows as committed."""
        self.up = True

    def reset(self, work: object) -> None:
        """A query a ``hang`` held fails with ``reset`` (its connection is killed): its row
        lock (a prepared transaction's excepted) and its connection are freed."""
        query = work
        assert isinstance(query, Statement)
        if query.settled or query.epoch != self.epoch:
            return
        query.settled = True
        self._active.pop(query, None)
        query.done(ERROR, "reset")
        if query.write and query.scan < 0.0 and query.commit is None:
            self._unlock(query.key)
        self._release_connection()

    def clock(self) -> float:
        """The database's own time (``now()``, ``CURRENT_TIMESTAMP``): off under a
        ``clock-skew``."""
        return self.ctx.env.now + self.injected.clock

    def scale_capacity(self, factor: float) -> Callable[[], None]:
        """Scale the provisioned rates (a ``throttle`` fault); returns the undo."""
        return self.throttle.scale(factor) if self.throttle is not None else lambda: None

    def occupancy(self) -> tuple[int, int]:
        return self.slots - self.free, len(self._waiting)

    @property
    def in_use(self) -> int:
        """Connections in use (a probe)."""
        return self.profile.pool - self.free
