"""The metrics' array helpers against plain Python: running maxima by group, each key's latest
row, (key, version) membership and positions, read-your-writes violations counted one read at
a time (whole and a slice of the keys at a time), stale reads with and without a mask,
duplicate, reordered and phantom applies, and divergent keys."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sim.metrics.reads
from sim.metrics.consistency import apply_anomalies, divergent_keys, read_your_writes_violations
from sim.metrics.groups import group_starts, latest_by_key, running_max
from sim.metrics.pairs import as_pairs, pair_positions, pairs_in

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


@pytest.fixture(scope="module")
def monkeypatch_walk():
    """Set how many requests the read-your-writes walk takes at a time (restored after)."""
    saved = sim.metrics.reads.WALK_ROWS

    def set_walk(rows: int) -> None:
        sim.metrics.reads.WALK_ROWS = rows

    yield set_walk
    sim.metrics.reads.WALK_ROWS = saved


REQUEST = st.tuples(
    st.sampled_from(["read", "write", "insert", "delete"]),
    st.integers(0, 2),  # key
    st.integers(0, 1),  # session
    st.integers(0, 8),  # start, in half seconds
    st.integers(0, 4),  # latency, in half seconds
    st.sampled_from(["ok", "ok", "error"]),
    st.integers(0, 5),  # version (a read of a row never written returns 0)
)


@given(st.lists(REQUEST, max_size=30), st.booleans(), st.sampled_from([1, 3, 2**18]))
def test_read_your_writes_violations_one_read_at_a_time(monkeypatch_walk, rows, sessions, walk):
    monkeypatch_walk(walk)
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


ROW = st.tuples(st.integers(0, 3) | WIDE, st.integers(0, 4), st.integers(-5, 5))  # key, time, value


@given(st.lists(ROW, max_size=30))
def test_latest_by_key_is_the_last_row_at_the_greatest_time(rows):
    keys = np.array([k for k, _, _ in rows], dtype=np.int64)
    times = np.array([t for _, t, _ in rows], dtype=np.float64)
    values = np.array([v for _, _, v in rows], dtype=np.int64)
    found_keys, found_values, found_times = latest_by_key(keys, times, values)
    latest: dict[int, tuple[int, int]] = {}
    for key, time, value in rows:
        if key not in latest or time >= latest[key][0]:
            latest[key] = (time, value)
    assert found_keys.tolist() == sorted(latest)
    assert found_values.tolist() == [latest[k][1] for k in sorted(latest)]
    assert found_times.tolist() == [float(latest[k][0]) for k in sorted(latest)]


@given(st.sets(PAIR, max_size=20), st.lists(PAIR, max_size=20))
def test_pair_positions_are_the_rows_of_the_pairs(wanted, asked):
    pairs = as_pairs(wanted)
    row = {tuple(pair): i for i, pair in enumerate(pairs.tolist())}
    keys = np.array([k for k, _ in asked], dtype=np.int64)
    versions = np.array([v for _, v in asked], dtype=np.int64)
    assert pair_positions(keys, versions, pairs).tolist() == [row.get(p, -1) for p in asked]


# small ranges, so that a copy applies the same version of a key again, and an older one
APPLY = st.tuples(st.integers(0, 1), st.integers(0, 1), st.integers(1, 3), st.integers(0, 4))
COMMIT = st.tuples(st.integers(0, 2), st.integers(1, 3), st.integers(0, 4))  # key, version, time


def _commits(rows):
    frame = pd.DataFrame(rows, columns=["key", "version", "time"]).astype({"time": float})
    return frame.astype({"key": np.int64, "version": np.int64})


def _applies(rows):
    frame = pd.DataFrame(rows, columns=["replica", "key", "version", "time"])
    return frame.astype({"replica": np.int32, "key": np.int64, "version": np.int64, "time": float})


@given(st.lists(COMMIT, max_size=15), st.lists(APPLY, max_size=25), st.integers(0, 4))
def test_apply_anomalies_one_apply_at_a_time(commits, applies, since):
    first_commit: dict[tuple[int, int], int] = {}
    for key, version, time in commits:
        first_commit.setdefault((key, version), time)
    ordered = sorted(enumerate(applies), key=lambda item: (item[1][0], item[1][1], item[1][3]))
    seen: set[tuple[int, int, int]] = set()
    best: dict[tuple[int, int], int] = {}
    expected = {"duplicates": 0, "reorders": 0, "phantom_writes": 0}
    for _, (replica, key, version, time) in ordered:
        stamp = first_commit.get((key, version))
        measured = (time if stamp is None else stamp) >= since
        repeat = (replica, key, version) in seen
        older = version < best.get((replica, key), version)
        seen.add((replica, key, version))
        best[(replica, key)] = max(best.get((replica, key), version), version)
        if measured:
            expected["duplicates"] += repeat
            expected["reorders"] += older and not repeat
            expected["phantom_writes"] += stamp is None and not repeat
    assert apply_anomalies(_commits(commits), _applies(applies), since) == expected


@given(st.lists(COMMIT, max_size=15), st.lists(APPLY, max_size=25), st.integers(0, 4))
def test_divergent_keys_compares_the_last_versions_in_time(commits, applies, since):
    def last(rows):  # the value of the last row at the greatest time, by key
        found: dict[int, tuple[int, int]] = {}
        for key, version, time in rows:
            if key not in found or time >= found[key][0]:
                found[key] = (time, version)
        return found

    owner = last(commits)
    copies = [last([(k, v, t) for r, k, v, t in applies if r == copy]) for copy in (0, 1)]
    expected = 0
    for key in set(owner) | {k for _, k, _, _ in applies}:
        final = owner.get(key, (None, 0))[1]
        apart = any(copy.get(key, (None, 0))[1] != final for copy in copies)
        if key in owner:
            measured = max(t for k, _, t in commits if k == key) >= since
        else:
            measured = max(t for _, k, _, t in applies if k == key) >= since
        expected += apart and measured
    found = divergent_keys(_commits(commits), _applies(applies), ["a", "b"], since)
    assert found == expected
