"""The JDBC source poller against a database: which rows each mode selects, the missed-row
window of out-of-order commits, invisible deletes, collapsed updates, the cost of its queries,
the offsets a crash resumes from, stalls and failed queries.

Times are whole multiples of a binary fraction of a second, so sums are exact. Every query
takes TICK plus TICK per row read, and the timestamp modes first ask the database for its time
(TICK). The first poll runs at 0; each next one starts an interval after the last one ended:
at 1 + TICK, ... in bulk and incrementing modes, at 1 + 2 TICK, ... in the timestamp modes.
"""

from __future__ import annotations

from typing import Any

import pytest

from sim.config.sections import DatabaseProfile
from sim.connectors.jdbc import JdbcSourcePoller
from sim.infra.database import Database
from sim.kernel.context import SimContext

TICK = 1 / 64


class Harness:
    """A database whose writes take TICK (unless made slower), a poller, what it published."""

    def __init__(self, mode: str, pool: int = 4, **settings: Any) -> None:
        self.ctx = SimContext.create(1)
        self.db = Database(
            self.ctx,
            "users",
            DatabaseProfile(
                pool=pool,
                read_time={"dist": "constant", "value": TICK},
                write_time={"dist": "constant", "value": TICK},
            ),
        )
        self._extra: list[float] = []
        self.db.add_delay(lambda: self._extra.pop() if self._extra else 0.0)
        self.published: list[tuple[float, int, int]] = []
        self.ack_delay = 0.0
        self.commits: dict[int, float] = {}
        options = {"poll_interval": 1.0, "row_time": TICK, **settings}
        self.poller = JdbcSourcePoller(
            self.ctx, "users", self.db, self._publish, mode=mode, **options
        )

    def _publish(self, key: int, version: int, acked: Any) -> None:
        self.published.append((self.ctx.env.now, key, version))
        if self.ack_delay:
            self.ctx.env.timeout(self.ack_delay).callbacks.append(lambda _e: acked(True))
        else:
            acked(True)

    def at(self, time: float, action: Any) -> None:
        self.ctx.env.timeout(time).callbacks.append(lambda _e: action())

    def write(self, time: float, key: int, lasting: float = TICK, delete: bool = False) -> None:
        """A transaction on ``key`` that begins at ``time`` and commits at ``time + lasting``."""

        def go() -> None:
            if lasting > TICK:
                self._extra.append(lasting - TICK)
            self.db.write(
                key, lambda _o, _v: self.commits.__setitem__(key, self.ctx.now), None, delete
            )

        self.at(time, go)

    def run(self, until: float) -> list[tuple[int, int]]:
        self.poller.start()
        self.ctx.env.run(until=until)
        return [(key, version) for _, key, version in self.published]


def _out_of_order(h: Harness) -> None:
    # key 1's transaction begins at 0.5 and commits at 1.5; key 2's begins at 0.75 and commits
    # at once. The poll at 1 + TICK (1 + 2 TICK in the timestamp modes) sees key 2 only.
    h.write(0.5, 1, lasting=1.0)
    h.write(0.75, 2)


@pytest.mark.parametrize("mode", ["timestamp", "timestamp+incrementing", "incrementing"])
def test_a_row_committed_after_a_later_stamped_row_was_read_is_skipped_forever(mode):
    h = Harness(mode)
    _out_of_order(h)
    assert h.run(until=10) == [(2, 1)]
    assert h.commits[1] == 1.5
    assert h.poller.position.ts == 0.75  # past key 1's stamp, 0.5


def test_a_timestamp_delay_longer_than_the_transaction_waits_for_it_and_delays_every_row():
    h = Harness("timestamp", timestamp_delay=0.75)
    _out_of_order(h)
    assert h.run(until=10) == [(1, 1), (2, 1)]
    # the poll at 1 + 2 TICK leaves out rows stamped after 0.25 + 3 TICK (its database time
    # less the delay) and reads none; by the next one, at 2 + 4 TICK, key 1 has committed:
    # database time TICK, then the query TICK + 2 rows
    assert [time for time, _, _ in h.published] == [2 + 8 * TICK, 2 + 8 * TICK]


def test_bulk_reads_the_whole_table_every_poll_so_it_misses_nothing_but_repeats_everything():
    h = Harness("bulk")
    _out_of_order(h)
    # the poll at 1 + TICK reads key 2; the one at 2 + 3 TICK both rows, in id order (an insert
    # takes its id when its transaction begins, so key 1 has the lower one)
    assert h.run(until=2.5) == [(2, 1), (1, 1), (2, 1)]


def test_incrementing_mode_sees_new_rows_only():
    h = Harness("incrementing")
    h.write(0.25, 1)
    h.write(0.5, 2)
    h.write(1.5, 1)  # an update: key 1 keeps its id
    h.write(2.5, 3)
    assert h.run(until=10) == [(1, 1), (2, 1), (3, 1)]
    assert h.poller.position.row_id == 3


def test_deletes_are_invisible_and_updates_between_two_polls_collapse():
    h = Harness("timestamp")
    for time in (0.25, 0.375, 0.5):
        h.write(time, 1)  # versions 1, 2, 3 of key 1 before the poll at 1 + 2 TICK
    h.write(0.5, 2)
    h.write(1.5, 2, delete=True)  # version 2 of key 2: a tombstone no query can see
    assert h.run(until=10) == [(1, 3), (2, 1)]
    assert h.db.version(2) == 2


def test_bulk_stops_reporting_a_deleted_row_without_reporting_its_deletion():
    h = Harness("bulk")
    h.write(0.25, 1)
    h.write(0.25, 2)
    h.write(1.5, 1, delete=True)
    assert h.run(until=3.0) == [(1, 1), (2, 1), (2, 1)]  # polls at 1 + TICK and 2 + 4 TICK


def test_each_query_costs_the_read_time_plus_the_row_time_of_every_row_read():
    h = Harness("bulk", batch_max_rows=2)
    for key in range(5):
        h.write(0.25, key)
    h.run(until=1.5)
    # poll at 0 (empty table): TICK; poll at 1 + TICK: TICK + 5 rows, fetched 2, 2 and 1 at a time
    assert h.poller.polls == 2
    assert h.poller.busy_time == 2 * TICK + 5 * TICK
    start = 1 + TICK
    times = [time for time, _, _ in h.published]
    assert times == [start + 3 * TICK] * 2 + [start + 5 * TICK] * 2 + [start + 6 * TICK]


def test_a_long_poll_holds_a_connection_that_requests_wait_for():
    h = Harness("bulk", pool=1, row_time=0.25)
    for key in range(4):
        h.write(0.25, key)  # with one connection these commit one after another
    h.write(1.25, 9)  # arrives while the poll at 1 + TICK reads 4 rows for 1 s
    h.run(until=3)
    assert h.commits[9] == 1 + TICK + TICK + 4 * 0.25 + TICK


def test_a_crash_resumes_from_the_last_flushed_offset_and_publishes_again():
    h = Harness("timestamp+incrementing", offset_flush_interval=2.0)
    for key in (1, 2, 3):
        h.write(0.25, key)
    h.write(2.5, 4)
    h.at(3.5, h.poller.crash)
    h.at(3.75, h.poller.restart)
    published = h.run(until=10)
    # flushed at 2.0: past key 3; key 4 was read at 3 + ..., then the crash lost that position
    assert published == [(1, 1), (2, 1), (3, 1), (4, 1), (4, 1)]
    assert h.poller.flushed.row_id == 4  # flushed by the restarted task, 2 s after its start


def test_a_crash_before_the_first_flush_reads_everything_again():
    h = Harness("timestamp", offset_flush_interval=60.0)
    h.write(0.25, 1)
    h.at(1.5, h.poller.crash)
    h.at(2.0, h.poller.restart)
    assert h.run(until=5) == [(1, 1), (1, 1)]


def test_only_acknowledged_records_are_committable():
    h = Harness("timestamp", offset_flush_interval=1.5)
    h.ack_delay = 1.0
    h.write(0.25, 1)
    h.at(1.25, lambda: setattr(h, "seen", (h.poller.position.ts, h.poller.committable.ts)))
    h.run(until=1.75)
    assert h.seen == (0.25, float("-inf"))  # type: ignore[attr-defined]
    assert h.poller.flushed.ts == float("-inf")  # flushed at 1.5, before the ack at 2 + 5 TICK


def test_a_stalled_poller_neither_queries_nor_publishes_until_it_resumes():
    h = Harness("timestamp")
    h.write(0.25, 1)
    h.at(0.5, h.poller.stall)
    h.at(3.0, h.poller.resume)
    h.run(until=4)
    assert [(time, key) for time, key, _ in h.published] == [(3.0 + 3 * TICK, 1)]
    assert h.poller.polls == 2  # at 0, and the one due at 1 + 2 TICK held until 3


def test_a_failed_query_moves_nothing_and_the_next_poll_reads_the_rows():
    h = Harness("timestamp")
    h.write(0.25, 1)
    h.at(1.0, h.db.crash)
    h.at(1.5, h.db.restart)
    assert h.run(until=5) == [(1, 1)]
    assert h.poller.failed_fetches == 1
    # the poll at 1 + 2 TICK failed at once; the next, at 2 + 2 TICK, took 3 TICK
    assert h.published[0][0] == 2 + 5 * TICK
