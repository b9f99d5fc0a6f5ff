"""The database against a dict model, driven by random owner writes, applies, reads, time and crashes.

The model is the committed version of each key, updated from the write answers. It checks that
owner writes number each key 1, 2, 3, ... in the order callers hear of them, that a read
answers what was committed at that moment, that every query is answered exactly once (and
eventually), and that the pool is never over-used or leaked.

Times are whole multiples of a binary fraction of a second, so simultaneous events are exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from sim.config.sections import DatabaseProfile
from sim.infra.database import Database
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext

TICK = 1 / 64
KEYS = st.integers(0, 2)


@dataclass
class Query:
    kind: str  # "owner", "apply" or "read"
    key: int
    version: int | None
    submitted: float
    answers: int = 0


class DatabaseMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ctx = SimContext.create(0)
        self.db: Database | None = None
        self.timeout = 0.0
        self.committed: dict[int, int] = {}
        self.owner_versions: dict[int, list[int]] = {}
        self.applied: set[int] = set()
        self.queries: list[Query] = []
        self.crashing = False
        self.violations: list[str] = []

    # -- set-up ------------------------------------------------------------------------------
    @initialize(
        seed=st.integers(0, 5),
        pool=st.integers(1, 2),  # small pools, so queries contend for connections
        read_ticks=st.sampled_from([0, 2]),  # zero: reads answer without holding a connection
        write_ticks=st.sampled_from([0, 3]),
        write_family=st.sampled_from(["constant", "exponential"]),
        timeout_ticks=st.sampled_from([4, 16]),
    )
    def build(
        self,
        seed: int,
        pool: int,
        read_ticks: int,
        write_ticks: int,
        write_family: str,
        timeout_ticks: int,
    ) -> None:
        self.ctx = SimContext.create(seed)
        write = (
            {"dist": "constant", "value": write_ticks * TICK}
            if write_family == "constant"
            else {"dist": "exponential", "mean": write_ticks * TICK}
        )
        self.timeout = timeout_ticks * TICK
        self.db = Database(
            self.ctx,
            "orders",
            DatabaseProfile(
                pool=pool,
                read_time={"dist": "constant", "value": read_ticks * TICK},
                write_time=write,
                connection_timeout=self.timeout,
            ),
        )

    # -- the model's view of an answer ------------------------------------------------------
    def _answer(self, query: Query, outcome: int, value: Any) -> None:
        """Check one answer against the model; a violation is noted, not raised, so that the
        database's own processing is never cut short by the test."""
        query.answers += 1
        problem = self._problem(query, outcome, value)
        if problem is not None:
            self.violations.append(f"at t={self.ctx.now}: {problem}")

    def _problem(self, query: Query, outcome: int, value: Any) -> str | None:
        now = self.ctx.now
        if query.answers > 1:
            return f"{query} answered again with {(outcome, value)}"
        if outcome == ERROR:
            if value not in ("refused", "crashed", "pool timeout"):
                return f"{query} failed for an unknown reason {value!r}"
            if value == "crashed" and not self.crashing:
                return f"{query} failed as crashed outside a crash"
            if value == "pool timeout" and now != query.submitted + self.timeout:
                return f"{query} timed out waiting for a connection at {now}"
            return None
        if outcome != OK:
            return f"{query} got outcome {outcome}"
        committed = self.committed.get(query.key, 0)
        if query.kind == "read":
            if value != committed:
                return f"read of key {query.key} answered {value}, committed is {committed}"
            return None
        expected = committed + 1 if query.kind == "owner" else query.version
        if value != expected:
            return f"{query.kind} write of key {query.key} committed {value}, expected {expected}"
        if query.kind == "owner":
            self.owner_versions.setdefault(query.key, []).append(value)
        self.committed[query.key] = value
        return None

    def _submit(self, kind: str, key: int, version: int | None = None) -> None:
        assert self.db is not None
        query = Query(kind, key, version, self.ctx.now)
        self.queries.append(query)
        was_up = self.db.up

        def done(outcome: int, value: Any) -> None:
            self._answer(query, outcome, value)

        if kind == "read":
            self.db.read(key, done)
        else:
            self.db.write(key, done, version=version)
        if not was_up:
            assert query.answers == 1, "a query to a database that is down must be refused at once"

    def _step_until(self, target: float) -> None:
        assert self.db is not None
        env = self.ctx.env
        while env.peek() < math.inf and env.peek() <= target:
            env.step()
            assert 0 <= self.db.in_use <= self.db.profile.pool

    # -- rules -------------------------------------------------------------------------------
    @rule(key=KEYS)
    def owner_write(self, key: int) -> None:
        self._submit("owner", key)

    @rule(key=KEYS, version=st.integers(1, 20))
    def apply(self, key: int, version: int) -> None:
        self.applied.add(key)
        self._submit("apply", key, version)

    @rule(key=KEYS)
    def read(self, key: int) -> None:
        self._submit("read", key)

    @rule(ticks=st.integers(0, 10))
    def advance(self, ticks: int) -> None:
        target = self.ctx.now + ticks * TICK
        if target > self.ctx.now:
            self.ctx.env.timeout(target - self.ctx.now)  # so the clock reaches the target
        self._step_until(target)

    @rule()
    def crash(self) -> None:
        assert self.db is not None
        self.crashing = True
        try:
            self.db.crash()
        finally:
            self.crashing = False

    @rule()
    def restart(self) -> None:
        assert self.db is not None
        self.db.restart()

    @rule()
    def settle(self) -> None:
        """Let time pass beyond every timeout: every query has its answer."""
        self._step_until(math.inf)
        unanswered = [q for q in self.queries if q.answers == 0]
        assert not unanswered, f"never answered: {unanswered}"
        assert self.db is not None
        assert self.db.in_use == 0, "connections leaked"

    # -- invariants --------------------------------------------------------------------------
    @invariant()
    def every_answer_agreed_with_the_model(self) -> None:
        assert not self.violations, self.violations[0]

    @invariant()
    def pool_is_within_bounds_and_held_only_by_live_queries(self) -> None:
        if self.db is None:
            return
        live = sum(1 for q in self.queries if q.answers == 0)
        assert 0 <= self.db.in_use <= min(self.db.profile.pool, live)

    @invariant()
    def rows_are_the_committed_versions(self) -> None:
        if self.db is None:
            return
        for key in range(3):
            assert self.db.version(key) == self.committed.get(key, 0)

    @invariant()
    def owner_keys_have_versions_one_to_n(self) -> None:
        for key, versions in self.owner_versions.items():
            if key not in self.applied:
                assert versions == list(range(1, len(versions) + 1))

    def teardown(self) -> None:
        if self.db is not None:
            self.settle()


DatabaseMachine.TestCase.settings = settings(
    DatabaseMachine.TestCase.settings,
    deadline=None,
    stateful_step_count=80,
    report_multiple_bugs=False,
)
TestDatabaseAgainstModel = DatabaseMachine.TestCase
