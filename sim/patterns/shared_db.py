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

from typing import ClassVar, Literal

from sim.config.model import PatternSettings
from sim.infra.database import Database
from sim.patterns.model import PatternModel, register_pattern

__all__ = ["SharedDbModel", "SharedDbSettings"]


class SharedDbSettings(PatternSettings):
    """Every service reads and writes one database: never stale, one hot spot."""

    kind: Literal["shared_db"]
    entities: ClassVar[bool] = True


@register_pattern
class SharedDbModel(PatternModel):
    """One database for all services."""

    settings = SharedDbSettings

    def build_databases(self) -> dict[str, Database]:
        profile = self.scenario.databases.profile("shared")
        return {"shared": Database(self.ctx, "shared", profile)}

    def database_of(self, service: str) -> Database:
        return self.databases["shared"]

    def database_named(self, name: str) -> Database | None:
        return self.databases["shared"]

    def write(self, index: int, key: int) -> None:
        consistency = self.consistency
        copies = range(len(self.replicas))

        def copies_hold_it(version: int, now: float) -> None:
            for replica in copies:  # the copies are the owner's row
                consistency.apply(replica, key, version, now)

        self.commit_at_owner(index, key, self.databases["shared"], copies_hold_it)
