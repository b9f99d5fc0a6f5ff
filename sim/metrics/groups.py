"""Running maxima and latest rows over the groups of a sorted array, in numpy: no frame, no
group-by.

The metrics walk sorted columns of a million rows (applies by key and time, reads and
acknowledged writes by session and time); a pandas ``groupby(...).cummax()`` there builds a
frame, a grouper and its own copies. Here a group's running maximum is one
``np.maximum.accumulate`` over the values lifted by their group's ordinal times the values'
span, so that no maximum reaches from one group into the next. A key's latest row (its final
version, its last time) is the last row of its group once the rows are sorted by key and time
(one ``np.lexsort``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["group_starts", "latest_by_key", "running_max"]


def group_starts(*columns: np.ndarray) -> np.ndarray:
    """Where a new group begins in rows sorted by ``columns`` (True at the first row)."""
    n = len(columns[0]) if columns else 0
    starts = np.zeros(n, dtype=bool)
    if n:
        starts[0] = True
        for column in columns:
            starts[1:] |= column[1:] != column[:-1]
    return starts


def running_max(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each of ``values`` (integers) replaced by the largest value of its group up to it,
    groups beginning where ``starts`` is True (a new array)."""
    if len(values) == 0:
        return values.astype(np.int64)
    values = values.astype(np.int64, copy=False)
    ordinal = np.cumsum(starts, dtype=np.int64)
    low, high = int(values.min()), int(values.max())
    span = high - low + 1
    if int(ordinal[-1]) * span >= 2**62:  # the lifted values would not fit in 64 bits
        frame = pd.DataFrame({"g": ordinal, "v": values})
        return frame.groupby("g", sort=False)["v"].cummax().to_numpy(np.int64)
    ordinal *= span
    lifted = values - low
    lifted += ordinal
    np.maximum.accumulate(lifted, out=lifted)
    lifted -= ordinal
    lifted += low
    return lifted


def latest_by_key(
    keys: np.ndarray, times: np.ndarray, values: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(key, value, time)`` of each distinct key's latest row, keys ascending: the row with
    the greatest time, and of rows at the same time the one that comes last (what a stable
    sort by time and a group-by's ``last`` give)."""
    keys = np.asarray(keys, dtype=np.int64)
    if len(keys) == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty.copy(), np.zeros(0, np.float64)
    order = np.lexsort((times, keys))  # stable: equal (key, time) keep their order
    ends = group_starts(keys[order])
    ends[:-1] = ends[1:]
    ends[-1] = True
    last = order[ends]
    return (
        keys[last],
        np.asarray(values, dtype=np.int64)[last],
        np.asarray(times, dtype=np.float64)[last],
    )
