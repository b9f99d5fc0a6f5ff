"""Synchronous HTTP calls: the owner commits, then calls each replica service.

A write arrives at the owner, which commits to its own database and then calls every replica
service over HTTP, one after another (``sequential``: the first call that still fails after
its retries ends the request, so later replicas are not called) or all at once
(``parallel``). Each call has Envoy's route timeout (the whole call, retries included) and
an optional per-try timeout, and a failed attempt is retried as Istio's default policy says
(connect failures and 503s, not resets or timeouts) with exponential backoff and full jitter
(see :mod:`sim.infra.http`). A replica applies the version it receives to its own database. The client's request succeeds
only when every call succeeds; the owner's slot is held throughout, so latency adds along the
chain and a slow replica ties up the owner.

What goes wrong, as in production: a call that fails after its retries leaves the owner
committed and that copy stale (no compensation); an attempt that timed out may still be
applied later by the replica; retries add load to a struggling replica; a late attempt can
overwrite a newer version with an older one (copies store what they receive). Reads at a
replica are answered from its own copy, so they can be stale.

Measured: ``attempts_per_call`` (attempts per call to a copy, retries included: the retry
amplification, (1 − p^(r+1)) / (1 − p) for independent failures of probability p and r
retries) and ``retries_denied`` (by the optional ``retry_budget``, which caps the
amplification at 1 + budget).

Each call edge (the owner's calls to one replica) may have a retry budget, a circuit breaker
and a bulkhead, and deadlines may be propagated (:mod:`sim.config.calls`,
:mod:`sim.infra.guards`); all off by default. Measured with them: ``breaker_open_time``,
``calls_not_permitted``, ``bulkhead_rejected`` and ``deadline_dropped``.

With several entities (:mod:`sim.patterns.entities`) each owner has one HTTP client and one
call edge to each replica, with one set of guards per owner instance, whatever entities it
calls that replica for.

Left out: idempotency keys, hedged requests, fallbacks (a refused call is an error).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal

from pydantic import Field

from sim.config.calls import ISTIO_RETRY_ON, CallingPattern, CallPolicy, RetryOn
from sim.config.model import Scenario
from sim.infra.http import Guards, HttpClient, RetryPolicy
from sim.infra.job import NO_DEADLINE
from sim.infra.service import Job
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext
from sim.metrics.catalog import Metric
from sim.metrics.requests import RequestLog
from sim.patterns.model import PatternModel, register_pattern

__all__ = [
    "ATTEMPTS_PER_CALL",
    "ISTIO_RETRY_ON",
    "RETRIES_DENIED",
    "RetryOn",
    "SyncHttpModel",
    "SyncHttpSettings",
]

ATTEMPTS_PER_CALL = Metric(
    "attempts_per_call",
    "count",
    "attempts per call from the owner to a copy, retries included (1 without retries)",
    "cost",
)
RETRIES_DENIED = Metric(
    "retries_denied",
    "count",
    "retries the retry budget refused (0 without a budget)",
    "availability",
)

BREAKER_OPEN_TIME = Metric(
    "breaker_open_time",
    "s",
    "seconds an owner instance's circuit breakers spent open, summed over its call edges, "
    "averaged over the instances (0 without breakers)",
    "availability",
)
CALLS_NOT_PERMITTED = Metric(
    "calls_not_permitted",
    "count",
    "attempts an open (or half-open) circuit breaker refused at once",
    "availability",
)
BULKHEAD_REJECTED = Metric(
    "bulkhead_rejected",
    "count",
    "attempts refused because the edge's bulkhead had no free permit in time",
    "availability",
)
DEADLINE_DROPPED = Metric(
    "deadline_dropped",
    "count",
    "requests a service dropped because their caller had given up (propagated deadline)",
    "cost",
)

Outcome = Callable[[int], None]


class SyncHttpSettings(CallingPattern):
    """The owner commits, then calls each replica service over HTTP."""

    kind: Literal["sync_http"]
    entities: ClassVar[bool] = True
    fanout: Literal["sequential", "parallel"] = Field(
        "sequential", description="sequential stops at the first call that fails"
    )


class _Edge:
    """The policy of the owner's calls to one replica, and the guards of each owner instance:
    a breaker, a bulkhead and a budget live in the calling process (resilience4j in the
    application, Envoy in its sidecar), so each instance has its own."""

    __slots__ = ("ctx", "guards", "policy", "retry")

    def __init__(self, ctx: SimContext, policy: CallPolicy) -> None:
        self.ctx = ctx
        self.policy = policy
        self.retry = RetryPolicy(policy.retries, policy.retry_on)
        self.guards: dict[int, Guards] = {}

    def guards_of(self, instance: int) -> Guards:
        found = self.guards.get(instance)
        if found is None:
            found = self.guards[instance] = Guards.of(self.ctx.env, self.policy)
        return found


def _open_time(edges: dict[tuple[str, str], _Edge]) -> float:
    """Seconds a breaker was open, summed over an owner instance's edges, averaged over the
    owner instances."""
    per_instance: dict[tuple[str, int], float] = {}
    for (owner, _replica), edge in edges.items():
        for instance, guards in edge.guards.items():
            if guards.breaker is not None:
                seconds = guards.breaker.open_seconds()
                at = (owner, instance)
                per_instance[at] = per_instance.get(at, 0.0) + seconds
    return sum(per_instance.values()) / len(per_instance) if per_instance else 0.0


class _FanOut:
    """A parallel fan-out: the calls still out, and the first failure among them."""

    __slots__ = ("done", "outcome", "waiting")

    def __init__(self, calls: int, done: Outcome) -> None:
        self.waiting = calls
        self.outcome = OK
        self.done = done

    def one_done(self, outcome: int) -> None:
        self.waiting -= 1
        if outcome != OK and self.outcome == OK:
            self.outcome = outcome
        if self.waiting == 0:
            self.done(self.outcome)


class _InTurn:
    """A sequential fan-out: the copies called one after another, each once the previous one
    answered (an object, not a closure that calls itself, so it is freed as soon as it ends)."""

    __slots__ = ("done", "job", "key", "model", "position", "version")

    def __init__(self, model: SyncHttpModel, job: Job, key: int, version: int, done: Outcome):
        self.model, self.job, self.key, self.version, self.done = model, job, key, version, done
        self.position = 0

    def step(self, position: int) -> None:
        replicas = self.model.replicas
        if position == len(replicas):
            self.done(OK)
            return
        self.position = position
        model, job = self.model, self.job
        model._call(job, replicas[position], self.key, self.version, job.track(self.after))

    def after(self, outcome: int) -> None:
        if outcome != OK:
            self.done(outcome)
        else:
            self.step(self.position + 1)


@register_pattern
class SyncHttpModel(PatternModel):
    """One database per service, copies updated by synchronous calls."""

    settings = SyncHttpSettings
    spec: SyncHttpSettings
    metrics = (
        ATTEMPTS_PER_CALL,
        RETRIES_DENIED,
        BREAKER_OPEN_TIME,
        CALLS_NOT_PERMITTED,
        BULKHEAD_REJECTED,
        DEADLINE_DROPPED,
    )

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        owner = self.owner
        self.http = ctx.once(
            f"http:{owner}", lambda: HttpClient(ctx, self.network, owner, self.services)
        )
        """The owner's HTTP client (one per owner, whatever entities it calls for)."""
        self.edges = {replica: self._edge(replica) for replica in self.replicas}
        """The owner's call edge to each replica (its guards live in the owner's instances,
        shared by every entity the owner calls that replica for)."""
        self.propagates_deadline = spec.deadline

    def _edge(self, replica: str) -> _Edge:
        ctx = self.ctx
        return ctx.once(
            f"edge:{self.owner}->{replica}", lambda: _Edge(ctx, self.spec.policy_for(replica))
        )

    def gauges(self) -> dict[str, float]:
        return self.merged_gauges([self])

    @classmethod
    def merged_gauges(cls, models: Sequence[PatternModel]) -> dict[str, float]:
        """Measured over the run's clients and call edges, each once (entities with the
        same owner share them)."""
        mine = [model for model in models if isinstance(model, SyncHttpModel)]
        https = list({id(m.http): m.http for m in mine}.values())
        edges = {(m.owner, r): edge for m in mine for r, edge in m.edges.items()}
        guards = [g for edge in edges.values() for g in edge.guards.values()]
        breakers = [g.breaker for g in guards if g.breaker is not None]
        calls = sum(http.calls for http in https)
        services = {id(s): s for m in mine for s in m.all_services()}.values()
        return {
            "attempts_per_call": sum(h.attempts for h in https) / calls if calls else 1.0,
            "retries_denied": float(sum(g.budget.denied for g in guards if g.budget is not None)),
            "breaker_open_time": _open_time(edges),
            "calls_not_permitted": float(sum(b.not_permitted for b in breakers)),
            "bulkhead_rejected": float(
                sum(g.bulkhead.rejected for g in guards if g.bulkhead is not None)
            ),
            "deadline_dropped": float(sum(s.dropped for s in services)),
        }

    def write(self, index: int, key: int) -> None:
        consistency = self.consistency
        env = self.ctx.env
        database = self.databases[self.owner]
        delete = self.is_delete(index)

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                consistency.commit(key, version, env.now)

        def work(job: Job) -> None:
            def back(outcome: int, version: Any) -> None:
                if outcome != OK:
                    job.finish(outcome)
                    return
                self._fan_out(job, key, version, lambda result: job.finish(result, version))

            job.write_row(database, key, delete=delete, on_commit=committed, then=back)

        self.request(index, self.owner, work)

    # -- fan-out -----------------------------------------------------------------------------
    def _fan_out(self, job: Job, key: int, version: int, done: Outcome) -> None:
        replicas = self.replicas
        if not replicas:
            done(OK)
            return
        if self.spec.fanout == "parallel":
            fan_out = _FanOut(len(replicas), done)
            # every answer is awaited before the first call goes out: a call answered at once
            # (zero-time hops) must not leave the job with nothing pending while others remain
            answers = [job.track(fan_out.one_done) for _ in replicas]
            for replica, answer in zip(replicas, answers, strict=True):
                self._call(job, replica, key, version, answer)
            return

        _InTurn(self, job, key, version, done).step(0)

    def _call(self, job: Job, replica: str, key: int, version: int, done: Outcome) -> None:
        """One HTTP call with timeout and retries; ``done(outcome)`` (a continuation the job
        tracks) once, unless the caller died."""
        edge = self.edges[replica]
        policy = edge.policy
        copy = self.replicas.index(replica)
        self.http.call(
            replica,
            lambda rjob: self._apply(rjob, copy, key, version),
            done,
            timeout=policy.timeout,
            per_try_timeout=policy.per_try_timeout,
            policy=edge.retry,
            backoff=policy.backoff,
            alive=lambda: job.alive,
            draws=lambda attempt: self.keyed("call", copy, key, version, attempt),
            guards=edge.guards_of(job.instance.index if job.instance is not None else 0),
            deadline=job.deadline if policy.deadline else NO_DEADLINE,
            propagate=policy.deadline,
        )

    def _apply(self, job: Job, copy: int, key: int, version: int) -> None:
        consistency = self.consistency
        env = self.ctx.env

        def applied(outcome: int, _value: Any) -> None:
            if outcome == OK:
                consistency.apply(copy, key, version, env.now)

        job.write_row(
            self.databases[self.replicas[copy]],
            key,
            version=version,
            on_commit=applied,
            then=lambda outcome, _v: job.finish(outcome if outcome == OK else ERROR),
        )
