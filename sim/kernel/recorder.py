"""Columnar recording of facts during a run.

Components append plain rows to named tables; each column is an ``array.array`` (numbers),
a :class:`LabelColumn` (labels) or a list (any other object), so an append costs a few list
operations and no allocation of a row object. Frames are built once, at the end of the run,
by :meth:`Recorder.frames`.

A table is declared once with its column names and type codes (``"d"`` float, ``"q"`` integer,
``"i"`` a 32-bit and ``"b"`` an 8-bit integer, for the small numbers a run records a million
times: partitions, members, attempts, flags; ``"s"`` a label: text with few distinct values, or
None; ``"O"`` any Python object) and is then
appended to through :meth:`Table.append` or, on hot paths, through the bound ``append`` methods
of its columns (``table.columns``).

A label column stores a small integer code a row while the run appends to it
(:class:`LabelColumn`: the labels in the order first seen, None as -1; one byte a row until
the column has more than 127 labels), and is a ``category``
in the frame (its codes renumbered so that the categories are sorted): neither the run nor the
frame holds a string reference per row, which Arrow-backed text (pandas 3) would copy.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["LabelColumn", "Recorder", "Table", "category"]

_DTYPES = {"d": np.float64, "q": np.int64, "i": np.int32, "b": np.int8}
_NUMERIC = set(_DTYPES)
_CODES = _NUMERIC | {"s", "O"}


class Table:
    """One table of facts, stored column by column."""

    __slots__ = ("_appenders", "codes", "columns", "name")

    def __init__(self, name: str, columns: Mapping[str, str]) -> None:
        for column, code in columns.items():
            if code not in _CODES:
                raise ValueError(
                    f"column {column!r}: type code must be d, q, i, b, s or O (got {code!r})"
                )
        self.name = name
        self.codes = dict(columns)
        self.columns: dict[str, Any] = {column: _column(code) for column, code in columns.items()}
        self._appenders = tuple(col.append for col in self.columns.values())

    def append(self, *values: Any) -> None:
        """Append one row; values in column order."""
        for add, value in zip(self._appenders, values, strict=True):
            add(value)

    def __len__(self) -> int:
        first = next(iter(self.columns.values()), None)
        return 0 if first is None else len(first)

    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame whose numeric columns are views of the table's own arrays
        (no copy: a run's tables are its largest objects). Call it once the table is
        complete: an array viewed by a frame cannot grow any more (``BufferError``)."""
        data: dict[str, Any] = {}
        for column, values in self.columns.items():
            code = self.codes[column]
            if code == "s":
                data[column] = values.categorical()
            elif code == "O":
                data[column] = list(values)
            elif len(values):
                data[column] = np.frombuffer(values, dtype=_DTYPES[code])
            else:
                data[column] = np.zeros(0, _DTYPES[code])
        return pd.DataFrame(data, copy=False)


class LabelColumn:
    """A label column while the run appends to it: one code a row (an ``array`` of ``"b"``,
    widened to ``"h"`` and ``"i"`` as labels are added), the distinct labels in the order they
    were first appended, None as -1."""

    __slots__ = ("_index", "codes", "labels")

    def __init__(self) -> None:
        self.codes = array("b")
        self.labels: list[Any] = []
        self._index: dict[Any, int] = {None: -1}

    def append(self, value: Any) -> None:
        code = self._index.get(value)
        if code is None:
            code = self._index[value] = len(self.labels)
            self.labels.append(value)
            if code > _LARGEST[self.codes.typecode]:
                self.codes = array("h" if code < 2**15 else "i", self.codes)
        self.codes.append(code)

    def __len__(self) -> int:
        return len(self.codes)

    def categorical(self) -> pd.Categorical[str]:
        """The column as a ``category``: its labels, sorted, as the categories (text even
        when there is none), None as missing."""
        categories = sorted(self.labels)
        if not self.codes:
            return category(np.zeros(0, np.int8), categories)
        position = {label: i for i, label in enumerate(categories)}
        # the sorted position of each first-seen code; code -1 (None) takes the last entry
        renumber = np.array([*(position[label] for label in self.labels), -1], dtype=np.int32)
        codes = np.frombuffer(self.codes, dtype=_CODE_DTYPES[self.codes.typecode])
        return category(renumber[codes], categories)


_LARGEST = {"b": 2**7 - 1, "h": 2**15 - 1, "i": 2**31 - 1}
"""The largest code each width of a label column's codes holds."""
_CODE_DTYPES = {"b": np.int8, "h": np.int16, "i": np.int32}


def _column(code: str) -> Any:
    if code in _NUMERIC:
        return array(code)
    return LabelColumn() if code == "s" else []


def category(codes: np.ndarray, categories: list[str]) -> pd.Categorical[str]:
    """The ``category`` column of ``codes`` (positions in ``categories``, -1 missing), its
    codes in the smallest signed type that holds them (the type pandas keeps: no copy)."""
    small = np.min_scalar_type(-max(len(categories), 1))
    return pd.Categorical.from_codes(
        codes.astype(small, copy=False), categories=pd.Index(categories, dtype=str)
    )


class Recorder:
    """The set of tables of one run."""

    def __init__(self) -> None:
        self.tables: dict[str, Table] = {}

    def table(self, name: str, columns: Mapping[str, str]) -> Table:
        """Declare a table (or get the one already declared with the same columns)."""
        found = self.tables.get(name)
        if found is not None:
            if found.codes != dict(columns):
                raise ValueError(f"table {name!r} already declared with other columns")
            return found
        table = Table(name, columns)
        self.tables[name] = table
        return table

    def frames(self) -> dict[str, pd.DataFrame]:
        """Every table as a DataFrame, by name."""
        return {name: table.frame() for name, table in self.tables.items()}
