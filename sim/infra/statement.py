"""One query as a database handles it (:mod:`sim.infra.database`): what it asks and where it
stands (its connection's epoch, whether it was answered)."""

from __future__ import annotations

from sim.infra.rows import VersionAt
from sim.kernel.codes import Done
from sim.kernel.draws import WorkDraws

__all__ = ["Statement"]


class Statement:
    """One query on its way through a database: what it is, and where it stands."""

    __slots__ = (
        "attempts",
        "begun",
        "commit",
        "delete",
        "done",
        "draws",
        "epoch",
        "extra",
        "key",
        "n",
        "prepare",
        "row_id",
        "scan",
        "settled",
        "skew",
        "tag",
        "version",
        "write",
    )

    def __init__(
        self,
        key: int,
        write: bool,
        version: int | VersionAt | None,
        done: Done,
        prepare: object = None,
        commit: object = None,
        draws: WorkDraws | None = None,
        n: int = 0,
    ) -> None:
        self.key = key
        self.extra = 0.0
        """More work in the same transaction (another statement), added to its time."""
        self.draws = draws
        self.n = n
        self.write = write
        self.version = version
        self.done = done
        self.prepare = prepare
        self.commit = commit
        self.delete = False
        self.scan = -1.0
        self.tag = ""
        self.attempts = 0
        self.begun = 0.0
        self.row_id = 0
        self.epoch = 0
        self.settled = False
        self.skew = 0.0
        """How far the writer's clock is off (a service's ``clock-skew``): added to the stamp."""
