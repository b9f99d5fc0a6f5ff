"""Two-phase commit: the owner coordinates a prepare and a commit across every copy.

A write arrives at the owner (the coordinator). Phase one: the owner prepares the write in its
own database and asks every replica service to prepare it in theirs — one after another by
default, as a JTA transaction manager does unless told to prepare asynchronously (Narayana's
``asyncPrepare``/``asyncCommit`` are off by default; judgment), or all at once with
``fanout: parallel``; a prepared
participant has done the work and holds the key's row lock (PostgreSQL ``PREPARE
TRANSACTION`` [PG-2PC]). A participant that refuses (down, failing) or does not answer within
``timeout`` is a "no": the coordinator aborts everyone and the client gets an error or a
timeout. When every vote is yes the coordinator commits locally (this is the decision, logged
with the commit), then tells every participant to commit the same version (in the same order),
re-sending with backoff until each acknowledges; the client is answered when all have. Both
``PREPARE TRANSACTION`` and ``COMMIT PREPARED`` are durable writes, so each takes a connection
and one draw of the database's ``write_time``.

Blocking, as in the books [2PC]: a participant that voted yes cannot decide alone. If the
coordinator's instance crashes after prepare, its prepared participants keep their locks until
it restarts and recovers: an undecided transaction is aborted (presumed abort), a decided one
is committed again — with the version the owner committed; one whose own ``COMMIT PREPARED``
is still under way at the owner's database is left to it (its end commits the participants,
or aborts them if it failed). Meanwhile other writes to those keys wait for the locks (holding their
connections) or time out. A crash before the coordinator's own prepare finished rolls it back
(the session died). Prepared locks survive crashes of the participants' databases.

The result is atomic — every copy ends with the owner's version, nothing diverges — but every
write pays two round trips and holds locks across them, and any participant's failure fails
the write.

Left out: the coordinator's log writes as separate I/O (the decision is the local commit),
heuristic decisions, read-only optimisations, participant-side timeouts.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import Field

from sim.config.clients import Backoff
from sim.config.model import PatternSettings, Scenario
from sim.config.types import PositiveDuration
from sim.infra.http import ANY_FAILURE, HttpClient, RetryPolicy
from sim.infra.job import Instance, Job
from sim.kernel.codes import ERROR, OK, TIMEOUT, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import WorkDraws
from sim.kernel.schedule import Deadline
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog
from sim.patterns.model import PatternModel, register_pattern

__all__ = ["TwoPhaseCommitModel", "TwoPhaseCommitSettings"]


class TwoPhaseCommitSettings(PatternSettings):
    """The owner coordinates prepare and commit across every copy."""

    kind: Literal["two_phase_commit"]
    fanout: Literal["sequential", "parallel"] = Field(
        "sequential",
        description="participants one after another (a JTA manager's default) or all at once",
    )
    timeout: PositiveDuration = Field(
        15.0, description="per call (prepare votes; decision re-sends); Envoy route timeout [ENVOY]"
    )
    backoff: Backoff = Field(
        default_factory=lambda: Backoff.model_validate({}),
        description="between re-sends of a decision that was not acknowledged",
    )


_ONE_TRY = RetryPolicy(0, ())
_UNTIL_ACKNOWLEDGED = RetryPolicy(None, ANY_FAILURE)


@dataclass(eq=False)
class _Txn:
    """One distributed transaction, as the coordinator knows it."""

    number: int
    key: int
    instance: Instance
    epoch: int
    decision: str = ""  # "", "commit" or "abort"
    version: int = 0
    votes: int = 0
    local_answered: bool = False
    failure: int = OK
    acked: set[str] = field(default_factory=set)
    on_done: Callable[[int], None] | None = None
    draws: WorkDraws | None = None
    """The request's draws: its prepare and commit at the owner are its first two queries."""
    local_timer: Deadline | None = None
    """The timeout of the owner's own prepare (cancelled once that is answered)."""


@register_pattern
class TwoPhaseCommitModel(PatternModel):
    """Atomic writes across the owner and every replica."""

    settings = TwoPhaseCommitSettings
    spec: TwoPhaseCommitSettings

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self._numbers = 0
        self._in_doubt: dict[Instance, list[_Txn]] = {}
        self._aborted: dict[str, set[int]] = {name: set() for name in self.replicas}
        self.services[self.owner].restart_listeners.append(self._recover)
        self.http = HttpClient(ctx, self.network, self.owner, self.services)

    # -- coordinator -------------------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        def work(job: Job) -> None:
            assert job.instance is not None
            self._numbers += 1
            txn = _Txn(self._numbers, key, job.instance, job.epoch, draws=job.draws)
            txn.on_done = job.track(lambda outcome: job.finish(outcome, txn.version))
            self._in_doubt.setdefault(job.instance, []).append(txn)
            self._prepare_local(txn)
            if self.spec.fanout == "parallel":
                for replica in self.replicas:
                    self._prepare_remote(txn, replica)

        self.request(index, self.owner, work)

    def _coordinator_alive(self, txn: _Txn) -> bool:
        return txn.instance.up and txn.instance.epoch == txn.epoch

    def _prepare_local(self, txn: _Txn) -> None:
        database = self.databases[self.owner]
        node = f"db:{self.owner}"

        def answer(outcome: int) -> None:
            if not txn.local_answered:
                txn.local_answered = True
                if txn.local_timer is not None:
                    txn.local_timer.cancel()  # its answer would now do nothing
                self._vote(txn, outcome)

        def prepared(outcome: int, _value: Any) -> None:
            dead = not self._coordinator_alive(txn) and not txn.decision
            if outcome == OK and (txn.decision == "abort" or dead):
                # aborted meanwhile, or the session died before it voted
                database.rollback_prepared(txn.key, txn)
                return
            self.network.send(node, self.owner, lambda: answer(outcome))

        txn.local_timer = self.ctx.timeout_line(self.spec.timeout).add(lambda: answer(TIMEOUT))
        # the owner's prepare is the request's own write: its first query's draws
        draws = txn.draws
        self.network.send(
            self.owner, node, lambda: database.prepare(txn.key, txn, prepared, draws, 0)
        )

    def _prepare_remote(self, txn: _Txn, replica: str) -> None:
        self.http.call(
            replica,
            lambda job: self._participant_prepare(job, replica, txn),
            lambda outcome: self._vote(txn, outcome),
            timeout=None,
            per_try_timeout=self.spec.timeout,
            policy=_ONE_TRY,  # a vote not received in time is a no
            backoff=self.spec.backoff,
            alive=lambda: self._coordinator_alive(txn),
            draws=lambda attempt: self.keyed("prepare", self._copy(replica), txn.number, attempt),
        )

    def _vote(self, txn: _Txn, outcome: int) -> None:
        if txn.decision or not self._coordinator_alive(txn):
            return
        if outcome != OK:
            txn.failure = outcome
            self._decide(txn, "abort")
            return
        txn.votes += 1
        if txn.votes == 1 + len(self.replicas):
            self._decide(txn, "commit")
        elif self.spec.fanout == "sequential":
            self._prepare_remote(txn, self.replicas[txn.votes - 1])

    def _decide(self, txn: _Txn, decision: str) -> None:
        txn.decision = decision
        if decision == "abort":
            self._abort_everywhere(txn)
            self._finish(txn, txn.failure if txn.failure != OK else ERROR)
            return
        database = self.databases[self.owner]
        env = self.ctx.env

        def at_database(outcome: int, version: Any) -> None:
            if outcome == OK:
                txn.version = version
                self.consistency.commit(txn.key, version, env.now)

        def committed(outcome: int, _version: Any) -> None:
            if outcome != OK:  # the owner's database failed between the phases: abort
                txn.decision = ""
                txn.failure = ERROR
                self._decide(txn, "abort")
                return
            self._commit_everywhere(txn)

        node = f"db:{self.owner}"

        def ended(outcome: int, version: Any) -> None:
            at_database(outcome, version)
            self.network.send(node, self.owner, lambda: committed(outcome, version))

        draws = txn.draws  # the request's second query
        self.network.send(
            self.owner, node, lambda: database.commit_prepared(txn.key, txn, ended, None, draws, 1)
        )

    def _commit_everywhere(self, txn: _Txn) -> None:
        if not self.replicas:
            self._forget(txn)
            self._finish(txn, OK)
            return
        for replica in self.replicas:
            if replica not in txn.acked:
                self._deliver(txn, replica, self._participant_commit)
                if self.spec.fanout == "sequential":
                    return  # the next one after this one acknowledges

    def _abort_everywhere(self, txn: _Txn) -> None:
        self.databases[self.owner].rollback_prepared(txn.key, txn)
        if not self.replicas:
            self._forget(txn)
        for replica in self.replicas:
            if replica not in txn.acked:
                self._deliver(txn, replica, self._participant_abort)

    def _deliver(self, txn: _Txn, replica: str, handler: Callable[[Job, str, _Txn], None]) -> None:
        """Send a decision until the participant acknowledges it (or the coordinator dies: it
        sends it again when it recovers)."""
        self.http.call(
            replica,
            lambda job: handler(job, replica, txn),
            lambda _outcome: self._acknowledged(txn, replica),
            timeout=None,
            per_try_timeout=self.spec.timeout,
            policy=_UNTIL_ACKNOWLEDGED,
            backoff=self.spec.backoff,
            alive=lambda: self._coordinator_alive(txn),
            draws=lambda attempt: self.keyed("decide", self._copy(replica), txn.number, attempt),
        )

    def _copy(self, replica: str) -> int:
        return self.replicas.index(replica)

    def _acknowledged(self, txn: _Txn, replica: str) -> None:
        txn.acked.add(replica)
        if len(txn.acked) == len(self.replicas):
            self._forget(txn)
            if txn.decision == "commit":
                self._finish(txn, OK)
        elif txn.decision == "commit" and self.spec.fanout == "sequential":
            self._commit_everywhere(txn)

    def _forget(self, txn: _Txn) -> None:
        pending = self._in_doubt.get(txn.instance, [])
        if txn in pending:
            pending.remove(txn)

    def _finish(self, txn: _Txn, outcome: int) -> None:
        if txn.on_done is not None:
            done, txn.on_done = txn.on_done, None
            done(outcome)

    def _recover(self, instance: Instance) -> None:
        """The coordinator restarted: finish what it left in doubt."""
        for txn in list(self._in_doubt.get(instance, [])):
            txn.epoch = instance.epoch
            txn.on_done = None  # the client's request died with the crash
            if txn.decision == "commit":
                if txn.version:
                    self._commit_everywhere(txn)
                # else the owner's COMMIT PREPARED is still under way at its database: its
                # end tells the participants (the version it committed), or aborts them
            else:  # presumed abort
                txn.decision = "abort"
                self._abort_everywhere(txn)

    # -- drain -------------------------------------------------------------------------------
    def quiet(self) -> bool:
        return super().quiet() and not any(self._in_doubt.values())

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """A decided commit not yet acknowledged by a participant will still be delivered."""
        found: dict[int, set[tuple[int, int]]] = {}
        for txns in self._in_doubt.values():
            for txn in txns:
                if txn.decision == "commit":
                    for copy, replica in enumerate(self.replicas):
                        if replica not in txn.acked:
                            found.setdefault(copy, set()).add((txn.key, txn.version))
        return found

    # -- participants ------------------------------------------------------------------------
    def _participant_prepare(self, job: Job, replica: str, txn: _Txn) -> None:
        database = self.databases[replica]

        def back(outcome: int, _value: Any) -> None:
            if outcome == OK and txn.number in self._aborted[replica]:
                database.rollback_prepared(txn.key, txn)  # the abort overtook the prepare
                outcome = ERROR
            job.finish(outcome)

        def issue(done: Done, draws: WorkDraws | None, n: int) -> None:
            database.prepare(txn.key, txn, done, draws, n)

        job.query(database, issue, then=back)

    def _participant_commit(self, job: Job, replica: str, txn: _Txn) -> None:
        database = self.databases[replica]
        copy = self.replicas.index(replica)
        env = self.ctx.env

        def at_database(outcome: int, value: Any) -> None:
            if outcome == OK:
                self.consistency.apply(copy, txn.key, value, env.now)

        def committed(outcome: int, value: Any) -> None:
            if value == "not prepared" and database.version(txn.key) >= txn.version:
                outcome = OK  # already committed: a re-sent decision
            job.finish(outcome)

        def issue(done: Done, draws: WorkDraws | None, n: int) -> None:
            database.commit_prepared(txn.key, txn, done, txn.version, draws, n)

        job.query(database, issue, on_end=at_database, then=committed)

    def _participant_abort(self, job: Job, replica: str, txn: _Txn) -> None:
        self._aborted[replica].add(txn.number)
        self.databases[replica].rollback_prepared(txn.key, txn)
        job.finish(OK)
