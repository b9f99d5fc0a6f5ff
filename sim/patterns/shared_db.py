"""Shared database: every service reads and writes one database.

A write arrives at the owner, which commits it to the shared database; a read arrives at any
service that keeps a copy and is answered from the same database. The copies *are* the
owner's rows, so each copy holds a version from the instant it commits: reads are never stale
and nothing diverges. The price is coupling: every read and write of every service competes
for one connection pool and one set of row locks, and a fault on that database (any
``db:NAME`` target means it here) reaches every service.

Left out: schema coupling between teams, per-service pools against the server's
``max_connections`` (one pool models the database's capacity), read replicas.
"""

from __future__ import annotations

from typing import Any

from sim.infra.common import OK
from sim.infra.database import Database
from sim.infra.service import Job
from sim.patterns.base import PatternModel

__all__ = ["SharedDbModel"]


class SharedDbModel(PatternModel):
    """One database for all services."""

    kind = "shared_db"

    def build_databases(self) -> dict[str, Database]:
        profile = self.scenario.databases.profile("shared")
        return {"shared": Database(self.ctx, "shared", profile)}

    def database_of(self, service: str) -> Database:
        return self.databases["shared"]

    def database_named(self, name: str) -> Database | None:
        return self.databases["shared"]

    def write(self, index: int, key: int) -> None:
        owner = self.services[self.owner]
        database = self.databases["shared"]
        consistency = self.consistency
        env = self.ctx.env
        copies = range(len(self.replicas))

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                now = env.now
                consistency.commit(key, version, now)
                for replica in copies:
                    consistency.apply(replica, key, version, now)

        delete = self.is_delete(index)

        def work(job: Job) -> None:
            self.db_call(
                self.owner,
                database,
                key,
                True,
                committed,
                lambda outcome, value: owner.finish(job, outcome, value),
                delete=delete,
            )

        self.request(index, self.owner, work)
