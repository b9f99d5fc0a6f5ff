"""What the clients' reads returned, against the writes: stale reads and read-your-writes.

* :func:`stale_read_flags` — a read is stale when it returned an older version of its key than
  the owner's last commit of the key at or before the read began;
* :func:`read_your_writes_violations` — a successful read that returned an older version than
  a write already acknowledged to the same client session before the read began.

Both are sorted searches and walks over numpy columns of the request frame, taken through a
mask (no copy of the frame); the read-your-writes walk goes a slice of the keys at a time
(:data:`WALK_ROWS`), so its temporaries stay a few MiB at any number of requests. Left out:
monotonic reads and the other session guarantees (checked, with the located violations, by
:mod:`sim.metrics.invariants`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.metrics.groups import group_starts, running_max

__all__ = ["WALK_ROWS", "read_your_writes_violations", "stale_read_flags"]

WALK_ROWS = 2**18
"""About how many requests :func:`read_your_writes_violations` walks at a time."""


def stale_read_flags(
    reads: pd.DataFrame, commits: pd.DataFrame, among: np.ndarray | None = None
) -> np.ndarray:
    """For each read (``key, start, version``): did it return less than the owner had committed?
    ``among``, a boolean mask, takes only those rows as the reads (no copy of the frame)."""

    def column(name: str, dtype: type) -> np.ndarray:
        values = reads[name].to_numpy(dtype)
        return values if among is None else values[among]

    seen = column("version", np.int64)
    if len(seen) == 0:
        return np.zeros(0, dtype=bool)
    if len(commits) == 0:  # nothing committed: a read is stale only below version 0
        return seen < 0
    # the owner's commits by key, then time (ties in commit order); a read finds the last
    # commit of its key at or before its start: both sides folded into one sorted integer
    # (the key's ordinal, then the time's rank among the commit times)
    c_keys = commits["key"].to_numpy(np.int64)
    c_times = commits["time"].to_numpy(float)
    order = np.lexsort((c_times, c_keys))
    c_keys, c_times = c_keys[order], c_times[order]
    c_versions = commits["version"].to_numpy(np.int64)[order]
    del order
    first = group_starts(c_keys)
    keys = c_keys[first]
    folded = np.cumsum(first, dtype=np.int64)  # the key's ordinal, from 1
    del first
    times = np.unique(c_times)
    span = len(times) + 1
    folded -= 1
    folded *= span
    folded += np.searchsorted(times, c_times)
    del c_times
    r_keys = column("key", np.int64)
    asked = np.searchsorted(keys, r_keys)
    np.minimum(asked, len(keys) - 1, out=asked)
    asked *= span
    rank = np.searchsorted(times, column("start", float), side="right")
    rank -= 1
    asked += rank
    del rank
    last = np.searchsorted(folded, asked, side="right")
    del asked, folded
    last -= 1
    found = last >= 0
    np.maximum(last, 0, out=last)
    found &= c_keys[last] == r_keys
    del r_keys
    committed = np.where(found, c_versions[last], 0)
    return seen < committed


def read_your_writes_violations(requests: pd.DataFrame, among: np.ndarray | None = None) -> int:
    """Successful reads that returned an older version of a key than a write already
    acknowledged to the same client session before the read began (with a ``session``
    column; without one, every client is treated as one session). ``among``, a boolean mask,
    keeps only those rows (the measured ones) without copying the frame."""
    ok = (requests["outcome"] == "ok").to_numpy(bool)
    if among is not None:
        ok = ok & among
    op = requests["op"]
    written = ok & (op.isin(("write", "insert")) & (requests["version"] > 0)).to_numpy(bool)
    read = ok & (op == "read").to_numpy(bool)
    if not written.any() or not read.any():
        return 0
    # one sorted walk over the writes (at their acknowledgement) and the reads (at their
    # start), by session and key, a slice of the keys at a time (a key's reads and writes all
    # fall in one slice) so that the walk's temporaries stay a few MiB
    measured = written | read
    del written
    slices = max(1, -(-int(measured.sum()) // WALK_ROWS))
    if slices == 1:
        return _violations(requests, np.flatnonzero(measured), read)
    part = (requests["key"].to_numpy(np.int64) % slices).astype(np.int32)
    return sum(
        _violations(requests, np.flatnonzero(measured & (part == index)), read)
        for index in range(slices)
    )


def _violations(requests: pd.DataFrame, rows: np.ndarray, read: np.ndarray) -> int:
    """The read-your-writes violations among ``rows`` (the measured reads and writes of a set
    of whole keys): a read sees the largest version acknowledged to its session before it."""
    is_read = read[rows]
    at = requests["start"].to_numpy(float)[rows]
    acked = ~is_read  # a write counts from its acknowledgement
    at[acked] += requests["latency"].to_numpy(float)[rows[acked]]
    del acked
    by = _session_keys(requests, rows)
    # an acknowledgement at the instant a read begins comes before it
    order = np.lexsort((is_read, at, *reversed(by)))
    del at
    starts = group_starts(*(column[order] for column in by))
    del by
    rows = rows[order]
    is_read = is_read[order]
    del order
    seen = requests["version"].to_numpy(np.int64)[rows]
    del rows
    acked = np.where(is_read, 0, seen)  # 0: nothing acknowledged yet
    acked = running_max(acked, starts)
    return int((is_read & (seen < acked)).sum())


def _session_keys(requests: pd.DataFrame, rows: np.ndarray) -> list[np.ndarray]:
    """The (session, key) of ``rows`` to group by: one int64 a row when both fit in one, else
    the session and the key (just the key without sessions)."""
    keys = requests["key"].to_numpy(np.int64)[rows]
    if "session" not in requests.columns or len(keys) == 0:
        return [keys]
    sessions = requests["session"].to_numpy(np.int64)[rows]
    low_k, low_s = int(keys.min()), int(sessions.min())
    span = int(keys.max()) - low_k + 1
    if (int(sessions.max()) - low_s + 1) * span >= 2**62:
        return [sessions, keys]
    sessions -= low_s
    sessions *= span
    sessions += keys
    sessions -= low_k
    return [sessions]
