"""Dual write: the owner commits to its database, then publishes the change to the broker.

The two steps are not one transaction (Kafka does not join XA [DBZ-BLOG]). With
``order: commit_first`` (the usual code) the owner commits, then sends the change and answers
the client once the broker acknowledges it. Each owner instance runs its own producer, which
lives and dies with it: a crash of the instance loses the records still in its accumulator
(waiting for ``linger`` or for a batch slot) and those whose request failed and would have
been retried; requests already on the wire reach the broker. So a change is committed but never
published — a lost update, the copies behind for good unless the key is written again — when
the instance crashes between the commit and the send, while the record waits in the producer,
or when the send fails for good (the broker out of reach past ``delivery_timeout``). Per crash
that is about the write rate × (``linger`` + the database round trip back to the owner).

With ``order: publish_first`` the owner takes the next version of the key, publishes it, and
then commits that version; a commit that then fails (database down, an injected error) or a
crash before it leaves a phantom: the copies apply a version the owner never had.

Consumers at each replica apply the changes (see :mod:`sim.patterns.messaging`); reads are
answered from the replica's own copy, so they are eventually consistent.

Left out: the outbox-less workarounds (retry tables, reconciliation jobs).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from sim.config.model import PatternSettings, Scenario
from sim.infra.service import Job
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import MessagingModel
from sim.patterns.model import register_pattern

__all__ = ["DualWriteModel", "DualWriteSettings"]


class DualWriteSettings(PatternSettings):
    """The owner commits to its database and publishes the change to the broker, not atomically."""

    kind: Literal["dual_write"]
    entities: ClassVar[bool] = True
    order: Literal["commit_first", "publish_first"] = Field(
        "commit_first",
        description="commit_first loses the event when the publish fails or the owner crashes "
        "in between; publish_first leaves a phantom event when the commit then fails [DBZ-BLOG]",
    )
    idempotent_consumers: bool = Field(
        False, description="consumers drop an event whose version they already hold"
    )


@register_pattern
class DualWriteModel(MessagingModel):
    """Commit, then publish (or publish, then commit), with nothing tying the two together."""

    settings = DualWriteSettings
    spec: DualWriteSettings

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self._handed: dict[int, int] = {}
        """The last version a publish-first write announced, per key."""
        for instance in self.services[self.owner].instances:  # one producer per process
            self.producers.get(self.owner, instance.index)

    def applies_committed(self) -> bool:
        return self.spec.order == "commit_first"  # publishing first hands out phantoms

    def write(self, index: int, key: int) -> None:
        delete = self.is_delete(index)
        if self.spec.order == "commit_first":
            self.request(index, self.owner, lambda job: self._commit_first(job, key, delete))
        else:
            self.request(index, self.owner, lambda job: self._publish_first(job, key, delete))

    def _commit_first(self, job: Job, key: int, delete: bool) -> None:
        env = self.ctx.env

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                self.consistency.commit(key, version, env.now)

        def back(outcome: int, version: Any) -> None:
            # (a job whose owner died between its commit and its publish never gets here:
            # the change is lost)
            if outcome != OK:
                job.finish(outcome)
                return
            answer = job.track(lambda ok: job.finish(OK if ok else ERROR, version))
            self.publish(self.owner, key, version, answer, self._instance(job))

        job.write_row(
            self.databases[self.owner], key, delete=delete, on_commit=committed, then=back
        )

    def _publish_first(self, job: Job, key: int, delete: bool) -> None:
        database = self.databases[self.owner]
        env = self.ctx.env
        version = self._next_version(key)

        def committed(outcome: int, value: Any) -> None:
            if outcome == OK:
                self.consistency.commit(key, value, env.now)

        def published(ok: bool) -> None:
            # (a job whose owner died after the publish never gets here: a phantom)
            if not ok:
                job.finish(ERROR)
                return
            job.write_row(
                database, key, version=version, delete=delete, on_commit=committed, then=job.finish
            )

        self.publish(self.owner, key, version, job.track(published), self._instance(job))

    @staticmethod
    def _instance(job: Job) -> int:
        return job.instance.index if job.instance is not None else 0

    def _next_version(self, key: int) -> int:
        """The version a publish-first write announces: one past both the committed version
        and the last one handed out, so writes in flight never share one (a failed commit
        leaves a gap in the owner's history and a phantom at the copies)."""
        version = max(self.databases[self.owner].version(key), self._handed.get(key, 0)) + 1
        self._handed[key] = version
        return version
