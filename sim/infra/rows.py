"""What the commit log and a query of the table see of a row (see :mod:`sim.infra.database`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

__all__ = ["Commit", "RowMeta", "VersionAt"]

VersionAt = Callable[[int], int]
"""A conditional write's version: the row's committed version -> the version to store."""


class Commit(NamedTuple):
    """One entry of the commit log (the WAL as logical decoding sees it)."""

    lsn: int
    key: int
    version: int
    time: float
    deleted: bool


class RowMeta(NamedTuple):
    """What a query of the table sees of a row besides its version."""

    updated_at: float
    """Timestamp column: when the transaction that last wrote it began (``now()``)."""
    row_id: int
    """Incrementing id column: taken from a sequence when the inserting transaction began, so
    inserts can commit out of id order as they do with ``nextval()``."""
    deleted: bool
    committed_at: float
    version: int
