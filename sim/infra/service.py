"""A service: instances behind a load balancer, each with concurrency slots and a FIFO queue.

A request picks an instance (round robin, random or least outstanding), waits in that
instance's queue for a free slot, spends its service time (CPU work, drawn when the request
arrives so that every pattern gives the same request the same work), and then runs the
caller's ``work``: database calls, calls to other services. The slot stays held until ``work``
ends with :meth:`Service.finish`, as in a thread-per-request server, so a slow dependency ties
up the caller's slots and queues build upstream.

Faults act on instances: ``crash`` (down; queued and running requests fail at once; arrivals
are refused until restart), ``latency`` (extra time added to each request's service time) and
``error`` (an arriving request fails fast with a probability). A service-wide fault acts on
every instance.

Left out: health checks (the balancer keeps sending to a crashed instance, whose refusals
fail fast), autoscaling, CPU contention between slots (each slot is an independent server),
queue limits and load shedding.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

from sim.config.model import ServiceConfig
from sim.context import SimContext
from sim.distributions import Sampler
from sim.infra.common import ERROR, Done, Trampoline, combined

__all__ = ["Instance", "Job", "Service"]

Work = Callable[["Job"], None]


class Job:
    """One request being handled by an instance."""

    __slots__ = ("done", "epoch", "finished", "instance", "service_time", "work")

    def __init__(self, work: Work, done: Done, service_time: float) -> None:
        self.work = work
        self.done = done
        self.service_time = service_time
        self.instance: Instance | None = None
        self.epoch = 0
        self.finished = False

    @property
    def alive(self) -> bool:
        """False once the job has finished or its instance crashed under it."""
        return not self.finished


class Instance:
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
        self.extra_delays: list[Sampler] = []
        self.error_probabilities: list[float] = []
        self._timeout = service.ctx.env.timeout

    @property
    def outstanding(self) -> int:
        """Requests queued or in service."""
        return len(self.queue) + len(self.running)

    def accept(self, job: Job) -> None:
        if not self.up:
            job.finished = True
            job.done(ERROR, "refused")
            return
        if self.error_probabilities and self.service.error_draw() < combined(
            self.error_probabilities
        ):
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
        for extra in self.extra_delays:
            delay += extra()
        if delay <= 0.0:
            job.work(job)
        else:
            self._timeout(delay).callbacks.append(lambda _e: self._served(job))

    def _served(self, job: Job) -> None:
        if not job.finished and job.epoch == self.epoch:
            job.work(job)

    def release(self, job: Job) -> None:
        self.running.discard(job)
        if self.queue:
            following = self.queue.popleft()
            self.service.soon(lambda: self._start(following))
        else:
            self.free += 1

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
        for listener in list(self.service.crash_listeners):
            listener(self)

    def restart(self) -> None:
        """Come back up with empty queues; tell the service's restart listeners."""
        self.up = True
        for listener in list(self.service.restart_listeners):
            listener(self)


class Service:
    """A named service of ``instances`` identical instances."""

    def __init__(self, ctx: SimContext, name: str, config: ServiceConfig) -> None:
        self.ctx = ctx
        self.name = name
        self.config = config
        self.instances = [Instance(self, i, config.concurrency) for i in range(config.instances)]
        self._service_time = config.service_time.sampler(ctx.stream(f"service:{name}"))
        self._fault_stream = ctx.stream(f"fault:service:{name}")
        self._balancer_stream = ctx.stream(f"balancer:{name}")
        self._next = 0
        self.soon = Trampoline()
        self.crash_listeners: list[Callable[[Instance], None]] = []
        """Called with an instance when it crashes (what ran inside it dies too)."""
        self.restart_listeners: list[Callable[[Instance], None]] = []
        """Called with an instance when it restarts (recovery of in-doubt work)."""
        self.error_draw = self._fault_stream.uniform

    def call(self, work: Work, done: Done) -> Job:
        """Handle one request: queue, serve, run ``work(job)``; ``work`` ends with :meth:`finish`."""
        job = Job(work, done, self._service_time())
        self._pick().accept(job)
        return job

    def finish(self, job: Job, outcome: int, value: Any = None) -> None:
        """End a request's handling: free its slot and answer the caller (once)."""
        if job.finished:
            return
        job.finished = True
        instance = job.instance
        if instance is not None and instance.epoch == job.epoch:
            instance.release(job)
        job.done(outcome, value)

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

    def busy_slots(self) -> int:
        """Slots in use over all instances (a probe)."""
        return sum(len(instance.running) for instance in self.instances)
