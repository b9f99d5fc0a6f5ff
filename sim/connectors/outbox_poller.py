"""The polling relay of a transactional outbox (:class:`OutboxPoller`): every
``poll_interval`` it selects the unsent outbox rows in id order (``LIMIT batch_max_rows``), publishes them,
waits for the broker's acknowledgements and marks them sent. Both queries hold a database
connection (a point-query draw plus ``rows / scan_rate``; tagged ``connector``). A crash
between the publish and the mark re-publishes the rows at the next poll: at least once.
The outbox table is the database's commit log (every committed write of the owner wrote one
outbox row in the same transaction), and the rows marked sent are always a prefix of it.

Left out: several relay instances (it is one job), the time the offset store takes.
"""

from __future__ import annotations

from collections.abc import Callable

import simpy

from sim.connectors.task import TAG, PollLog, Process, Publish, SourceTask
from sim.infra.database import Database
from sim.infra.rows import Commit
from sim.kernel.codes import OK
from sim.kernel.context import SimContext

__all__ = ["OutboxCleaner", "OutboxPoller"]


class OutboxPoller(SourceTask):
    """The polling relay of a transactional outbox."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        *,
        poll_interval: float,
        batch_max_rows: int,
        scan_rate: float,
        retry_backoff: float,
    ) -> None:
        super().__init__(ctx, name, database, publish, retry_backoff)
        self.poll_interval = poll_interval
        self.batch_max_rows = batch_max_rows
        self.scan_rate = scan_rate
        profile = database.profile
        self._select_time = profile.read_time.sampler(ctx.stream(f"connector:{name}:select"))
        self._update_time = profile.write_time.sampler(ctx.stream(f"connector:{name}:update"))
        self.marked = 0
        """Outbox rows marked sent (a prefix of the outbox in id order)."""
        self.polls = 0
        self._poll_log = PollLog(ctx, name)

    def pending_changes(self) -> list[tuple[int, int]]:
        """The outbox rows not marked sent (those published but not marked are sent again)."""
        return [(entry.key, entry.version) for entry in self.database.commit_log[self.marked :]]

    @property
    def idle(self) -> bool:
        """Up, and every outbox row marked sent."""
        return self.up and self.marked >= len(self.database.commit_log)

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
            self._poll_log.record(started, len(rows) if selected else 0, bool(selected))
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


class OutboxCleaner:
    """The outbox table's size, and the periodic job that deletes the rows the relay has
    published (the outbox table is insert-only for the router [DBZ-OUTBOX]): every
    ``interval`` one ``DELETE`` of ``rows × row_time`` holding a connection of the owner's
    database (tagged ``connector``). With ``relay_deletes`` the relay deletes what it published
    itself (the polling relay's delete), and the job is not started."""

    def __init__(
        self,
        ctx: SimContext,
        database: Database,
        published: Callable[[], int],
        *,
        interval: float,
        row_time: float,
        relay_deletes: bool = False,
    ) -> None:
        self.ctx = ctx
        self.database = database
        self.published = published
        """How many outbox rows, in commit order, the relay has published for good."""
        self.interval = interval
        self.row_time = row_time
        self.relay_deletes = relay_deletes
        self.deleted = 0
        self.rows_max = 0

    @property
    def rows(self) -> int:
        """Rows in the outbox table now."""
        deleted = self.published() if self.relay_deletes else self.deleted
        return len(self.database.commit_log) - deleted

    def inserted(self) -> None:
        """An owner's transaction inserted a row."""
        self.rows_max = max(self.rows_max, self.rows)

    def start(self) -> None:
        self.ctx.env.process(self._run())

    def _run(self) -> Process:
        env = self.ctx.env
        while True:
            yield env.timeout(self.interval)
            upto = self.published()
            rows = upto - self.deleted
            if rows <= 0:
                continue
            done = env.event()
            self.database.scan(rows * self.row_time, _succeed(done), TAG)
            outcome = yield done
            if outcome == OK:
                self.deleted = max(self.deleted, upto)


def _succeed(event: simpy.Event) -> Callable[[int, object], None]:
    def done(outcome: int, _value: object) -> None:
        event.succeed(outcome)

    return done
