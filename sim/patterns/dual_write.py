"""Dual write: the owner commits to its database, then publishes the change to the broker.

The two steps are not one transaction (Kafka does not join XA [DBZ-BLOG]). With
``order: commit_first`` (the usual code) the owner commits, then sends the change and answers
the client once the broker acknowledges it. If the owner's instance crashes between the commit
and the send, or the send fails for good (broker unavailable past ``delivery_timeout``, the
owner cut off from the broker), the change is committed but never published: a lost update,
and the copies stay behind for good unless the key is written again.

With ``order: publish_first`` the owner takes the next version of the key, publishes it, and
then commits that version; a commit that then fails (database down, an injected error) or a
crash before it leaves a phantom: the copies apply a version the owner never had.

Consumers at each replica apply the changes (see :mod:`sim.patterns.messaging`); reads are
answered from the replica's own copy, so they are eventually consistent.

Left out: the outbox-less workarounds (retry tables, reconciliation jobs).
"""

from __future__ import annotations

from typing import Any

from sim.config.model import DualWritePattern, Scenario
from sim.context import SimContext
from sim.infra.common import ERROR, OK
from sim.infra.service import Job
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import MessagingModel

__all__ = ["DualWriteModel"]


class DualWriteModel(MessagingModel):
    """Commit, then publish (or publish, then commit), with nothing tying the two together."""

    kind = "dual_write"
    spec: DualWritePattern

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self._handed: dict[int, int] = {}
        """The last version a publish-first write announced, per key."""

    def write(self, index: int, key: int) -> None:
        delete = self.is_delete(index)
        if self.spec.order == "commit_first":
            self.request(index, self.owner, lambda job: self._commit_first(job, key, delete))
        else:
            self.request(index, self.owner, lambda job: self._publish_first(job, key, delete))

    def _commit_first(self, job: Job, key: int, delete: bool) -> None:
        owner = self.services[self.owner]
        env = self.ctx.env

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                self.consistency.commit(key, version, env.now)

        def back(outcome: int, version: Any) -> None:
            if not job.alive:
                return  # the owner died between its commit and its publish: the change is lost
            if outcome != OK:
                owner.finish(job, outcome)
                return
            self.publish(
                self.owner, key, version, lambda ok: owner.finish(job, OK if ok else ERROR, version)
            )

        self.db_call(
            self.owner, self.databases[self.owner], key, True, committed, back, delete=delete
        )

    def _publish_first(self, job: Job, key: int, delete: bool) -> None:
        owner = self.services[self.owner]
        database = self.databases[self.owner]
        env = self.ctx.env
        version = self._next_version(key)

        def committed(outcome: int, value: Any) -> None:
            if outcome == OK:
                self.consistency.commit(key, value, env.now)

        def published(ok: bool) -> None:
            if not ok:
                owner.finish(job, ERROR)
                return
            if not job.alive:
                return  # published, never committed: a phantom
            self.db_call(
                self.owner,
                database,
                key,
                True,
                committed,
                lambda outcome, value: owner.finish(job, outcome, value),
                version=version,
                delete=delete,
            )

        self.publish(self.owner, key, version, published)

    def _next_version(self, key: int) -> int:
        """The version a publish-first write announces: one past both the committed version
        and the last one handed out, so writes in flight never share one (a failed commit
        leaves a gap in the owner's history and a phantom at the copies)."""
        version = max(self.databases[self.owner].version(key), self._handed.get(key, 0)) + 1
        self._handed[key] = version
        return version
