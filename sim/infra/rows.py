"""What the commit log and a query of the table see of a row (see :mod:`sim.infra.database`)."""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator
from typing import NamedTuple, overload

__all__ = ["Commit", "CommitLog", "RowMeta", "VersionAt"]

VersionAt = Callable[[int], int]
"""A conditional write's version: the row's committed version -> the version to store."""


class Commit(NamedTuple):
    """One entry of the commit log (the WAL as logical decoding sees it)."""

    lsn: int
    key: int
    version: int
    time: float
    deleted: bool


class CommitLog:
    """The commit log in commit order, stored column by column (a run of a million writes
    keeps a million entries: 25 bytes each in typed arrays instead of a tuple and its boxed
    numbers, about 200). Entry ``i`` has LSN ``i + 1``; indexing and slicing give
    :class:`Commit` entries, built on demand; :attr:`times` is the commit times' column, for
    bisecting."""

    __slots__ = ("_deleted", "_keys", "_versions", "times")

    def __init__(self) -> None:
        self._keys = array("q")
        self._versions = array("q")
        self.times = array("d")
        self._deleted = array("b")

    def append(self, key: int, version: int, time: float, deleted: bool) -> Commit:
        """Log one commit; returns its entry."""
        self._keys.append(key)
        self._versions.append(version)
        self.times.append(time)
        self._deleted.append(deleted)
        return Commit(len(self._keys), key, version, time, deleted)

    def __len__(self) -> int:
        return len(self._keys)

    def keys_from(self, start: int) -> array[int]:
        """The keys of the entries from index ``start`` on, in commit order."""
        return self._keys[start:]

    def _entry(self, index: int) -> Commit:
        return Commit(
            index + 1,
            self._keys[index],
            self._versions[index],
            self.times[index],
            bool(self._deleted[index]),
        )

    @overload
    def __getitem__(self, index: int) -> Commit: ...

    @overload
    def __getitem__(self, index: slice) -> list[Commit]: ...

    def __getitem__(self, index: int | slice) -> Commit | list[Commit]:
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(len(self._keys)))]
        if index < 0:
            index += len(self._keys)
        if not 0 <= index < len(self._keys):
            raise IndexError("commit log index out of range")
        return self._entry(index)

    def __iter__(self) -> Iterator[Commit]:
        return (self._entry(i) for i in range(len(self._keys)))


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
