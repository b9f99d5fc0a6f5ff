"""A choreographed saga: no coordinator; each participant reacts to the previous one's event
on the broker and publishes its own.

Every participant — the owner and each replica — has a consumer group on the change topic
(:mod:`sim.patterns.messaging`: ``consumer:<service>``, one member per instance, retries and
redelivery as there) and a producer in each of its instances. Events are keyed by entity key,
so a key's events stay in order, and carry (version, what happened, at which step, the
request). A write arrives at the owner: its local transaction (step 0) commits the row, the
owner publishes "step 0 done" and answers the client once the broker has the event — the
client learns that the saga started, not how it ends [SAGA-AZ]. Each replica, on "step s−1
done", runs its local transaction (:mod:`sim.patterns.saga_steps`) and publishes "step s
done"; the saga ends when the last one has. A compensatable or pivot step that still fails
after ``retries`` retries (or that the pivot rejects) publishes "step s failed"; the
participant before it reacts by compensating its own step and publishing "step s−1 undone",
and so on back to the owner, whose compensation ends the saga: compensations run in reverse
order, each reacting to the next one's event. A retriable step is retried until it commits;
a compensation up to ``compensation_retries`` times, after which the saga is stuck. Retries
wait the consumer's backoff (``broker.retry_backoff``, doubling to ``retry_backoff_max``)
and hold up the partition, as a consumer that does not skip does.

A participant acknowledges an event (its offset may be committed) only once its own event is
on the broker, so a crash in between redelivers it and the step runs again (idempotent). It
records each step's outcome with its row; the first decided wins, and a redelivered event
gets it again: a step that commits after its failure was published (an attempt of a member
that had crashed) stores nothing, since the failure marks the version as compensated. The
owner keeps the event of a committed step 0 until the broker has it and publishes it again
when its instance restarts — the saga's record is written with step 0, as an outbox would
keep it.

Left out: an outbox table and relay for every participant's events (they are published by
the participant's own producer), events routed to several topics, parallel reactions.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.config.model import Scenario
from sim.infra.service import Job
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext
from sim.kernel.schedule import later
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import MessagingModel, consumer_lag_max, send_version
from sim.patterns.saga_steps import SagaBase

__all__ = ["ChoreographedSaga"]

DONE, FAILED, UNDONE = 0, 1, 2
Event = tuple[int, int, int, int]
"""(version, DONE | FAILED | UNDONE, step, request index)."""


class ChoreographedSaga(SagaBase, MessagingModel):
    """Participants react to each other's events; no one holds the saga's state."""

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.groups[self.owner] = ConsumerGroup(
            ctx,
            self.broker,
            self.topic,
            self.owner,
            members=self.services[self.owner].config.instances,
            handler=self._handler(self.owner),
            config=scenario.broker,
        )
        for name in self.participants:  # every participant's instances publish
            for instance in range(self.services[name].config.instances):
                self.producers.get(name, instance)
        self._open: dict[tuple[int, int], bool] = {}
        """Sagas under way, by (key, version): whether one of their steps failed."""
        self._unpublished: dict[tuple[int, int], tuple[int, Event]] = {}
        """Step 0 events the broker does not have yet: (owner instance, event)."""
        self._decided: dict[tuple[int, int, int], int] = {}
        """Each replica step's outcome once decided, DONE or FAILED, by (step, key, version):
        kept by the participant with its row, so a redelivered event gets the same answer."""
        self.services[self.owner].restart_listeners.append(self._republish)

    # -- step 0 at the owner -----------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        database = self.databases[self.owner]
        env = self.ctx.env

        def work(job: Job) -> None:
            assert job.instance is not None
            if self.rejected(index, 0):
                job.finish(ERROR, "rejected")
                return
            instance = job.instance.index

            def committed(outcome: int, version: Any) -> None:
                if outcome == OK:
                    self.consistency.commit(key, version, env.now)
                    if self.replicas:
                        self._open[(key, version)] = False
                        self._unpublished[(key, version)] = (instance, (version, DONE, 0, index))

            def after(outcome: int, version: Any) -> None:
                if outcome != OK or not self.replicas:
                    job.finish(outcome, version)
                    return
                answer = job.track(lambda: job.finish(OK, version))
                self._publish_start(key, version, answer)

            job.write_row(
                database,
                key,
                version=self.begin(key),
                delete=self.is_delete(index),
                on_commit=committed,
                then=after,
            )

        self.request(index, self.owner, work)

    def _publish_start(self, key: int, version: int, then: Callable[[], None]) -> None:
        found = self._unpublished.get((key, version))
        if found is None:
            then()
            return
        instance, event = found

        def acked() -> None:
            self._unpublished.pop((key, version), None)
            then()

        self._emit(self.owner, instance, key, event, acked)

    def _republish(self, instance: Any) -> None:
        """The owner's instance restarted: publish the step 0 events it had not got out."""
        for (key, version), (where, _event) in list(self._unpublished.items()):
            if where == instance.index:
                self._publish_start(key, version, lambda: None)

    def _emit(
        self, node: str, instance: int, key: int, event: Event, then: Callable[[], None]
    ) -> None:
        """Publish ``event`` from ``node``'s producers until the broker has it: from that
        instance's, or another live one's; if the instance dies before the broker answered
        (its producer's callbacks die with it), publish again from another."""
        config = self.scenario.broker
        instances = self.services[node].instances
        host = instances[instance] if instances[instance].up else None
        host = host or next((i for i in instances if i.up), None)
        if host is None:  # every instance is down: wait for one to come back
            later(
                self.ctx.env,
                config.retry_backoff_max,
                lambda: self._emit(node, 0, key, event, then),
            )
            return
        epoch = host.epoch
        settled = [False]

        def again() -> None:
            if not settled[0]:
                settled[0] = True
                self._emit(node, host.index, key, event, then)

        def acked(ok: bool) -> None:
            if settled[0] or not host.up or host.epoch != epoch:
                return
            settled[0] = True
            if ok:
                then()
            else:
                later(self.ctx.env, config.retry_backoff_max, again_after_failure)

        def again_after_failure() -> None:
            self._emit(node, host.index, key, event, then)

        def watch() -> None:
            if settled[0]:
                return
            if not host.up or host.epoch != epoch:
                again()
            else:
                later(self.ctx.env, config.retry_backoff_max, watch)

        send_version(self.producers.get(node, host.index), self.topic, key, event, acked)
        later(self.ctx.env, config.retry_backoff_max, watch)

    # -- reactions ---------------------------------------------------------------------------
    def _handler(self, name: str) -> Callable[[Record, Callable[[], None]], None]:
        def handle(record: Record, done: Callable[[], None]) -> None:
            step = self.participants.index(name)
            version, kind, source, index = record.value
            key = int(record.key)
            if kind == DONE and source == step - 1:
                self._step(step, key, version, index, done, 0)
            elif kind in (FAILED, UNDONE) and source == step + 1:
                self._undo(step, key, version, index, done, 0)
            else:
                done()  # another participant's business

        return handle

    def _react(
        self,
        step: int,
        key: int,
        decide: Callable[[], Any],
        then: Callable[[int, Any, int], None],
        draws: Any,
    ) -> None:
        """Run a local transaction at step ``step``'s service; ``then(outcome, value,
        instance)`` with the instance that ran it."""
        name = self.participants[step]
        ran = [0]

        def work(job: Job) -> None:
            assert job.instance is not None
            ran[0] = job.instance.index
            version = decide()
            if version is None:
                job.finish(ERROR, "rejected")
                return
            job.write_row(
                self.databases[name],
                key,
                version=version,
                then=lambda outcome, _v: job.finish(outcome if outcome == OK else ERROR),
            )

        self.services[name].call(work, lambda o, v: then(o, v, ran[0]), draws)

    def _retry(self, attempt: int, again: Callable[[int], None]) -> None:
        config = self.scenario.broker
        wait = min(config.retry_backoff_max, config.retry_backoff * 2**attempt)
        later(self.ctx.env, wait, lambda: again(attempt + 1))

    def _step(
        self, step: int, key: int, version: int, index: int, done: Callable[[], None], attempt: int
    ) -> None:
        retriable = self.step_class(step) == "retriable"
        decided = self._decided.get((step, key, version))
        if decided is not None:  # a redelivery: publish the outcome again, from a live instance
            instances = self.services[self.participants[step]].instances
            live = next((i.index for i in instances if i.up), 0)
            self._publish(step, key, version, index, decided, live, done)
            return

        def decide() -> Any:
            return None if self.rejected(index, step) else self.stepped(step, key, version)

        def after(outcome: int, value: Any, instance: int) -> None:
            if outcome == OK:
                self._publish(step, key, version, index, DONE, instance, done)
            elif retriable or (value != "rejected" and attempt < self.spec.retries):
                self._retry(attempt, lambda n: self._step(step, key, version, index, done, n))
            else:
                # the failure is recorded with the row: a late commit of this step stores
                # nothing, as if its compensation had overtaken it
                self.ledgers[step].undone.setdefault(key, set()).add(version)
                self._publish(step, key, version, index, FAILED, instance, done)

        draws = self.keyed("apply", step - 1, key, version, attempt)
        self._react(step, key, decide, after, draws)

    def _publish(
        self,
        step: int,
        key: int,
        version: int,
        index: int,
        outcome: int,
        instance: int,
        done: Callable[[], None],
    ) -> None:
        """Publish a step's outcome; the first outcome decided wins (a step that committed
        after its failure was published stored nothing, and publishes nothing more)."""
        decided = self._decided.setdefault((step, key, version), outcome)
        if decided != outcome:
            done()
            return
        if outcome == FAILED and (key, version) in self._open:
            self._open[(key, version)] = True
        if outcome == DONE and step == len(self.participants) - 1:
            self._open.pop((key, version), None)  # the saga is done
            done()
            return
        self._emit(self.participants[step], instance, key, (version, outcome, step, index), done)

    def _undo(
        self, step: int, key: int, version: int, index: int, done: Callable[[], None], attempt: int
    ) -> None:
        name = self.participants[step]

        def after(outcome: int, _value: Any, instance: int) -> None:
            if outcome == OK:
                if step == 0:
                    self._open.pop((key, version), None)  # compensated back to the start
                    done()
                else:
                    self._emit(name, instance, key, (version, UNDONE, step, index), done)
            elif attempt < self.spec.compensation_retries:
                self._retry(attempt, lambda n: self._undo(step, key, version, index, done, n))
            else:
                self.stuck += 1
                self._open.pop((key, version), None)
                done()

        draws = self.keyed("undo", step - 1, key, version, attempt)
        self._react(step, key, lambda: self.undone(step, key, version), after, draws)

    # -- drain and gauges --------------------------------------------------------------------
    def unfinished(self) -> int:
        return len(self._open)

    def quiet(self) -> bool:
        return super().quiet() and not self._unpublished

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """A saga still going forward can still reach every copy it has not reached."""
        forward = {pair for pair, failed in self._open.items() if not failed}
        return {copy: set(forward) for copy in range(len(self.replicas))}

    def gauges(self) -> dict[str, float]:
        gauges = super().gauges()
        gauges["consumer_lag_max"] = consumer_lag_max(self.ctx.recorder)
        return gauges
