"""A service: instances behind a load balancer, each with concurrency slots and a FIFO queue.

A request picks an instance (round robin, random or least outstanding), waits in that
instance's queue for a free slot, spends its service time (CPU work, drawn when the request
arrives so that every pattern gives the same request the same work), and then runs the
caller's ``work(job)``: database calls, calls to other services. The slot stays held until the
work ends with :meth:`Job.finish`, as in a thread-per-request server, so a slow dependency ties
up the caller's slots and queues build upstream. Each instance integrates its busy slots and
waiting requests over time (:mod:`sim.infra.occupancy`); each job knows its queue wait.

**A slot cannot leak.** Work continues only through the job: :meth:`Job.read_row`,
:meth:`Job.write_row`, :meth:`Job.after` and :meth:`Job.track` (for any other continuation,
such as an HTTP call's answer) count the continuations still pending. When ``work`` or one of
its continuations returns with nothing pending and without :meth:`Job.finish`, nothing can
ever finish the job: the slot is released, the caller gets an error, and the leak is recorded
in :attr:`Service.leaks` (the run reports it at its end). A continuation of a job that has
already finished (answered, or failed by a crash) does not run.

Faults act on instances (:mod:`sim.faults`): ``crash`` (down; queued and running requests fail
at once; arrivals are refused until restart), ``latency`` (extra time added to each request's
service time), ``error`` (an arriving request fails fast with a probability), ``slowdown``
(the drawn service time × a factor), ``hang`` (requests take slots and are never answered
until it ends; then they fail with ``reset``) and ``unavailable`` (arrivals refused, queued
and running work goes on); see :mod:`sim.infra.injected`. A service-wide fault acts on every
instance.

Resilience, each off unless the service's settings name it (:mod:`sim.config.resilience`):

- a **bounded queue** (``queue: {limit, order, overflow}``): past ``limit`` waiting requests an
  arrival is shed, answered at once with a 503 (``overflow: reject``), or the oldest waiting
  request is shed to make room (``drop_oldest``); ``order: lifo`` serves the newest waiting
  request first. Shed requests are counted (:attr:`Service.shed`);
- **deadlines**: a request may carry the time its caller gives up (:mod:`sim.infra.job`); an
  instance that reaches it after that time, when a slot takes it or when its CPU work ends,
  drops it without doing the rest (counted in :attr:`Service.dropped`), as a gRPC server
  checks its context before working on a cancelled call;
- **health-checked load balancing** (:mod:`sim.infra.balancer`);
- **capacity**, a rate limiter in front of the service (a token bucket of requests,
  :class:`~sim.infra.throttle.TokenBucket`): a request that finds it empty is refused at once
  with a 429, before any instance sees it (:attr:`Service.throttled`).

Left out: autoscaling, CPU contention between slots (each slot is an independent server),
CoDel-style queue-time limits.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from sim.config.sections import ServiceConfig
from sim.infra.always import CheckedJob, check_instance
from sim.infra.balancer import Balancer
from sim.infra.injected import Injectable, Injected
from sim.infra.job import NO_DEADLINE, Job, Leak, Work
from sim.infra.network import Network
from sim.infra.occupancy import Occupied
from sim.infra.queries import Queries
from sim.infra.throttle import TokenBucket
from sim.kernel.codes import ERROR, TIMEOUT, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import NORMAL, Trampoline

__all__ = ["Instance", "Job", "Leak", "Service"]


class Instance(Injectable, Occupied):
    """One instance: ``concurrency`` slots sharing a FIFO queue (its occupancy integrated,
    :mod:`sim.infra.occupancy`)."""

    def __init__(self, service: Service, index: int, concurrency: int) -> None:
        self.service = service
        self.index = index
        self.concurrency = concurrency
        self.free = concurrency
        self.queue: deque[Job] = deque()
        self.running: dict[Job, None] = {}
        """The jobs holding a slot, in the order they took it (a crash fails them in that
        order: a set would order them by address, which differs from process to process)."""
        self.up = True
        self.epoch = 0
        self.injected = Injected()
        self._env = service.ctx.env
        self._init_occupancy(concurrency)
        self._serve = (self._served,)
        """The callbacks of a job's service timer: the job is scheduled as its own event."""
        if service.ctx.always.on:
            check_instance(self)

    @property
    def idle(self) -> bool:
        """No request queued or in service."""
        return not self.queue and not self.running

    @property
    def outstanding(self) -> int:
        """Requests queued or in service."""
        return len(self.queue) + len(self.running)

    @property
    def answers_probes(self) -> bool:
        """Whether a health-check probe gets an answer: not while the instance hangs or
        refuses connections."""
        injected = self.injected
        return not (injected.hung or injected.refusing)

    def accept(self, job: Job) -> None:
        service = self.service
        if not self.up or self.injected.refusing:
            job.finished = True
            job.done(ERROR, "refused")
            return
        injected = self.injected
        if injected.errors:
            draws = job.draws
            coin = service.error_draw() if draws is None else draws.coin()
            if coin < injected.error_probability:
                job.finished = True
                job.done(ERROR, "injected")
                return
        job.instance = self
        job.epoch = self.epoch
        now = self._env.now
        free = self.free
        queue = self.queue
        span = now - self._last  # the occupancy tally (Occupied._tally), inlined: it is hot
        if span > 0.0:
            self.busy_area += (self.concurrency - free) * span
            self.waiting_area += len(queue) * span
            self._last = now
        if free > 0:
            self.free = free - 1
            job.wait = 0.0
            self._start(job)
            return
        job.queued_at = now
        limit = service.queue_limit
        if limit is not None and len(queue) >= limit:
            if service.drop_oldest and queue:
                self._shed(queue.popleft())
            else:
                self._shed(job)
                return
        queue.append(job)

    def _shed(self, job: Job) -> None:
        """Refuse a request the full queue has no room for (503, at once)."""
        self.service.shed += 1
        job.finished = True
        job.done(ERROR, "shed")

    def _start(self, job: Job) -> None:
        deadline = job.deadline  # no clock to read without one (the common case)
        if deadline != NO_DEADLINE and deadline <= self._env.now:
            self._expired(job)
            return
        self.running[job] = None
        injected = self.injected
        delay = job.service_time
        if injected.delays or injected.factors or injected.hung:  # latency, slowdown, hang
            if injected.holds(job):
                return
            delay = injected.scaled(delay)
        if delay <= 0.0:
            self._work(job)
        else:  # the job is its own timer (sim.kernel.schedule.Timer): no Timeout, no closure
            job.callbacks = self._serve
            self._env.schedule(job, NORMAL, delay)  # type: ignore[arg-type]

    def _expired(self, job: Job) -> None:
        """The caller of ``job`` has given up (its propagated deadline passed): drop the work."""
        self.service.dropped += 1
        self.running[job] = None
        job.finish(TIMEOUT, "deadline")

    def _served(self, job: Job) -> None:
        if job.finished or job.epoch != self.epoch:
            return
        injected = self.injected
        if not (injected.hung and injected.holds(job)):
            deadline = job.deadline
            if deadline != NO_DEADLINE and deadline <= self._env.now:
                self._expired(job)
            else:
                job.work(job)
                if not job.finished and job.pending == 0:
                    self.service.leaked(job)

    def _work(self, job: Job) -> None:
        job.work(job)
        if not job.finished and job.pending == 0:
            self.service.leaked(job)

    def release(self, job: Job) -> None:
        self.running.pop(job, None)
        now = self._env.now
        queue = self.queue
        span = now - self._last  # the occupancy tally, inlined (as in accept)
        if span > 0.0:
            self.busy_area += (self.concurrency - self.free) * span
            self.waiting_area += len(queue) * span
            self._last = now
        if queue:
            following = queue.pop() if self.service.lifo else queue.popleft()
            following.wait = now - following.queued_at
            self.service.soon.call(self._start, following)
        else:
            self.free += 1

    # -- faults ------------------------------------------------------------------------------
    def crash(self) -> None:
        """Go down: every queued and running request fails now."""
        self._tally(self._env.now, self.concurrency - self.free, len(self.queue))
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

    def occupancy(self) -> tuple[int, int]:
        return self.concurrency - self.free, len(self.queue)

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
        self._job = CheckedJob if ctx.always.on else Job
        self.instances = [Instance(self, i, config.concurrency) for i in range(config.instances)]
        self._service_time = config.service_time.sampler(ctx.stream(f"service:{name}"))
        self._service_quantile = config.service_time.quantile()
        self.balancer: Balancer[Instance] = Balancer(ctx, name, config)
        self.balancer.attach(self.instances)
        self._pick = self.balancer.pick
        self._only = self.instances[0] if len(self.instances) == 1 else None
        """The instance every request goes to when there is one (no balancing to do)."""
        self.error_draw = ctx.stream(f"fault:service:{name}").uniform
        self.node = name if node is None else node
        self.queries = Queries(network, self.node)
        queue = config.queue
        self.queue_limit = None if queue is None else queue.limit
        """Requests that may wait per instance (None: unbounded)."""
        self.lifo = queue is not None and queue.order == "lifo"
        self.drop_oldest = queue is not None and queue.overflow == "drop_oldest"
        self.soon = Trampoline()
        self.restart_listeners: list[Callable[[Instance], None]] = []
        """Called with an instance when it restarts (recovery of in-doubt work)."""
        self.leaks: list[Leak] = []
        """Jobs whose work ended without finishing them (a model error, reported by the run)."""
        self.shed = 0
        """Requests refused or dropped by a full queue."""
        self.dropped = 0
        """Requests whose work was skipped because their propagated deadline had passed."""
        limit = config.capacity
        self.limiter = (
            TokenBucket(limit.requests, limit.burst, least=1.0) if limit is not None else None
        )
        self.throttled = 0
        """Requests the service's rate limiter refused (429)."""

    def call(
        self,
        work: Work,
        done: Done,
        draws: WorkDraws | None = None,
        deadline: float = NO_DEADLINE,
    ) -> Job:
        """Handle one request: queue, serve, run ``work(job)``; the work ends with
        :meth:`Job.finish`. ``draws`` names the unit of work (:mod:`sim.kernel.draws`): its
        service time and error coin come from it (without it, from the service's streams).
        A ``deadline`` (the time the caller gives up) lets the instance skip work no one waits
        for any more."""
        if draws is None:
            job = self._job(self, work, done, self._service_time(), deadline=deadline)
        else:
            job = self._job(
                self, work, done, self._service_quantile(draws.handle()), draws, deadline
            )
        limiter = self.limiter
        if limiter is not None and not limiter.take(1.0, self.ctx.env.now):
            self.throttled += 1
            job.finished = True
            done(ERROR, "throttled")
            return job
        only = self._only
        (self._pick() if only is None else only).accept(job)
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
