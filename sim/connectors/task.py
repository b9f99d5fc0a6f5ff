"""What every Kafka Connect source task here shares: its life (start, crash, restart), its
stall and resume, its scans of the database and its sends with retries.

A task's incarnations are epochs: a crash bumps the epoch, and every process and callback of
an older epoch stops at its next step. ``publish(key, version, acked)`` hands one change to
the task's producer; a send that fails is sent again after ``retry_backoff`` until the broker
has it, as a source task's producer does with Connect's forced settings [K-CONNECT].
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.infra.database import Database
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

__all__ = ["TAG", "PollLog", "Process", "Publish", "SourceTask", "StallGate"]

Publish = Callable[[int, int, Callable[[bool], None]], None]
"""``publish(key, version, acked)``: send one change; ``acked(True)`` once the broker has it,
``acked(False)`` when the send failed."""

TAG = "connector"
"""Tag of the connectors' queries in :attr:`Database.busy_by_tag`."""

Process = Generator[simpy.Event, Any, Any]


class PollLog:
    """Records each poll of a connector — a JDBC query, an outbox relay's select, a CDC batch
    read from the replication slot and decoded on the database — in the run's
    ``connector_polls`` table:
    ``time`` (the query started), ``connector``, ``rows`` (returned), ``duration`` (until
    the query's rows were fetched, or it failed) and ``ok`` (1, or 0 for a failed query).
    What the report draws as the connector's batches and the time it holds the database."""

    def __init__(self, ctx: SimContext, connector: str) -> None:
        self.env = ctx.env
        self.connector = connector
        table = ctx.recorder.table(
            "connector_polls",
            {"time": "d", "connector": "s", "rows": "q", "duration": "d", "ok": "q"},
        )
        self._append = [table.columns[c].append for c in table.codes]

    def record(self, started: float, rows: int, ok: bool) -> None:
        add_time, add_connector, add_rows, add_duration, add_ok = self._append
        add_time(started)
        add_connector(self.connector)
        add_rows(rows)
        add_duration(self.env.now - started)
        add_ok(1 if ok else 0)


class StallGate:
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


class SourceTask(StallGate):
    """Crash, restart, stall and resume of a connector task (its incarnations are epochs)."""

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        database: Database,
        publish: Publish,
        retry_backoff: float,
    ) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.name = name
        self.database = database
        database.keep_log = True
        self._publish = publish
        self.retry_backoff = retry_backoff
        """Wait before a failed send is tried again (the producer's retry.backoff.max [K-PROD])."""
        self.up = False
        self.stalled = False
        self._epoch = 0
        self._resumed: simpy.Event | None = None
        self.sent = 0
        """Records handed to ``publish`` (resends after a failure not counted)."""

    def start(self) -> None:
        """Start the task (when the pattern starts its components)."""
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
        send = _Send(self, epoch, key, version, acked)
        self._publish(key, version, send.answered)


class _Send:
    """One change on its way to the broker, sent again after each failure (an object, not a
    closure that names itself, so it is freed once the broker has the change)."""

    __slots__ = ("acked", "epoch", "key", "task", "version")

    def __init__(
        self, task: SourceTask, epoch: int, key: int, version: int, acked: Callable[[], None]
    ) -> None:
        self.task = task
        self.epoch = epoch
        self.key = key
        self.version = version
        self.acked = acked

    def answered(self, ok: bool) -> None:
        task = self.task
        if self.epoch != task._epoch:
            return  # an answer to an incarnation that crashed
        if ok:
            self.acked()
        else:
            later(task.env, task.retry_backoff, self.resend)

    def resend(self) -> None:
        task = self.task
        if self.epoch == task._epoch:
            task._publish(self.key, self.version, self.answered)
