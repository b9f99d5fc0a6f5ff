"""An orchestrated saga: the owner's orchestrator runs each step and, on failure, the
compensations, keeping the saga's state in the owner's database.

A write arrives at the owner, whose orchestrator runs the owner's local transaction (step 0;
it also inserts the saga's record, so a saga exists exactly when its first step committed),
then calls each replica's local transaction in order over HTTP (:mod:`sim.infra.http`)
[SAGA-AZ]. After every step the orchestrator records the saga's state durably: one more
write to the owner's database (a connection and one draw of ``write_time``), retried until
it commits. A compensatable or pivot step's call has ``timeout`` (the whole call) and
``retries`` (Istio's policy); a retriable step's call is tried again on every failure, each
attempt with ``timeout``, until it succeeds (:mod:`sim.patterns.saga_steps`).

The client is answered at the go/no-go point: OK once the pivot has committed (the rest of
the saga will complete), an error or a timeout when a step up to the pivot failed. Then the
orchestrator compensates in reverse order, from the failed step itself down to the owner's
step 0. The failed step is compensated when one of its attempts reached the participant's
database, since its local transaction may have committed after the orchestrator gave up (a
timeout, a reset; where it did not, the compensation only marks the version, so a late
attempt cannot store it); a step whose every attempt was refused or rejected needs none.
Each compensation is a
local transaction at its participant, retried with the backoff until it commits or
``compensation_retries`` is exhausted, and then the saga is *stuck* (left to an operator: the
compensations before it are not run).

The orchestrator runs in the owner instance that took the write. If that instance crashes,
its sagas stop where they were and resume from their recorded state when it restarts
(re-running the step or the compensation under way: both are idempotent); the client's
request died with the crash. Participants hold no locks meanwhile, so writes to the same keys
go on through the other instances — unlike two-phase commit, where prepared participants
block until the coordinator recovers.

Left out: the network hop of the orchestrator's own state writes, a saga log table that
grows, orchestrators taking over another instance's sagas.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sim.config.model import Scenario
from sim.infra.database import Database
from sim.infra.http import ANY_FAILURE, HttpClient, RetryPolicy
from sim.infra.job import Instance, Job
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext
from sim.kernel.draws import Keyed
from sim.kernel.schedule import later
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog
from sim.patterns.saga_steps import SagaBase
from sim.patterns.sync_http import ISTIO_RETRY_ON

__all__ = ["OrchestratedSaga"]


@dataclass(eq=False)
class _Saga:
    """One saga, as the orchestrator's record has it."""

    number: int
    index: int
    key: int
    instance: Instance
    epoch: int
    version: int = 0
    step: int = 1
    """The step under way (forward), or the one being compensated."""
    compensating: bool = False
    touched: bool = False
    """Whether an attempt of the step under way reached its participant's database."""
    records: int = 0
    on_done: Callable[[int], None] | None = None


class OrchestratedSaga(SagaBase):
    """The owner's orchestrator calls each step and the compensations."""

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.http = HttpClient(ctx, self.network, self.owner, self.services)
        self._numbers = 0
        self._active: dict[Instance, list[_Saga]] = {}
        self._bounded = RetryPolicy(spec.retries, ISTIO_RETRY_ON)
        self._forever = RetryPolicy(None, ANY_FAILURE)
        self._compensation = RetryPolicy(spec.compensation_retries, ANY_FAILURE)
        profile = scenario.databases.profile(self.owner)
        self._log_time = profile.write_time.quantile()
        self._log_draws = Keyed(ctx.streams, "saga:record")
        self._jitter = ctx.stream("backoff:saga").uniform
        self.services[self.owner].restart_listeners.append(self._recover)

    # -- step 0 at the owner -----------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        database = self.databases[self.owner]
        env = self.ctx.env

        def work(job: Job) -> None:
            assert job.instance is not None
            if self.rejected(index, 0):
                job.finish(ERROR, "rejected")
                return
            self._numbers += 1
            saga = _Saga(self._numbers, index, key, job.instance, job.epoch)

            def committed(outcome: int, version: Any) -> None:
                if outcome == OK:  # the saga's record commits with step 0
                    saga.version = version
                    self.consistency.commit(key, version, env.now)
                    self._active.setdefault(saga.instance, []).append(saga)

            def after(outcome: int, _value: Any) -> None:
                if outcome != OK:
                    job.finish(outcome)
                elif self.pivot == 0:
                    job.finish(OK, saga.version)
                    self._forward(saga)
                else:
                    saga.on_done = job.track(lambda result: job.finish(result, saga.version))
                    self._forward(saga)

            job.write_row(
                database,
                key,
                version=self.begin(key),
                delete=self.is_delete(index),
                on_commit=committed,
                then=after,
            )

        self.request(index, self.owner, work)

    def _live(self, saga: _Saga) -> Callable[[], bool]:
        """Whether the orchestrator that starts this piece of the saga is still alive: false
        once its instance has crashed, even after the restart (which resumes the saga anew)."""
        instance, epoch = saga.instance, saga.epoch
        return lambda: instance.up and instance.epoch == epoch

    def _answer(self, saga: _Saga, outcome: int) -> None:
        if saga.on_done is not None:
            done, saga.on_done = saga.on_done, None
            done(outcome)

    # -- forward -----------------------------------------------------------------------------
    def _forward(self, saga: _Saga) -> None:
        step = saga.step
        if step == len(self.participants):
            self._end(saga)
            return
        replica = self.participants[step]
        retriable = self.step_class(step) == "retriable"
        alive = self._live(saga)

        def work(job: Job) -> None:
            if self.rejected(saga.index, step):
                job.finish(ERROR, "rejected")
                return
            saga.touched = True
            job.write_row(
                self.databases[replica],
                saga.key,
                version=self.stepped(step, saga.key, saga.version),
                then=lambda outcome, _v: job.finish(outcome if outcome == OK else ERROR),
            )

        def after(outcome: int) -> None:
            if outcome != OK:
                self._answer(saga, outcome)
                saga.compensating = True  # from the failed step (if it may have run) down
                if not saga.touched:
                    saga.step -= 1
                self._record(saga, lambda: self._compensate(saga), alive)
                return
            if step == self.pivot:
                self._answer(saga, OK)
            saga.step += 1
            saga.touched = False
            self._record(saga, lambda: self._forward(saga), alive)

        self.http.call(
            replica,
            work,
            after,
            timeout=None if retriable else self.spec.timeout,
            per_try_timeout=self.spec.timeout if retriable else None,
            policy=self._forever if retriable else self._bounded,
            backoff=self.spec.backoff,
            alive=alive,
            draws=lambda attempt: self.keyed("call", step - 1, saga.key, saga.version, attempt),
        )

    # -- compensations -----------------------------------------------------------------------
    def _compensate(self, saga: _Saga) -> None:
        step = saga.step
        alive = self._live(saga)
        if step == 0:
            self._undo_at_owner(saga, 0, alive)
            return
        replica = self.participants[step]

        def work(job: Job) -> None:
            job.write_row(
                self.databases[replica],
                saga.key,
                version=self.undone(step, saga.key, saga.version),
                then=lambda outcome, _v: job.finish(outcome if outcome == OK else ERROR),
            )

        def after(outcome: int) -> None:
            if outcome != OK:
                self._stuck(saga)
                return
            saga.step -= 1
            self._record(saga, lambda: self._compensate(saga), alive)

        self.http.call(
            replica,
            work,
            after,
            timeout=None,
            per_try_timeout=self.spec.timeout,
            policy=self._compensation,
            backoff=self.spec.backoff,
            alive=alive,
            draws=lambda attempt: self.keyed("undo", step - 1, saga.key, saga.version, attempt),
        )

    def _undo_at_owner(self, saga: _Saga, attempt: int, alive: Callable[[], bool]) -> None:
        """Step 0's compensation: a local transaction of the owner, retried like the others."""
        database = self.databases[self.owner]
        node = f"db:{self.owner}"

        def back(outcome: int) -> None:
            if not alive():
                return
            if outcome == OK:
                self._end(saga)
            elif attempt >= self.spec.compensation_retries:
                self._stuck(saga)
            else:
                self._later(attempt, lambda: self._undo_at_owner(saga, attempt + 1, alive), alive)

        def ended(outcome: int, _value: Any) -> None:
            self.network.send(node, self.owner, lambda: back(outcome))

        draws = self.keyed("undo", -1, saga.key, saga.version, attempt)
        version = self.undone(0, saga.key, saga.version)
        self.network.send(
            self.owner, node, lambda: database.write(saga.key, ended, version, draws=draws)
        )

    def _later(self, attempt: int, then: Callable[[], None], alive: Callable[[], bool]) -> None:
        """``then`` after the backoff of retry ``attempt + 1``, if the orchestrator lives."""
        backoff = self.spec.backoff
        ceiling = min(backoff.cap, (2 ** (attempt + 1) - 1) * backoff.base)
        later(self.ctx.env, self._jitter() * ceiling, lambda: then() if alive() else None)

    # -- the saga's record -------------------------------------------------------------------
    def _record(
        self, saga: _Saga, then: Callable[[], None], alive: Callable[[], bool], attempt: int = 0
    ) -> None:
        """Write the saga's new state to the owner's database, then go on."""
        database: Database = self.databases[self.owner]
        saga.records += 1
        duration = self._log_time(self._log_draws.uniform(saga.number, saga.records))

        def done(outcome: int, _value: Any) -> None:
            if not alive():
                return  # resumed from the last state that committed, on restart
            if outcome == OK:
                then()
            else:
                self._later(attempt, lambda: self._record(saga, then, alive, attempt + 1), alive)

        database.scan(duration, done, tag="saga-log")

    def _end(self, saga: _Saga) -> None:
        self._forget(saga)  # done, or compensated down to step 0

    def _stuck(self, saga: _Saga) -> None:
        self.stuck += 1
        self._forget(saga)

    def _forget(self, saga: _Saga) -> None:
        active = self._active.get(saga.instance, [])
        if saga in active:
            active.remove(saga)

    def _recover(self, instance: Instance) -> None:
        """The orchestrator's instance restarted: resume its sagas from their records."""
        for saga in list(self._active.get(instance, [])):
            saga.epoch = instance.epoch
            saga.on_done = None  # the client's request died with the crash
            if saga.compensating:
                self._compensate(saga)
            else:
                self._forward(saga)

    # -- drain -------------------------------------------------------------------------------
    def unfinished(self) -> int:
        return sum(len(sagas) for sagas in self._active.values())

    def quiet(self) -> bool:
        return super().quiet() and not self.unfinished()

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """A saga going forward will still reach the copies from its current step on."""
        found: dict[int, set[tuple[int, int]]] = {}
        for sagas in self._active.values():
            for saga in sagas:
                if not saga.compensating:
                    for step in range(saga.step, len(self.participants)):
                        found.setdefault(step - 1, set()).add((saga.key, saga.version))
        return found
