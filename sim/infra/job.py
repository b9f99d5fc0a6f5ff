"""The handle of one request at a service instance: its slot, its continuations, its deadline.

A :class:`Job` is created when a request reaches a service (:meth:`Service.call
<sim.infra.service.Service.call>`) and ends with :meth:`Job.finish`, which frees its slot and
answers the caller once. Work continues only through the job (:meth:`Job.read_row`,
:meth:`Job.write_row`, :meth:`Job.query`, :meth:`Job.after`, :meth:`Job.track`), which counts the
continuations still pending, so a slot cannot leak: work that returns with nothing pending and
without finishing is a :class:`Leak`. A job knows its **queue wait**: from its arrival at the
instance to the moment it took a slot. A job may carry the **deadline** of the call it serves
(the time its caller gives up, when the deadline is propagated): an instance skips the work of a
job whose deadline has passed before its turn comes.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, Protocol

from sim.infra.injected import Injected
from sim.infra.queries import Queries
from sim.infra.rows import VersionAt
from sim.kernel.codes import OK, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import later

__all__ = ["NO_DEADLINE", "Job", "Leak", "Work"]


class Instance(Protocol):
    """What a job needs of the instance that runs it (:class:`sim.infra.service.Instance`)."""

    index: int
    epoch: int
    up: bool
    injected: Injected

    def release(self, job: Job) -> None: ...


class Service(Protocol):
    """What a job needs of its service (:class:`sim.infra.service.Service`)."""

    ctx: SimContext
    queries: Queries

    def leaked(self, job: Job) -> None: ...


Work = Callable[["Job"], None]

NO_DEADLINE = float("inf")
"""The deadline of a job whose caller's time is not known to it."""


class Job:
    """One request being handled by an instance: the handle of its slot.

    While its CPU work runs the job is its own timer in SimPy's event queue (``callbacks``
    and ``_ok``, the protocol of :class:`~sim.kernel.schedule.Timer`): its instance schedules
    it, and hears of it, without a ``Timeout`` or a closure."""

    __slots__ = (
        "callbacks",
        "deadline",
        "done",
        "draws",
        "epoch",
        "finished",
        "instance",
        "pending",
        "queries",
        "queued_at",
        "service",
        "service_time",
        "wait",
        "work",
    )

    def __init__(
        self,
        service: Service,
        work: Work,
        done: Done,
        service_time: float,
        draws: WorkDraws | None = None,
        deadline: float = NO_DEADLINE,
    ) -> None:
        self.service = service
        self.work = work
        self.done = done
        self.service_time = service_time
        self.draws = draws
        """Where the job's random draws come from (its service time was the first)."""
        self.deadline = deadline
        """When the caller gives up (propagated deadline), or :data:`NO_DEADLINE`."""
        self.queries = 0
        """Database queries the job has sent (the next one's draws are ``draws.query(n)``)."""
        self.instance: Instance | None = None
        self.epoch = 0
        self.finished = False
        self.pending = 0
        """Continuations started for this job that have not run yet."""
        self.wait = math.nan
        """Its queue wait: from its arrival at the instance to the moment it took a slot (0
        when one was free; NaN until it has one, or if it never gets one)."""
        self.queued_at = 0.0
        """When it joined the instance's queue (when no slot was free)."""
        self.callbacks: tuple[Callable[[Job], None], ...] | None = None
        """What its service timer calls when the CPU work ends (set by the instance)."""

    _ok = True
    """The job as a timer never fails (what ``Environment.step`` checks)."""

    @property
    def alive(self) -> bool:
        """False once the job has finished or its instance crashed under it."""
        return not self.finished

    def finish(self, outcome: int, value: Any = None) -> None:
        """End the job: free its slot and answer the caller (once)."""
        if self.finished:
            return
        self.finished = True
        instance = self.instance
        if instance is not None and instance.epoch == self.epoch:
            instance.release(self)
        self.done(outcome, value)

    def track(self, then: Callable[..., None]) -> Callable[..., None]:
        """Wrap a continuation of this job's work: it runs only while the job is alive, and
        if it returns with nothing else pending and the job unfinished, the slot has leaked."""
        self.pending += 1

        def resumed(*args: Any) -> None:
            self.pending -= 1
            if self.finished:
                return
            then(*args)
            if not self.finished and self.pending == 0:
                self.service.leaked(self)

        return resumed

    def _answer(self, then: Done) -> Done:
        """:meth:`track` for the ``(outcome, value)`` continuations of queries."""
        self.pending += 1

        def answered(outcome: int, value: Any) -> None:
            self.pending -= 1
            if self.finished:
                return
            then(outcome, value)
            if not self.finished and self.pending == 0:
                self.service.leaked(self)

        return answered

    def after(self, delay: float, then: Callable[[], None]) -> None:
        """Continue with ``then()`` after ``delay`` simulated seconds."""
        later(self.service.ctx.env, delay, self.track(then))

    def read_row(self, database: Any, key: int, *, then: Done) -> None:
        """Read a row of ``database`` (a hop there and back); ``then(outcome, version)``."""
        n = self.queries
        self.queries = n + 1
        queries = self.service.queries
        network = queries.network
        if network is None or network.instant:  # no hops: straight to the database
            if database.answers_now():  # the answer comes at once: no continuation to track
                if not self.finished:
                    then(OK, database.rows.get(key, 0))
                    if not self.finished and self.pending == 0:
                        self.service.leaked(self)
                return
            database.read(key, self._answer(then), self.draws, n)
        else:
            queries.read_row(database, key, then=self._answer(then), draws=self.draws, n=n)

    def write_row(
        self,
        database: Any,
        key: int,
        *,
        version: int | VersionAt | None = None,
        delete: bool = False,
        on_commit: Done | None = None,
        then: Done,
        extra: float = 0.0,
    ) -> None:
        """Write a row (see :meth:`sim.infra.queries.Queries.write_row`): ``on_commit`` at the
        commit instant (always), ``then(outcome, version)`` when the answer is back; ``extra``
        is more work in the same transaction."""
        n = self.queries
        self.queries = n + 1
        self.service.queries.write_row(
            database,
            key,
            version=version,
            delete=delete,
            on_commit=on_commit,
            then=self._answer(then),
            draws=self.draws,
            n=n,
            extra=extra,
            skew=0.0 if self.instance is None else self.instance.injected.clock,
        )

    def query(
        self,
        database: Any,
        issue: Callable[[Done, WorkDraws | None, int], None],
        *,
        on_end: Done | None = None,
        then: Done,
    ) -> None:
        """Any other query (see :meth:`sim.infra.queries.Queries.query`): ``issue(done,
        draws, n)`` starts it with the job's draws for its n-th query."""
        n = self.queries
        self.queries = n + 1
        draws = self.draws
        self.service.queries.query(
            database, lambda done: issue(done, draws, n), on_end=on_end, then=self._answer(then)
        )


class Leak:
    """A job that ended its work without finishing: where and when."""

    __slots__ = ("instance", "service", "time")

    def __init__(self, service: str, instance: int, time: float) -> None:
        self.service = service
        self.instance = instance
        self.time = time

    def __repr__(self) -> str:
        return f"{self.service}/{self.instance} at t={self.time:g}s"
