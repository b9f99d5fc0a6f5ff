"""Synchronous HTTP calls: the owner commits, then calls each replica service.

A write arrives at the owner, which commits to its own database and then calls every replica
service over HTTP, one after another (``sequential``: the first call that still fails after
its retries ends the request, so later replicas are not called) or all at once
(``parallel``). Each call has a per-attempt timeout and is retried with exponential backoff
and full jitter (attempt n+1 waits U[0, min(cap, (2^n - 1) * base)), as Envoy does [ENVOY]).
A replica applies the version it receives to its own database. The client's request succeeds
only when every call succeeds; the owner's slot is held throughout, so latency adds along the
chain and a slow replica ties up the owner.

What goes wrong, as in production: a call that fails after its retries leaves the owner
committed and that copy stale (no compensation); an attempt that timed out may still be
applied later by the replica; retries add load to a struggling replica; a late attempt can
overwrite a newer version with an older one (copies store what they receive). Reads at a
replica are answered from its own copy, so they can be stale.

Left out: circuit breakers, bulkheads, retry budgets, deadline propagation, idempotency keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.config.model import Scenario, SyncHttpPattern
from sim.context import SimContext
from sim.infra.common import ERROR, OK
from sim.infra.http import HttpClient
from sim.infra.service import Job
from sim.metrics.requests import RequestLog
from sim.patterns.base import PatternModel

__all__ = ["SyncHttpModel"]

Outcome = Callable[[int], None]


class SyncHttpModel(PatternModel):
    """One database per service, copies updated by synchronous calls."""

    kind = "sync_http"
    spec: SyncHttpPattern

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.http = HttpClient(ctx, self.network, self.owner, self.services)

    def write(self, index: int, key: int) -> None:
        owner = self.services[self.owner]
        consistency = self.consistency
        env = self.ctx.env

        delete = self.is_delete(index)

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                consistency.commit(key, version, env.now)

        def work(job: Job) -> None:
            def back(outcome: int, version: Any) -> None:
                if not job.alive:
                    return
                if outcome != OK:
                    owner.finish(job, outcome)
                    return
                self._fan_out(job, key, version, lambda result: owner.finish(job, result, version))

            self.db_call(
                self.owner, self.databases[self.owner], key, True, committed, back, delete=delete
            )

        self.request(index, self.owner, work)

    def read(self, index: int, key: int, service: str) -> None:
        handler = self.services[service]

        def work(job: Job) -> None:
            self.db_call(
                service,
                self.databases[service],
                key,
                False,
                None,
                lambda outcome, value: handler.finish(job, outcome, value),
            )

        self.request(index, service, work)

    # -- fan-out -----------------------------------------------------------------------------
    def _fan_out(self, job: Job, key: int, version: int, done: Outcome) -> None:
        replicas = self.replicas
        if not replicas:
            done(OK)
            return
        if self.spec.fanout == "parallel":
            pending = [len(replicas), OK]

            def one_done(outcome: int) -> None:
                pending[0] -= 1
                if outcome != OK and pending[1] == OK:
                    pending[1] = outcome
                if pending[0] == 0:
                    done(pending[1])

            for replica in replicas:
                self._call(job, replica, key, version, one_done)
            return

        def step(position: int) -> None:
            if position == len(replicas):
                done(OK)
                return

            def after(outcome: int) -> None:
                if outcome != OK:
                    done(outcome)
                else:
                    step(position + 1)

            self._call(job, replicas[position], key, version, after)

        step(0)

    def _call(self, job: Job, replica: str, key: int, version: int, done: Outcome) -> None:
        """One HTTP call with timeout and retries; ``done(outcome)`` once, unless the caller died."""
        spec = self.spec
        copy = self.replicas.index(replica)
        self.http.call(
            replica,
            lambda rjob: self._apply(rjob, replica, copy, key, version),
            done,
            timeout=spec.timeout,
            backoff=spec.backoff,
            retries=spec.retries,
            alive=lambda: job.alive,
        )

    def _apply(self, job: Job, replica: str, copy: int, key: int, version: int) -> None:
        service = self.services[replica]
        consistency = self.consistency
        env = self.ctx.env

        def applied(outcome: int, _value: Any) -> None:
            if outcome == OK:
                consistency.apply(copy, key, version, env.now)

        self.db_call(
            replica,
            self.databases[replica],
            key,
            True,
            applied,
            lambda outcome, _v: service.finish(job, outcome if outcome == OK else ERROR),
            version=version,
        )
