"""A service: instances behind a load balancer, each with concurrency slots and a FIFO queue.

A request picks an instance (round robin, random or least outstanding), waits in that
instance's queue for a free slot, spends its service time (CPU work, drawn when the request
arrives so that every pattern gives the same request the same work), and then runs the
caller's ``work(job)``: database calls, calls to other services. The slot stays held until the
work ends with :meth:`Job.finish`, as in a thread-per-request server, so a slow dependency ties
up the caller's slots and queues build upstream.

**A slot cannot leak.** Work continues only through the job: :meth:`Job.read_row`,
:meth:`Job.write_row`, :meth:`Job.after` and :meth:`Job.track` (for any other continuation,
such as an HTTP call's answer) count the continuations still pending. When ``work`` or one of
its continuations returns with nothing pending and without :meth:`Job.finish`, nothing can
ever finish the job: the slot is released, the caller gets an error, and the leak is recorded
in :attr:`Service.leaks` (the run reports it at its end). A continuation of a job that has
already finished (answered, or failed by a crash) does not run.

Faults act on instances (:mod:`sim.faults`): ``crash`` (down; queued and running requests fail
at once; arrivals are refused until restart), ``latency`` (extra time added to each request's
service time) and ``error`` (an arriving request fails fast with a probability). A
service-wide fault acts on every instance.

Left out: health checks (the balancer keeps sending to a crashed instance, whose refusals
fail fast), autoscaling, CPU contention between slots (each slot is an independent server),
queue limits and load shedding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from sim.config.sections import ServiceConfig
from sim.infra.injected import Injectable, Injected
from sim.infra.network import Network
from sim.infra.queries import Queries
from sim.infra.rows import VersionAt
from sim.kernel.codes import ERROR, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import Trampoline, later

__all__ = ["Instance", "Job", "Leak", "Service"]

Work = Callable[["Job"], None]


class Job:
    """One request being handled by an instance: the handle of its slot."""

    __slots__ = (
        "done",
        "draws",
        "epoch",
        "finished",
        "instance",
        "pending",
        "queries",
        "service",
        "service_time",
        "work",
    )

    def __init__(
        self,
        service: Service,
        work: Work,
        done: Done,
        service_time: float,
        draws: WorkDraws | None = None,
    ) -> None:
        self.service = service
        self.work = work
        self.done = done
        self.service_time = service_time
        self.draws = draws
        """Where the job's random draws come from (its service time was the first)."""
        self.queries = 0
        """Database queries the job has sent (the next one's draws are ``draws.query(n)``)."""
        self.instance: Instance | None = None
        self.epoch = 0
        self.finished = False
        self.pending = 0
        """Continuations started for this job that have not run yet."""

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


class Instance(Injectable):
    """One instance: ``concurrency`` slots sharing a FIFO queue."""

    def __init__(self, service: Service, index: int, concurrency: int) -> None:
        self.service = service
        self.index = index
        self.concurrency = concurrency
        self.free = concurrency
        self.queue: deque[Job] = deque()
        self.running: set[Job] = set()
        self.up = True
        self.epoch = 0
        self.injected = Injected()
        self._timeout = service.ctx.env.timeout

    @property
    def idle(self) -> bool:
        """No request queued or in service."""
        return not self.queue and not self.running

    @property
    def outstanding(self) -> int:
        """Requests queued or in service."""
        return len(self.queue) + len(self.running)

    def accept(self, job: Job) -> None:
        if not self.up:
            job.finished = True
            job.done(ERROR, "refused")
            return
        injected = self.injected
        if injected.errors:
            draws = job.draws
            coin = self.service.error_draw() if draws is None else draws.coin()
            if coin < injected.error_probability:
                job.finished = True
                job.done(ERROR, "injected")
                return
        job.instance = self
        job.epoch = self.epoch
        if self.free > 0:
            self.free -= 1
            self._start(job)
        else:
            self.queue.append(job)

    def _start(self, job: Job) -> None:
        self.running.add(job)
        delay = job.service_time
        for extra in self.injected.delays:
            delay += extra()
        if delay <= 0.0:
            self._work(job)
        else:
            self._timeout(delay).callbacks.append(lambda _e: self._served(job))

    def _served(self, job: Job) -> None:
        if not job.finished and job.epoch == self.epoch:
            self._work(job)

    def _work(self, job: Job) -> None:
        job.work(job)
        if not job.finished and job.pending == 0:
            self.service.leaked(job)

    def release(self, job: Job) -> None:
        self.running.discard(job)
        if self.queue:
            following = self.queue.popleft()
            self.service.soon(lambda: self._start(following))
        else:
            self.free += 1

    # -- faults ------------------------------------------------------------------------------
    def crash(self) -> None:
        """Go down: every queued and running request fails now."""
        self.up = False
        self.epoch += 1
        victims = [*self.running, *self.queue]
        self.running.clear()
        self.queue.clear()
        self.free = self.concurrency
        for job in victims:
            if not job.finished:
                job.finished = True
                job.done(ERROR, "crashed")

    def restart(self) -> None:
        """Come back up with empty queues; tell the service's restart listeners."""
        self.up = True
        for listener in list(self.service.restart_listeners):
            listener(self)


class Service:
    """A named service of ``instances`` identical instances.

    ``network`` carries its database queries (:attr:`queries`) from its network ``node``
    (by default its name; a role of a service, such as a reader, sits on the service's node);
    without a network they are instant. ``name`` also names its random streams.
    """

    def __init__(
        self,
        ctx: SimContext,
        name: str,
        config: ServiceConfig,
        network: Network | None = None,
        node: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.name = name
        self.config = config
        self.instances = [Instance(self, i, config.concurrency) for i in range(config.instances)]
        self._service_time = config.service_time.sampler(ctx.stream(f"service:{name}"))
        self._service_quantile = config.service_time.quantile()
        self._balancer_stream = ctx.stream(f"balancer:{name}")
        self.error_draw = ctx.stream(f"fault:service:{name}").uniform
        self.node = name if node is None else node
        self.queries = Queries(network, self.node)
        self._next = 0
        self.soon = Trampoline()
        self.restart_listeners: list[Callable[[Instance], None]] = []
        """Called with an instance when it restarts (recovery of in-doubt work)."""
        self.leaks: list[Leak] = []
        """Jobs whose work ended without finishing them (a model error, reported by the run)."""

    def call(self, work: Work, done: Done, draws: WorkDraws | None = None) -> Job:
        """Handle one request: queue, serve, run ``work(job)``; the work ends with
        :meth:`Job.finish`. ``draws`` names the unit of work (:mod:`sim.kernel.draws`): its
        service time and error coin come from it (without it, from the service's streams)."""
        if draws is None:
            job = Job(self, work, done, self._service_time())
        else:
            job = Job(self, work, done, self._service_quantile(draws.handle()), draws)
        self._pick().accept(job)
        return job

    def finish(self, job: Job, outcome: int, value: Any = None) -> None:
        """End a request's handling: free its slot and answer the caller (once)."""
        job.finish(outcome, value)

    def leaked(self, job: Job) -> None:
        """``job``'s work ended without finishing it: record the leak, free the slot."""
        index = job.instance.index if job.instance is not None else -1
        self.leaks.append(Leak(self.name, index, self.ctx.env.now))
        self.finish(job, ERROR, "leaked")

    def held_by_finished(self) -> int:
        """Slots still held by jobs that have finished (always 0 unless a slot leaked)."""
        return sum(1 for i in self.instances for job in i.running if job.finished)

    def _pick(self) -> Instance:
        instances = self.instances
        if len(instances) == 1:
            return instances[0]
        policy = self.config.load_balancer
        if policy == "round_robin":
            chosen = instances[self._next % len(instances)]
            self._next += 1
            return chosen
        if policy == "random":
            return instances[
                min(int(self._balancer_stream.uniform() * len(instances)), len(instances) - 1)
            ]
        return min(instances, key=lambda instance: instance.outstanding)
