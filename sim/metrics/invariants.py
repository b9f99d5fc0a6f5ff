"""Each pattern's consistency promise as a named invariant, checked over one run's history.

A run's history (:class:`History`) is what the patterns record: the owner's commits, every
copy's applies, the client's requests (reads with the version they returned), and what could
still arrive at the end of the drain. An invariant is a pure function of it that returns its
violations (:class:`Violation`: the invariant, the key, the copy, when, what), so a search can
ask "did this run break it?" and a user can read the violating key's :func:`timeline`:

=========================  ===================================================================
invariant                  violated by
=========================  ===================================================================
``no-loss``                a committed version a copy never applied and can no longer receive
                           (one a newer version overwrote too, as ``lost_updates`` counts it)
``convergence``            a key whose final version at a copy differs from the owner's
``no-duplicates``          a second apply of the same (copy, key, version)
``per-key-order``          a first apply of a version older than one the copy already applied
``no-phantoms``            an apply of a version the owner never committed
``read-your-writes``       a read older than a write acknowledged before the read began
``monotonic-reads``        a read older than a read of the key answered before it began
``no-stale-reads``         a read older than the owner's last commit when the read began
``bounded-staleness(T)``   a (commit, copy) pair that took longer than ``T`` to arrive, or never
=========================  ===================================================================

The definitions are the run's metrics' (:mod:`sim.metrics.consistency`): a commit counts when
it is at or after the warm-up; a version a saga compensated is withdrawn (not lost, not
expected at the copies) and the owner's and copies' states include the versions compensations
restored (:mod:`sim.metrics.compensation`); inserts count as writes. Read-your-writes and
monotonic reads are judged per client session when the workload has ``sessions`` (Jepsen's
processes), and treat every client as one session otherwise, as the metrics do.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.metrics.consistency import final_versions, in_scope, propagation, stale_read_flags
from sim.metrics.history import History, rows, timeline

__all__ = [
    "INVARIANTS",
    "History",
    "InvariantError",
    "Violation",
    "check",
    "describe_invariants",
    "timeline",
]


@dataclass(frozen=True)
class Violation:
    """One way a run broke an invariant."""

    invariant: str
    key: int
    copy: str | None
    time: float
    """When it shows: the commit of a lost version, the apply of a duplicate, the read."""
    detail: str


class InvariantError(ValueError):
    """An invariant name that is not known."""


Check = Callable[[History], list[Violation]]


def _measured_commits(history: History) -> pd.DataFrame:
    commits = history.kept
    return commits[commits["time"] >= history.warmup]


def _no_loss(history: History) -> list[Violation]:
    found = []
    commits = _measured_commits(history)
    pending = history.pending
    for index, name in enumerate(history.replicas):
        mine = history.applies[history.applies["replica"] == index]
        reached = set(zip(mine["key"].astype(int), mine["version"].astype(int), strict=True))
        still = pending[pending["replica"] == index]
        waiting = set(zip(still["key"].astype(int), still["version"].astype(int), strict=True))
        held = _held(commits, history, index)
        for key, version, time in held[["key", "version", "time"]].itertuples(
            index=False, name=None
        ):
            pair = (int(key), int(version))
            if pair not in reached and pair not in waiting:
                found.append(
                    Violation(
                        "no-loss",
                        pair[0],
                        name,
                        float(time),
                        f"version {pair[1]} committed at {time:.6f}s never reached {name}",
                    )
                )
    return found


def _held(commits: pd.DataFrame, history: History, copy: int) -> pd.DataFrame:
    """The commits of the keys copy number ``copy`` holds (its entity's, with several)."""
    scope = None if history.scopes is None else history.scopes[copy]
    mask = in_scope(commits["key"].to_numpy(np.int64), scope)
    return commits if mask is None else commits[mask]


def _convergence(history: History) -> list[Violation]:
    if not history.replicas:
        return []
    owner, copies = history.owner_versions, history.copy_versions
    table = final_versions(owner, copies, history.replicas)
    # measured as divergent_keys does: by the key's last commit, or for a key only a phantom
    # touched, its last apply
    committed = owner.groupby("key")["time"].max()
    applied = copies.groupby("key")["time"].max()
    found = []
    keys = table.index.to_numpy(np.int64)
    for index, name in enumerate(history.replicas):
        scope = None if history.scopes is None else history.scopes[index]
        mask = in_scope(keys, scope)
        apart = table[name] != table["owner"]
        differs = table[apart if mask is None else apart & mask]
        for key, row in differs.iterrows():
            time = float(committed.get(key, applied.get(key, math.nan)))
            if not time >= history.warmup:
                continue
            found.append(
                Violation(
                    "convergence",
                    int(key),  # type: ignore[call-overload]
                    name,
                    time,
                    f"{name} ends at version {int(row[name])}, the owner at {int(row['owner'])}",
                )
            )
    return found


def _ordered_applies(history: History) -> pd.DataFrame:
    applies = history.applies.sort_values(["replica", "key", "time"], kind="stable")
    committed = history.commits.drop_duplicates(["key", "version"])[["key", "version", "time"]]
    stamped = applies.merge(
        committed.rename(columns={"time": "committed"}), on=["key", "version"], how="left"
    )
    stamped.index = applies.index
    measured = np.where(
        stamped["committed"].isna(),
        applies["time"] >= history.warmup,
        stamped["committed"] >= history.warmup,
    )
    return applies.assign(committed=stamped["committed"].to_numpy(), measured=measured)


def _apply_violations(history: History, invariant: str) -> list[Violation]:
    applies = _ordered_applies(history)
    repeat = applies.duplicated(["replica", "key", "version"]).to_numpy()
    if invariant == "no-duplicates":
        chosen, say = repeat, "applied version {v} again"
    elif invariant == "per-key-order":
        highest = applies.groupby(["replica", "key"], sort=False)["version"].cummax()
        earlier = highest.groupby([applies["replica"], applies["key"]], sort=False).shift(1)
        chosen, say = (
            (applies["version"] < earlier).to_numpy() & ~repeat,
            ("applied version {v} after a newer one"),
        )
    else:
        chosen, say = (
            applies["committed"].isna().to_numpy() & ~repeat,
            ("applied version {v}, which the owner never committed"),
        )
    picked = applies[chosen & applies["measured"].to_numpy()]
    return [
        Violation(
            invariant,
            int(key),
            history.replicas[int(replica)],
            float(time),
            say.format(v=int(version)),
        )
        for replica, key, version, time in picked[["replica", "key", "version", "time"]].itertuples(
            index=False
        )
    ]


def _reads(history: History) -> pd.DataFrame:
    requests = history.requests
    return requests[
        (requests["op"] == "read")
        & (requests["outcome"] == "ok")
        & (requests["start"] >= history.warmup)
    ]


def _session_columns(frame: pd.DataFrame) -> list[str]:
    return ["key", "session"] if "session" in frame.columns else ["key"]


def _older_than(
    reads: pd.DataFrame, events: pd.DataFrame, invariant: str, what: str
) -> list[Violation]:
    """Reads that returned less than the highest ``version`` of ``events`` (``key, at,
    version`` and ``session`` when sessions are tracked) known before the read began, in the
    read's session."""
    if reads.empty or events.empty:
        return []
    by = _session_columns(reads)
    left = pd.DataFrame(
        {
            **{column: reads[column].to_numpy(np.int64) for column in by},
            "at": reads["start"].to_numpy(float),
            "seen": reads["version"].to_numpy(np.int64),
            "service": reads["service"].to_numpy(object),
        }
    ).sort_values("at", kind="stable")
    right = events.sort_values("at", kind="stable").copy()
    right["version"] = right.groupby(by)["version"].cummax()
    merged = pd.merge_asof(left, right, on="at", by=by, direction="backward")
    bad = merged[merged["seen"] < merged["version"].fillna(0)]
    return [
        Violation(
            invariant,
            int(key),
            str(service),
            float(at),
            f"read version {int(seen)} at {service} after {what} {int(version)}",
        )
        for key, service, at, seen, version in rows(bad, "key", "service", "at", "seen", "version")
    ]


def _events(frame: pd.DataFrame, at: pd.Series) -> pd.DataFrame:
    """``key, at, version`` (and ``session``) of the requests of ``frame``."""
    columns = {column: frame[column].to_numpy(np.int64) for column in _session_columns(frame)}
    return pd.DataFrame(
        {**columns, "at": at.to_numpy(float), "version": frame["version"].to_numpy(np.int64)}
    )


def _read_your_writes(history: History) -> list[Violation]:
    requests = history.requests
    writes = requests[
        requests["op"].isin(("write", "insert"))
        & (requests["outcome"] == "ok")
        & (requests["version"] > 0)
    ]
    acked = _events(writes, writes["start"] + writes["latency"])
    return _older_than(
        _reads(history), acked, "read-your-writes", "a write acknowledged at version"
    )


def _monotonic_reads(history: History) -> list[Violation]:
    reads = _reads(history)
    answered = _events(reads, reads["start"] + reads["latency"])
    return _older_than(reads, answered, "monotonic-reads", "a read answered with version")


def _no_stale_reads(history: History) -> list[Violation]:
    reads = _reads(history)
    if reads.empty:
        return []
    flags = stale_read_flags(reads, history.owner_versions)
    stale = reads[flags]
    return [
        Violation(
            "no-stale-reads",
            int(key),
            str(service),
            float(start),
            f"read version {int(version)} at {service}, older than the owner's",
        )
        for key, service, start, version in rows(stale, "key", "service", "start", "version")
    ]


def _bounded_staleness(bound: float) -> Check:
    def check_bound(history: History) -> list[Violation]:
        spread = propagation(history.kept, history.applies, history.replicas, history.scopes)
        spread = spread[spread["commit_time"] >= history.warmup]
        delays = spread["delay"].to_numpy(float)
        late = spread[np.isnan(delays) | (delays > bound)]
        return [
            Violation(
                f"bounded-staleness({bound:g}s)",
                int(key),
                str(replica),
                float(committed),
                f"version {int(version)} reached {replica} "
                + ("never" if math.isnan(delay) else f"after {delay:.3f}s"),
            )
            for replica, key, version, committed, delay in rows(
                late, "replica", "key", "version", "commit_time", "delay"
            )
        ]

    return check_bound


INVARIANTS: dict[str, tuple[Check, str]] = {
    "no-loss": (_no_loss, "every committed version reaches every copy"),
    "convergence": (_convergence, "every copy ends at the owner's version"),
    "no-duplicates": (
        lambda h: _apply_violations(h, "no-duplicates"),
        "no copy applies a version twice",
    ),
    "per-key-order": (
        lambda h: _apply_violations(h, "per-key-order"),
        "no copy applies an older version after a newer one",
    ),
    "no-phantoms": (
        lambda h: _apply_violations(h, "no-phantoms"),
        "no copy applies a version the owner never committed",
    ),
    "read-your-writes": (_read_your_writes, "a read sees every write acknowledged before it"),
    "monotonic-reads": (_monotonic_reads, "a read never sees less than an earlier read did"),
    "no-stale-reads": (_no_stale_reads, "a read sees the owner's last commit"),
}
_BOUNDED = re.compile(r"bounded-staleness\((?P<bound>[^)]+)\)")


def resolve(name: str) -> Check:
    """The check called ``name`` (``bounded-staleness(5s)`` takes its bound)."""
    from sim.kernel.units import UnitError, parse_duration

    found = INVARIANTS.get(name)
    if found is not None:
        return found[0]
    match = _BOUNDED.fullmatch(name)
    if match is not None:
        try:
            return _bounded_staleness(parse_duration(match["bound"]))
        except UnitError as error:
            raise InvariantError(f"{name}: {error}") from None
    known = ", ".join([*INVARIANTS, "bounded-staleness(T)"])
    raise InvariantError(f"no invariant called {name!r} (known: {known})")


def check(name: str, history: History) -> list[Violation]:
    """The violations of invariant ``name`` in ``history``."""
    return resolve(name)(history)


def describe_invariants() -> list[tuple[str, str]]:
    """``(name, what it promises)`` for every invariant."""
    return [(name, text) for name, (_check, text) in INVARIANTS.items()] + [
        ("bounded-staleness(T)", "every committed version reaches every copy within T")
    ]
