"""Connectors: CDC snapshot then streaming, offsets, crash/stall, slot retention; outbox poller.

A fake broker stands in for the producer: it records what is published and acknowledges it
after a fixed delay, holds sends while "cut off", and can fail a number of sends. Times are
binary fractions of a second, so sums are exact.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

from sim.broker.producer_settings import connect_source_settings
from sim.config.broker import BrokerConfig
from sim.config.clients import ConnectorSettings
from sim.config.sections import DatabaseProfile
from sim.connectors.cdc import CdcConnector
from sim.connectors.outbox_poller import OutboxPoller
from sim.infra.database import Database
from sim.kernel.context import SimContext
from sim.kernel.schedule import later

TICK = 1 / 64
ACK = 1 / 128


def constant(seconds: float) -> dict[str, Any]:
    return {"dist": "constant", "value": seconds}


class FakeBroker:
    """``publish(key, version, acked)``: records the send, acknowledges after ``ACK``."""

    def __init__(self, ctx: SimContext) -> None:
        self.ctx = ctx
        self.sent: list[tuple[float, int, int]] = []
        self.cut = False
        self.held: list[tuple[int, int, Callable[[bool], None]]] = []
        self.failures = 0

    def publish(self, key: int, version: int, acked: Callable[[bool], None]) -> None:
        if self.failures:
            self.failures -= 1
            later(self.ctx.env, ACK, lambda: acked(False))
            return
        if self.cut:
            self.held.append((key, version, acked))
            return
        self.sent.append((self.ctx.env.now, key, version))
        later(self.ctx.env, ACK, lambda: acked(True))

    def heal(self) -> None:
        self.cut = False
        held, self.held = self.held, []
        for key, version, acked in held:
            self.publish(key, version, acked)

    def versions(self) -> Counter[tuple[int, int]]:
        return Counter((key, version) for _t, key, version in self.sent)


class Rig:
    """A database, a fake broker and a connector on them (not started)."""

    def __init__(self, snapshot: bool = True, fetch_size: int = 100, **settings: Any) -> None:
        self.ctx = SimContext.create(3)
        self.env = self.ctx.env
        self.db = Database(
            self.ctx,
            "users",
            DatabaseProfile(
                pool=4,
                read_time=constant(TICK),
                write_time=constant(TICK),
                connection_timeout=1e6,
            ),
        )
        self.broker = FakeBroker(self.ctx)
        config = {"event_time": constant(0.0), "decode_time": 0.0, **settings}
        self.connector = CdcConnector(
            self.ctx,
            "users",
            self.db,
            self.broker.publish,
            ConnectorSettings.model_validate(config),
            retry_backoff=1.0,
            snapshot=snapshot,
            fetch_size=fetch_size,
        )

    def at(self, moment: float, action: Callable[[], Any]) -> None:
        self.env.timeout(moment - self.env.now).callbacks.append(lambda _e: action())

    def write_at(self, moment: float, key: int, delete: bool = False) -> None:
        self.at(moment, lambda: self.db.write(key, lambda _o, _v: None, delete=delete))

    def preload(self, rows: int) -> None:
        """Rows that exist before the connector starts (written before keep_log mattered)."""
        for key in range(rows):
            self.db.write(key, lambda _o, _v: None)
        self.env.run(until=self.env.now + rows * TICK / 4 + 1)


def final_versions(sent: list[tuple[float, int, int]]) -> dict[int, int]:
    last: dict[int, int] = {}
    for _t, key, version in sent:
        last[key] = version
    return last


# -- streaming ---------------------------------------------------------------------------------


def test_changes_stream_in_commit_order_within_a_poll_interval() -> None:
    rig = Rig()
    rig.connector.start()
    for i in range(40):
        rig.write_at(1 + i * 0.1, key=i % 5)
    rig.env.run(until=10)
    log = rig.db.commit_log
    assert [(k, v) for _t, k, v in rig.broker.sent] == [(c.key, c.version) for c in log]
    commit_time = {(c.key, c.version): c.time for c in log}
    delays = [t - commit_time[(k, v)] for t, k, v in rig.broker.sent]
    assert min(delays) >= 0.0
    assert max(delays) <= 0.5 + 1e-9  # at most one poll window (poll.interval.ms=500 [DBZ-PG])
    assert max(delays) > 0.25  # and a change waits for the end of the window it falls in


def test_an_idle_connector_finishes_the_poll_window_the_first_change_falls_in() -> None:
    rig = Rig()
    rig.connector.start()
    rig.write_at(100.3, key=1)
    rig.env.run(until=102)
    ((when, _key, _version),) = rig.broker.sent
    assert when == 100.5  # windows of 0.5 s since the start at 0: the one ending at 100.5


def test_a_full_batch_is_sent_without_waiting_for_the_poll_interval() -> None:
    rig = Rig(max_batch_size=8, poll_interval=10.0)
    rig.connector.start()
    for key in range(20):
        rig.db.write(key, lambda _o, _v: None)  # 20 commits, 4 connections: 5 rounds of a tick
    rig.env.run(until=9)
    assert len(rig.broker.sent) == 16  # two full batches of 8; the last 4 wait for the window
    rig.env.run(until=11)
    assert len(rig.broker.sent) == 20


def test_connector_work_per_change_delays_the_batch() -> None:
    rig = Rig(event_time=constant(TICK), max_batch_size=4)
    rig.connector.start()
    for key in range(4):
        rig.db.write(key, lambda _o, _v: None)
    rig.env.run(until=2)
    times = sorted({t for t, _k, _v in rig.broker.sent})
    assert times == [TICK + 4 * TICK]  # committed at one tick, then 4 changes of work


def test_a_delete_is_sent_as_its_tombstone_version() -> None:
    rig = Rig()
    rig.connector.start()
    rig.write_at(1, key=7)
    rig.write_at(2, key=7, delete=True)
    rig.env.run(until=4)
    assert [(k, v) for _t, k, v in rig.broker.sent] == [(7, 1), (7, 2)]
    assert rig.db.commit_log[-1].deleted


# -- snapshot ----------------------------------------------------------------------------------


def test_the_snapshot_scans_existing_rows_in_chunks_then_streams_from_its_start() -> None:
    rig = Rig(snapshot_rate=100.0)  # chunks of 100 rows (snapshot.fetch.size) of 1 s each
    rows = 2 * 100 + 25
    rig.preload(rows)
    start = rig.env.now
    rig.connector.start()
    rig.write_at(start + 0.5, key=3)  # during the snapshot: streamed after it
    rig.env.run(until=start + 5)
    reads = [(t, k, v) for t, k, v in rig.broker.sent if v == 1]
    assert sorted(k for _t, k, _v in reads) == list(range(rows))
    assert {t - start for t, _k, _v in reads} == {1.0, 2.0, 2.25}
    assert rig.broker.sent[-1][1:] == (3, 2)
    assert rig.db.busy_by_tag["connector"] == rows / 100.0  # the scan loads the database
    assert rig.connector.snapshots_completed == 1


def test_an_interrupted_snapshot_starts_over() -> None:
    rig = Rig(snapshot_rate=100.0)
    rows = 2 * 100
    rig.preload(rows)
    start = rig.env.now
    rig.connector.start()
    rig.at(start + 1.5, rig.connector.crash)
    rig.at(start + 3.0, rig.connector.restart)
    rig.env.run(until=start + 10)
    assert rig.connector.snapshots_started == 2
    assert rig.connector.snapshots_completed == 1
    counts = rig.broker.versions()
    assert all(counts[(key, 1)] == 2 for key in range(100))  # the first chunk twice
    assert all(counts[(key, 1)] == 1 for key in range(100, rows))
    assert max(t for t, _k, _v in rig.broker.sent) == start + 3.0 + 2.0  # a whole new snapshot


def test_a_crash_before_the_first_flush_snapshots_again_and_collapses_versions() -> None:
    rig = Rig()
    rig.connector.start()
    rig.write_at(1, key=1)
    rig.at(2, rig.connector.crash)
    rig.write_at(3, key=1)  # version 2, overwritten before the restart
    rig.write_at(4, key=1)  # version 3
    rig.at(5, rig.connector.restart)
    rig.env.run(until=10)
    assert [(k, v) for _t, k, v in rig.broker.sent] == [(1, 1), (1, 3)]
    assert rig.connector.snapshots_started == 2


# -- offsets, crashes, stalls, retention -------------------------------------------------------


def test_a_crash_resends_what_came_after_the_last_flushed_offset() -> None:
    rig = Rig(offset_flush_interval=10.0)
    rig.connector.start()
    for i in range(100):
        rig.write_at(0.5 + i * 0.2, key=i)  # commits from 0.5 s to 20.3 s
    rig.at(15, rig.connector.crash)  # flushed at 10 s: lsn of the commits before it
    rig.at(16, rig.connector.restart)
    rig.env.run(until=40)
    stored_before_crash = sum(1 for c in rig.db.commit_log if c.time < 10 - 0.5)
    counts = rig.broker.versions()
    assert set(counts) == {(c.key, c.version) for c in rig.db.commit_log}  # nothing lost
    twice = sorted(k for (k, _v), n in counts.items() if n == 2)
    sent_before_crash = sum(1 for c in rig.db.commit_log if c.time < 15 - 0.5)
    assert twice == list(range(stored_before_crash, sent_before_crash))
    assert rig.connector.stored is not None and rig.connector.stored.lsn == len(rig.db.commit_log)


def test_a_stall_keeps_the_position_and_the_slot_retains_the_log_meanwhile() -> None:
    rig = Rig(offset_flush_interval=1.0)
    rig.connector.start()
    for i in range(100):
        rig.write_at(0.05 + i * 0.1, key=i)  # 10 commits per second for 10 s
    rig.at(2, rig.connector.stall)
    rig.at(7, rig.connector.resume)
    rig.env.run(until=20)
    counts = rig.broker.versions()
    assert len(counts) == 100 and max(counts.values()) == 1  # nothing lost, nothing repeated
    assert not [t for t, _k, _v in rig.broker.sent if 2.5 < t < 7]
    assert rig.connector.wal_retained_max >= 50  # five seconds of commits held by the slot
    assert rig.connector.wal_retained == 0  # confirmed again once caught up


def test_cut_off_the_broker_nothing_is_lost_and_the_slot_grows_until_it_heals() -> None:
    rig = Rig(offset_flush_interval=1.0)
    rig.connector.start()
    for i in range(100):
        rig.write_at(0.05 + i * 0.1, key=i)
    rig.at(2, lambda: setattr(rig.broker, "cut", True))
    rig.at(8, rig.broker.heal)
    rig.env.run(until=20)
    counts = rig.broker.versions()
    assert len(counts) == 100 and max(counts.values()) == 1
    assert rig.connector.wal_retained_max >= 60
    assert rig.connector.wal_retained == 0


def test_failed_sends_are_tried_again() -> None:
    rig = Rig()
    rig.connector.start()
    rig.broker.failures = 3
    for key in range(3):
        rig.write_at(1, key=key)
    rig.env.run(until=10)
    assert sorted(k for _t, k, _v in rig.broker.sent) == [0, 1, 2]
    assert rig.connector.sent == 3


def test_without_snapshot_a_restart_with_no_stored_offset_streams_from_the_slot() -> None:
    rig = Rig(snapshot=False)
    rig.connector.start()
    for key in range(5):
        rig.write_at(1 + key, key=key)
    rig.at(10, rig.connector.crash)  # before the first flush (60 s)
    rig.write_at(11, key=9)
    rig.at(12, rig.connector.restart)
    rig.env.run(until=20)
    counts = rig.broker.versions()
    assert counts == Counter({(k, 1): 2 for k in range(5)} | {(9, 1): 1})
    assert rig.connector.snapshots_started == 0


def test_connect_forces_its_producer_settings() -> None:
    config = connect_source_settings(BrokerConfig.model_validate({"acks": "1"}))
    assert config.acks == "all" and config.max_in_flight == 1 and not config.idempotence
    assert math.isinf(config.delivery_timeout) and math.isinf(config.max_block)


# -- outbox poller -----------------------------------------------------------------------------


def poller_rig(poll_interval: float = 1.0, batch: int = 1000) -> tuple[Rig, OutboxPoller]:
    rig = Rig()
    poller = OutboxPoller(
        rig.ctx,
        "users",
        rig.db,
        rig.broker.publish,
        poll_interval=poll_interval,
        batch_max_rows=batch,
        scan_rate=1024.0,
        retry_backoff=1.0,
    )
    return rig, poller


def test_the_poller_publishes_unsent_rows_each_interval_and_loads_the_database() -> None:
    rig, poller = poller_rig()
    poller.start()
    for i in range(30):
        rig.write_at(0.25 + i * 0.25, key=i)
    rig.env.run(until=20)
    assert [(k, v) for _t, k, v in rig.broker.sent] == [(i, 1) for i in range(30)]
    assert poller.marked == 30
    assert poller.polls == 20
    load = rig.db.busy_by_tag["connector"]
    assert load == 20 * TICK + 30 / 1024.0 + 8 * (TICK + 30 / 8 / 1024.0)  # selects + updates


def test_the_poller_reads_at_most_a_batch_and_polls_again_at_once() -> None:
    rig, poller = poller_rig(poll_interval=5.0, batch=10)
    for key in range(25):
        rig.db.write(key, lambda _o, _v: None)
    rig.env.run(until=1)
    poller.start()
    rig.env.run(until=2)
    assert len(rig.broker.sent) == 25 and poller.marked == 25


def test_a_poller_crash_between_publish_and_mark_publishes_again() -> None:
    rig, poller = poller_rig()
    poller.start()
    rig.write_at(0.5, key=1)
    # poll at 1 s: select (1 tick), publish, ack after ACK, then the update (1 tick + row)
    rig.at(1 + TICK + ACK / 2, poller.crash)
    rig.at(1.5, poller.restart)
    rig.env.run(until=5)
    assert [(k, v) for _t, k, v in rig.broker.sent] == [(1, 1), (1, 1)]
    assert poller.marked == 1
