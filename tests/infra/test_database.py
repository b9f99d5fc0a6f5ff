"""A database: pool limits and wait timeouts, row locks and versions, MVCC reads, crashes.

Times are whole multiples of a binary fraction of a second, so sums are exact.
"""

from __future__ import annotations

import math
from typing import Any

from sim.config.sections import DatabaseProfile
from sim.infra.database import Database
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext

TICK = 1 / 64


def constant(seconds: float) -> dict[str, Any]:
    return {"dist": "constant", "value": seconds}


class Harness:
    """A database and a log of answers ``(label, outcome, value, time)`` in callback order."""

    def __init__(
        self, pool: int = 2, read: float = TICK, write: float = 3 * TICK, timeout: float = 0.5
    ) -> None:
        self.ctx = SimContext.create(1)
        self.db = Database(
            self.ctx,
            "orders",
            DatabaseProfile(
                pool=pool,
                read_time=constant(read),
                write_time=constant(write),
                connection_timeout=timeout,
            ),
        )
        self.answers: list[tuple[str, int, Any, float]] = []
        self.peak_in_use = 0

    def _done(self, label: str):
        def done(outcome: int, value: Any) -> None:
            self.answers.append((label, outcome, value, self.ctx.now))

        return done

    def read(self, label: str, key: int) -> None:
        self.db.read(key, self._done(label))

    def write(self, label: str, key: int, version: int | None = None) -> None:
        self.db.write(key, self._done(label), version=version)

    def at(self, time: float, action: Any) -> None:
        self.ctx.env.timeout(time - self.ctx.now).callbacks.append(lambda _e: action())

    def run(self) -> None:
        """Run to the end, noting the most connections ever in use."""
        while self.ctx.env.peek() < math.inf:
            self.ctx.env.step()
            self.peak_in_use = max(self.peak_in_use, self.db.in_use)
            assert 0 <= self.db.in_use <= self.db.profile.pool

    def answer(self, label: str) -> tuple[int, Any, float]:
        found = [a[1:] for a in self.answers if a[0] == label]
        assert len(found) == 1, f"{label} answered {len(found)} times"
        return found[0]


# -- pool --------------------------------------------------------------------------------------


def test_pool_limits_concurrent_queries() -> None:
    h = Harness(pool=2, read=TICK)
    for i in range(5):
        h.read(f"r{i}", key=i)
    assert h.db.in_use == 2
    h.run()
    assert [h.answer(f"r{i}")[2] for i in range(5)] == [TICK, TICK, 2 * TICK, 2 * TICK, 3 * TICK]
    assert h.peak_in_use == 2
    assert h.db.in_use == 0


def test_waiter_gives_up_after_the_connection_timeout() -> None:
    h = Harness(pool=1, write=1.0, timeout=0.5)
    h.write("holder", key=1)
    h.read("waiter", key=2)
    h.at(0.25, lambda: h.read("late waiter", key=3))
    h.run()
    assert h.answer("waiter") == (ERROR, "pool timeout", 0.5)
    assert h.answer("late waiter") == (ERROR, "pool timeout", 0.75)
    assert h.answer("holder") == (OK, 1, 1.0)
    assert h.db.in_use == 0


def test_waiter_served_in_time_is_not_failed_by_its_old_timer() -> None:
    h = Harness(pool=1, read=0.25, write=0.25, timeout=0.5)
    h.write("holder", key=1)
    h.read("waiter", key=1)  # connected at 0.25, answered at 0.5: the timer at 0.5 is moot
    h.run()
    assert h.answer("waiter") == (OK, 1, 0.5)


def test_waiters_get_connections_in_arrival_order() -> None:
    h = Harness(pool=1, read=TICK, timeout=10.0)
    for i in range(4):
        h.read(f"r{i}", key=0)
    h.run()
    assert [label for label, *_ in h.answers] == ["r0", "r1", "r2", "r3"]


# -- locks and versions ------------------------------------------------------------------------


def test_writes_to_one_key_serialise_and_number_versions_in_commit_order() -> None:
    h = Harness(pool=3, write=3 * TICK)
    for name in ("a", "b", "c"):
        h.write(name, key=7)
    h.run()
    assert [h.answer(name) for name in ("a", "b", "c")] == [
        (OK, 1, 3 * TICK),
        (OK, 2, 6 * TICK),
        (OK, 3, 9 * TICK),
    ]
    assert h.db.version(7) == 3


def test_writes_to_different_keys_run_in_parallel() -> None:
    h = Harness(pool=3, write=3 * TICK)
    for key in (1, 2, 3):
        h.write(f"k{key}", key=key)
    h.run()
    assert [h.answer(f"k{key}") for key in (1, 2, 3)] == [(OK, 1, 3 * TICK)] * 3


def test_a_write_waiting_for_a_lock_keeps_its_connection() -> None:
    h = Harness(pool=2, read=TICK, write=4 * TICK)
    h.write("a", key=7)
    h.write("b", key=7)  # holds the second connection while it waits for a's lock
    h.read("r", key=9)
    h.run()
    assert h.answer("r") == (OK, 0, 4 * TICK + TICK)


def test_reads_return_the_last_committed_version_without_waiting_for_locks() -> None:
    h = Harness(pool=4, read=TICK, write=4 * TICK)
    h.write("w1", key=7)
    h.write("w2", key=7)
    h.read("during w1", key=7)
    h.at(5 * TICK, lambda: h.read("during w2", key=7))
    h.at(9 * TICK, lambda: h.read("after w2", key=7))
    h.read("never written", key=8)
    h.run()
    assert h.answer("during w1") == (OK, 0, TICK)
    assert h.answer("during w2") == (OK, 1, 6 * TICK)  # w2 still holds the lock until 8
    assert h.answer("after w2") == (OK, 2, 10 * TICK)
    assert h.answer("never written") == (OK, 0, TICK)


def test_instant_reads_answer_at_once_with_the_committed_version() -> None:
    h = Harness(pool=1, read=0.0, write=TICK)
    h.read("before", key=1)
    assert h.answers == [("before", OK, 0, 0.0)]
    h.write("w", key=1)
    h.run()
    h.read("after", key=1)
    assert h.answer("after") == (OK, 1, TICK)


def test_given_version_is_stored_exactly() -> None:
    h = Harness(pool=2, write=TICK)
    h.write("apply", key=5, version=42)
    h.run()
    assert h.answer("apply") == (OK, 42, TICK)
    assert h.db.version(5) == 42
    h.write("owner", key=5)
    h.run()
    assert h.answer("owner")[:2] == (OK, 43)
    h.write("old copy", key=5, version=3)
    h.run()
    assert h.db.version(5) == 3  # a copy stores what it is given, even an older version


def test_a_conditional_write_decides_its_version_from_the_row_at_the_commit() -> None:
    # two conditional writes queue on the row lock: each sees the version the one before it
    # committed, not the one the row held when it was sent
    h = Harness(pool=2, write=TICK)
    seen: list[int] = []

    def keep_the_larger(offered: int):
        def decide(current: int) -> int:
            seen.append(current)
            return max(current, offered)

        return decide

    h.db.write(5, h._done("nine"), version=keep_the_larger(9))
    h.db.write(5, h._done("four"), version=keep_the_larger(4))
    h.run()
    assert seen == [0, 9]
    assert h.answer("four") == (OK, 9, 2 * TICK)
    assert h.db.version(5) == 9


def test_answers_follow_commit_order_when_instant_queries_wait_for_connections() -> None:
    # Two instant writes wait for connections held by reads; when a read ends, both commit at
    # that same instant. Callers must hear of version 1 before version 2, and a read's answer
    # must be the version whose commit was announced last before it.
    h = Harness(pool=2, read=TICK, write=0.0)
    h.read("r1", key=1)
    h.read("r2", key=1)
    h.write("w1", key=1)
    h.write("w2", key=1)
    h.run()
    announced = 0
    for label, outcome, value, _ in h.answers:
        assert outcome == OK
        if label.startswith("w"):
            assert value == announced + 1, f"{label} committed {value} after {announced}"
            announced = value
        else:
            assert value == announced, f"{label} read {value} when {announced} was announced"
    assert announced == 2


def test_a_read_answered_at_once_does_not_overtake_the_write_that_freed_it() -> None:
    h = Harness(pool=1, read=0.0, write=TICK)
    h.write("w", key=1)
    h.read("r", key=1)  # waits for the write's connection, then takes no time
    h.run()
    assert [(label, value) for label, _, value, _ in h.answers] == [("w", 1), ("r", 1)]


def test_a_long_queue_of_instant_queries_drains_completely() -> None:
    h = Harness(pool=1, read=0.0, write=TICK, timeout=10.0)
    h.write("holder", key=1)
    for i in range(3000):
        h.read(f"r{i}", key=2)
    h.run()
    assert len(h.answers) == 3001
    assert all(outcome == OK for _, outcome, _, _ in h.answers)


# -- crash -------------------------------------------------------------------------------------


def test_crash_fails_in_flight_and_waiting_queries_and_keeps_the_rows() -> None:
    h = Harness(pool=2, read=TICK, write=0.25, timeout=10.0)
    h.write("committed", key=1)
    h.run()
    h.at(1.0, lambda: h.write("in flight", key=1))
    h.at(1.0, lambda: h.write("lock waiter", key=1))
    h.at(1.0, lambda: h.read("pool waiter", key=2))
    h.at(1.125, h.db.crash)
    h.at(1.1875, lambda: h.read("while down", key=1))
    h.at(1.5, h.db.restart)
    h.at(1.5, lambda: h.write("after restart", key=1))
    h.run()
    assert h.answer("committed") == (OK, 1, 0.25)
    for label in ("in flight", "lock waiter", "pool waiter"):
        assert h.answer(label) == (ERROR, "crashed", 1.125)
    assert h.answer("while down") == (ERROR, "refused", 1.1875)
    # the in-flight write never commits, not even when its timer fires at 1.25
    assert h.answer("after restart") == (OK, 2, 1.75)
    assert h.db.version(1) == 2
    assert h.db.in_use == 0


def test_restart_gives_back_the_whole_pool() -> None:
    h = Harness(pool=2, read=0.25, timeout=10.0)
    h.read("a", key=1)
    h.read("b", key=1)
    h.at(0.125, h.db.crash)
    h.at(0.125, h.db.restart)
    h.at(0.125, lambda: h.read("c", key=1))
    h.at(0.125, lambda: h.read("d", key=1))
    h.at(0.125, lambda: h.read("e", key=1))
    h.run()
    assert h.peak_in_use == 2
    assert [h.answer(x)[2] for x in "cde"] == [0.375, 0.375, 0.625]


def test_error_fault_fails_about_p_of_queries_fast() -> None:
    n, probability = 20_000, 0.25
    h = Harness(pool=1, read=0.0)
    h.db.add_error(probability)
    for _ in range(n):
        h.read("q", key=1)
    assert len(h.answers) == n  # all answered at time 0
    errors = sum(1 for _, outcome, value, _ in h.answers if (outcome, value) == (ERROR, "injected"))
    assert abs(errors - n * probability) < 5 * math.sqrt(n * probability * (1 - probability))


def test_latency_fault_lengthens_every_query() -> None:
    h = Harness(pool=2, read=TICK, write=TICK)
    h.db.add_delay(lambda: 2 * TICK)
    h.read("r", key=1)
    h.write("w", key=1)
    h.run()
    assert h.answer("r") == (OK, 0, 3 * TICK)
    assert h.answer("w") == (OK, 1, 3 * TICK)
