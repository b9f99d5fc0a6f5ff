"""A service's call graph at run time: the downstream calls each request makes.

A request handled at a service whose settings list ``calls`` (:mod:`sim.config.graph`) first
does its work there as any request does (its queue, its slot, its service time, and whatever
the pattern's work is: database reads and writes, a pattern's own calls), then, once that work
has ended with success and freed its slot, makes its calls, stage by stage: a ``sequential``
call alone, consecutive ``parallel`` calls together, each stage awaited before the next. Each
edge is taken with its probability, a coin per visit from the ``route`` stream keyed by the
visit (:class:`~sim.kernel.draws.Keyed`: the same request makes the same calls in every
pattern). The service answers its caller when the calls are back: OK if all succeeded,
otherwise the first failure (a later sequential call is then not made). A call goes through
the HTTP client (:mod:`sim.infra.http`) with its edge's route and per-try timeouts, retries,
backoff and guards (a breaker, bulkhead and budget per calling instance).

At the callee, a call is one visit: its queue, a slot for its service time (drawn from the
``visit`` stream keyed by the visit and attempt), then its own calls, recursively, so a service
may call itself again (Jackson feedback). A retried attempt is a new visit and makes its calls
again. The caller holds no slot while its calls are out (as an asynchronous server, whose
threads are not tied up by outstanding calls), so per visit a service is the queue of its own
work: with exponential service times and Poisson arrivals, a Jackson network. A caller whose
instance crashed while its calls were out answers with a reset when they are back.

Left out: work at a callee other than its service time and slots (no database work unless the
pattern does it for that request), slot-holding (thread-per-request) waiting for calls, and
fallbacks (a failed call fails the request).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sim.config.graph import Call
from sim.config.sections import ServiceConfig
from sim.infra.http import Guards, HttpClient, RetryPolicy
from sim.infra.job import NO_DEADLINE, Job, Work
from sim.infra.network import Network
from sim.infra.service import Service
from sim.kernel.codes import ERROR, OK, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import Keyed, KeyedWork, WorkDraws

__all__ = ["CallGraph"]

Outcome = Callable[[int], None]


class _Edge:
    """One edge of a service's graph: its policy, its coin's index, the guards per instance."""

    __slots__ = ("call", "ctx", "guards", "index", "retry")

    def __init__(self, ctx: SimContext, call: Call, index: int) -> None:
        self.ctx = ctx
        self.call = call
        self.index = index
        self.retry = RetryPolicy(call.retries, call.retry_on)
        self.guards: dict[int, Guards] = {}

    def guards_of(self, instance: int) -> Guards:
        found = self.guards.get(instance)
        if found is None:
            found = self.guards[instance] = Guards.of(self.ctx.env, self.call)
        return found


def _stages(ctx: SimContext, calls: list[Call]) -> list[list[_Edge]]:
    stages: list[list[_Edge]] = []
    for index, call in enumerate(calls):
        edge = _Edge(ctx, call, index)
        if call.mode == "parallel" and stages and stages[-1][0].call.mode == "parallel":
            stages[-1].append(edge)
        else:
            stages.append([edge])
    return stages


class _Callee:
    """What a graph call reaches: the service, whose visit then makes its own calls."""

    __slots__ = ("graph", "name", "service")

    def __init__(self, graph: CallGraph, name: str, service: Service) -> None:
        self.graph = graph
        self.name = name
        self.service = service

    def call(self, work: Work, done: Done, draws: WorkDraws | None, deadline: float) -> Job:
        graph = self.graph
        graph.visits += 1
        if self.name in graph.stages and isinstance(draws, KeyedWork):
            work, done = graph.around(self.name, graph.child(*draws.ids), work, done, deadline)
        return self.service.call(work, done, draws, deadline)


def _finish(job: Job) -> None:
    job.finish(OK)


class CallGraph:
    """The calls of every service's requests, for one run of a pattern."""

    def __init__(
        self,
        ctx: SimContext,
        network: Network,
        services: Mapping[str, Service],
        configs: Mapping[str, ServiceConfig],
    ) -> None:
        self.ctx = ctx
        self.stages = {
            name: _stages(ctx, config.calls) for name, config in configs.items() if config.calls
        }
        """Per calling service, its calls in stages (one sequential call, or parallel ones)."""
        callees = {name: _Callee(self, name, service) for name, service in services.items()}
        self.clients = {
            name: HttpClient(ctx, network, name, cast(dict[str, Service], callees))
            for name in self.stages
        }
        self._route = Keyed(ctx.streams, "route")
        self._visit = Keyed(ctx.streams, "visit")
        self.waiting = 0
        """Visits whose calls are still out."""
        self.visits = 0
        """Visits that calls made (attempts that reached a callee; a request's first visit is
        not one)."""

    def root(self, ids: tuple[int, ...]) -> int:
        """The visit of a request at the service it is addressed to, named by the request."""
        return self._route.ident(0, *ids)

    def child(self, visit: int, edge: int, attempt: int) -> int:
        """The visit an attempt of call ``edge`` of ``visit`` makes."""
        return self._route.ident(1, visit, edge, attempt)

    def around(
        self, name: str, visit: int, work: Work, done: Done, deadline: float
    ) -> tuple[Work, Done]:
        """``work`` and ``done`` of a request at ``name`` (visit ``visit``) with the calls
        made after the work has ended and before the answer goes back."""
        held: list[Job] = []

        def working(job: Job) -> None:
            held.append(job)
            work(job)

        def finished(outcome: int, value: Any) -> None:
            if outcome != OK or not held:
                done(outcome, value)
                return
            instance = held[0].instance
            epoch = held[0].epoch
            self.waiting += 1

            def back(result: int) -> None:
                self.waiting -= 1
                if instance is not None and instance.epoch != epoch:
                    done(ERROR, "crashed")  # the caller went down: its connection is reset
                else:
                    done(result, value if result == OK else None)

            self._stage(name, visit, 0, 0 if instance is None else instance.index, deadline, back)

        return working, finished

    def _stage(
        self, name: str, visit: int, stage: int, instance: int, deadline: float, done: Outcome
    ) -> None:
        stages = self.stages[name]
        route = self._route
        while stage < len(stages):
            taken = [e for e in stages[stage] if route.uniform(visit, e.index) < e.call.probability]
            if taken:
                break
            stage += 1
        else:
            done(OK)
            return
        following = stage + 1
        state = [len(taken), OK]

        def one(outcome: int) -> None:
            state[0] -= 1
            if outcome != OK and state[1] == OK:
                state[1] = outcome
            if state[0] == 0:
                if state[1] != OK:
                    done(state[1])
                else:
                    self._stage(name, visit, following, instance, deadline, done)

        client = self.clients[name]
        for edge in taken:
            self._call(client, edge, visit, instance, deadline, one)

    def _call(
        self,
        client: HttpClient,
        edge: _Edge,
        visit: int,
        instance: int,
        deadline: float,
        done: Outcome,
    ) -> None:
        call = edge.call
        keyed = self._visit
        client.call(
            call.to,
            _finish,
            done,
            timeout=call.timeout,
            per_try_timeout=call.per_try_timeout,
            policy=edge.retry,
            backoff=call.backoff,
            alive=_always,
            draws=lambda attempt: KeyedWork(keyed, visit, edge.index, attempt),
            guards=edge.guards_of(instance),
            deadline=deadline if call.deadline else NO_DEADLINE,
            propagate=call.deadline,
        )


def _always() -> bool:
    return True
