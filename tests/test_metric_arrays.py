"""The metrics' array helpers against plain Python: running maxima by group, (key, version)
membership, and read-your-writes violations counted one read at a time."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given
from hypothesis import strategies as st

from sim.metrics.consistency import read_your_writes_violations
from sim.metrics.groups import group_starts, running_max
from sim.metrics.pairs import as_pairs, pairs_in

WIDE = st.integers(-(2**62), 2**62)


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-5, 5) | WIDE), max_size=40))
def test_running_max_restarts_at_every_group(rows):
    rows.sort(key=lambda row: row[0])  # grouped; values in any order within a group
    groups = np.array([g for g, _ in rows], dtype=np.int64)
    values = np.array([v for _, v in rows], dtype=np.int64)
    expected, best, previous = [], None, None
    for g, v in rows:
        best = v if g != previous else max(best, v)
        previous = g
        expected.append(best)
    assert running_max(values, group_starts(groups)).tolist() == expected


PAIR = st.tuples(st.integers(-3, 3) | WIDE, st.integers(-3, 3) | WIDE)


@given(st.sets(PAIR, max_size=20), st.lists(PAIR, max_size=20))
def test_pairs_in_is_set_membership(wanted, asked):
    keys = np.array([k for k, _ in asked], dtype=np.int64)
    versions = np.array([v for _, v in asked], dtype=np.int64)
    found = pairs_in(keys, versions, as_pairs(wanted))
    assert found.tolist() == [pair in wanted for pair in asked]
    assert [tuple(row) for row in as_pairs(wanted).tolist()] == sorted(wanted)


REQUEST = st.tuples(
    st.sampled_from(["read", "write", "insert", "delete"]),
    st.integers(0, 2),  # key
    st.integers(0, 1),  # session
    st.integers(0, 8),  # start, in half seconds
    st.integers(0, 4),  # latency, in half seconds
    st.sampled_from(["ok", "ok", "error"]),
    st.integers(0, 5),  # version (a read of a row never written returns 0)
)


@given(st.lists(REQUEST, max_size=30), st.booleans())
def test_read_your_writes_violations_one_read_at_a_time(rows, sessions):
    columns = ["op", "key", "session", "start", "latency", "outcome", "version"]
    frame = pd.DataFrame(rows, columns=columns).astype({"start": float, "latency": float})
    frame[["start", "latency"]] /= 2
    if not sessions:
        frame = frame.drop(columns="session")
    expected = 0
    for read in frame.itertuples():
        if read.op != "read" or read.outcome != "ok":
            continue
        acked = [
            write.version
            for write in frame.itertuples()
            if write.op in ("write", "insert")
            and write.outcome == "ok"
            and write.version > 0
            and write.key == read.key
            and (not sessions or write.session == read.session)
            and write.start + write.latency <= read.start
        ]
        expected += read.version < max(acked, default=0)
    assert read_your_writes_violations(frame) == expected


EVENT = st.tuples(st.integers(0, 3), st.integers(0, 8), st.integers(0, 5))  # key, time, version


@given(st.lists(EVENT, max_size=25), st.lists(EVENT, max_size=25))
def test_a_read_is_stale_below_the_last_commit_of_its_key_at_its_start(commits, reads):
    from sim.metrics.consistency import stale_read_flags

    owner = pd.DataFrame(commits, columns=["key", "time", "version"]).astype({"time": float})
    asked = pd.DataFrame(reads, columns=["key", "start", "version"]).astype({"start": float})
    expected = []
    for key, start, seen in reads:
        before = [(time, i) for i, (k, time, _) in enumerate(commits) if k == key and time <= start]
        committed = commits[max(before)[1]][2] if before else 0  # the last at the latest time
        expected.append(seen < committed)
    assert stale_read_flags(asked, owner).tolist() == expected
