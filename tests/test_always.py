"""Invariants checked during a run (``sim.kernel.always``): each check fires on a deliberately
broken component, with the simulated time, the component and the key, and never on a normal
run; the switch (``check_invariants``, ``--check-invariants``, exit 5); checks change no figure.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pytest
from distributed import LocalCluster
from typer.testing import CliRunner

from sim import api
from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import PartitionLog, Record
from sim.broker.murmur2 import partition_for_key
from sim.broker.producer import Producer
from sim.cli import app
from sim.config.broker import BrokerConfig
from sim.config.clients import ConnectorSettings
from sim.config.model import PatternSettings
from sim.config.sections import DatabaseProfile, ServiceConfig
from sim.connectors.cdc import CdcConnector
from sim.infra.database import Database
from sim.infra.service import Job, Service
from sim.kernel.always import ENV_VAR, InvariantBroken
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.registry import PATTERNS
from sim.metrics.always import consistency_log
from sim.metrics.requests import RequestLog
from sim.patterns import PatternModel, register_pattern
from sim.workload import Requests

TICK = 1 / 64


def constant(seconds: float) -> dict[str, Any]:
    return {"dist": "constant", "value": seconds}


def checked(seed: int = 1) -> SimContext:
    return SimContext.create(seed, check=True)


# -- services and databases ----------------------------------------------------------------------


def service(ctx: SimContext, concurrency: int = 1) -> Service:
    config = ServiceConfig(instances=1, concurrency=concurrency, service_time=constant(TICK))
    return Service(ctx, "orders", config)


def call(svc: Service, work: Any) -> Job:
    return svc.call(work, lambda _outcome, _value: None)


def test_a_job_finishing_twice_is_caught_with_its_time_and_service() -> None:
    ctx = checked()

    def work(job: Job) -> None:
        job.finish(OK, 1)
        job.finish(OK, 1)

    call(service(ctx), work)
    with pytest.raises(InvariantBroken, match="a job finishes once") as caught:
        ctx.env.run()
    assert caught.value.time == TICK
    assert caught.value.component == "service orders/0"


def test_a_continuation_run_twice_is_caught() -> None:
    ctx = checked()

    def work(job: Job) -> None:
        resume = job.track(lambda: job.finish(OK, 1))
        resume()
        resume()

    call(service(ctx), work)
    with pytest.raises(InvariantBroken, match="continuation runs once"):
        ctx.env.run()


def test_a_slot_released_by_a_job_that_does_not_hold_it_is_caught() -> None:
    ctx = checked()

    def work(job: Job) -> None:
        job.finish(OK, 1)
        assert job.instance is not None
        job.instance.release(job)  # a second release of the same slot

    call(service(ctx), work)
    with pytest.raises(InvariantBroken, match="released by the job that holds it"):
        ctx.env.run()


def test_a_finished_job_taking_a_slot_is_caught() -> None:
    ctx = checked()
    svc = service(ctx, concurrency=1)
    call(svc, lambda job: job.after(TICK, lambda: job.finish(OK, 1)))
    waiting = call(svc, lambda job: job.finish(OK, 1))
    waiting.finished = True  # finished while it waits in the queue: it must never get a slot
    with pytest.raises(InvariantBroken, match="a finished job never takes a slot"):
        ctx.env.run()


def test_free_slots_beyond_the_concurrency_are_caught() -> None:
    ctx = checked()

    def work(job: Job) -> None:
        assert job.instance is not None
        job.instance.free = job.instance.concurrency  # the slot it holds is counted free
        job.finish(OK, 1)

    call(service(ctx), work)
    with pytest.raises(InvariantBroken, match="free slots") as caught:
        ctx.env.run()
    assert caught.value.expected == "0..1"
    assert caught.value.found == "2"


def database(ctx: SimContext, pool: int = 2) -> Database:
    profile = DatabaseProfile(
        pool=pool, read_time=constant(TICK), write_time=constant(TICK), connection_timeout=1.0
    )
    return Database(ctx, "users", profile)


def test_connections_in_use_going_negative_are_caught() -> None:
    ctx = checked()
    db = database(ctx, pool=2)
    db.write(1, lambda _o, _v: None)
    db.free = 2  # the connection the write holds is counted free
    with pytest.raises(InvariantBroken, match="free connections") as caught:
        ctx.env.run()
    assert caught.value.component == "database users"


def test_a_commit_of_version_zero_is_caught_with_its_key() -> None:
    ctx = checked()
    db = database(ctx)
    db.write(7, lambda _o, _v: None)
    ctx.env.run()
    db.write(7, lambda _o, _v: None, version=0)
    with pytest.raises(InvariantBroken, match="at least 1") as caught:
        ctx.env.run()
    assert caught.value.key == 7
    assert caught.value.time == 2 * TICK


def test_a_copy_storing_an_older_version_is_no_violation() -> None:
    ctx = checked()
    db = database(ctx)
    db.write(7, lambda _o, _v: None, version=3)
    ctx.env.run()
    db.write(7, lambda _o, _v: None, version=2)  # a reorder at a copy: counted, not broken
    ctx.env.run()
    assert db.version(7) == 2


# -- the broker ------------------------------------------------------------------------------------

FAST = {"latency": "0.5ms", "replication_latency": "0.5ms"}


def cluster(ctx: SimContext, **changes: Any) -> Broker:
    broker = Broker(ctx, BrokerConfig.model_validate({**FAST, **changes}))
    broker.start()
    return broker


def part_of(broker: Broker, key: str) -> Any:
    return broker.partition("t", partition_for_key(key, broker.partition_count("t")))


def test_a_high_watermark_past_the_log_end_is_caught() -> None:
    ctx = checked()
    broker = cluster(ctx)
    producer = Producer(ctx, broker, name="writer")
    producer.send("t", "k", 1)
    ctx.env.run(until=1.0)
    part = part_of(broker, "k")
    part.hw = part.log.end + 5  # claims records the log does not have
    producer.send("t", "k", 2)
    with pytest.raises(InvariantBroken, match="never passes the log end"):
        ctx.env.run(until=2.0)


def test_a_clean_election_that_would_lose_committed_records_is_caught() -> None:
    ctx = checked()
    broker = cluster(ctx, replication_latency="200ms")
    producer = Producer(ctx, broker, name="writer")
    producer.send("t", "k", 1)
    ctx.env.run(until=0.05)  # on the leader, not yet on any follower
    part = part_of(broker, "k")
    part.hw = part.log.end  # claims the record is committed
    assert part.leader is not None
    broker.fail_broker(part.leader)
    with pytest.raises(InvariantBroken, match="a clean election keeps every committed record"):
        ctx.env.run(until=30.0)


def test_an_acks_all_write_acknowledged_below_min_isr_is_caught() -> None:
    ctx = checked()
    broker = cluster(ctx, replication_factor=3, min_insync_replicas=2)
    producer = Producer(ctx, broker, name="writer")
    part = part_of(broker, "k")
    for follower in part.replicas[1:]:
        broker.fail_broker(follower)
    ctx.env.run(until=30.0)  # both followers fenced out of the ISR
    assert len(part.isr) == 1
    broker.config = broker.config.model_copy(update={"min_insync_replicas": 1})  # forgets it
    producer.send("t", "k", 1)
    with pytest.raises(InvariantBroken, match=r"min\.insync\.replicas") as caught:
        ctx.env.run(until=40.0)
    assert "ISR [" in caught.value.found


class _LeakyLog(PartitionLog):
    """A log whose reads ignore the bound they are given (returns uncommitted records)."""

    def read(self, start: int, upto: int, limit: int) -> list[Record]:
        return super().read(start, self.end, limit)


def test_a_fetch_above_the_high_watermark_is_caught() -> None:
    ctx = checked()
    broker = cluster(ctx, replication_latency="1s")
    for index in range(broker.partition_count("t")):
        broker.partition("t", index).log = _LeakyLog(1 << 30, 1e9)
    producer = Producer(ctx, broker, name="writer")
    group = ConsumerGroup(ctx, broker, "t", "g", members=1)
    group.start()
    ctx.env.run(until=10.0)  # the group has joined
    for i in range(20):
        producer.send("t", f"k{i}", i)
    with pytest.raises(InvariantBroken, match="below the high watermark"):
        ctx.env.run(until=12.0)


def test_a_committed_offset_past_the_log_end_is_caught() -> None:
    ctx = checked()
    broker = cluster(ctx)
    group = ConsumerGroup(ctx, broker, "t", "g", members=1)
    group.start()
    ctx.env.run(until=10.0)
    member = group.member(0)
    partition = next(iter(member.positions))
    member.positions[partition] = 1000  # a position nothing was read up to
    group.commit()
    with pytest.raises(InvariantBroken, match="committed offset is never past the log end"):
        ctx.env.run(until=20.0)


# -- connectors ------------------------------------------------------------------------------------


def connector(ctx: SimContext, db: Database) -> CdcConnector:
    settings = ConnectorSettings.model_validate({"event_time": constant(0.0), "decode_time": 0.0})
    return CdcConnector(
        ctx, "users", db, lambda _k, _v, acked: acked(True), settings, retry_backoff=1
    )


def test_a_cdc_change_the_source_never_committed_is_caught() -> None:
    ctx = checked()
    db = database(ctx)
    db.keep_log = True
    cdc = connector(ctx, db)
    cdc.start()
    ctx.env.run(until=1.0)
    db.write(3, lambda _o, _v: None)
    ctx.env.run(until=ctx.env.now + 2 * TICK)  # committed, not yet streamed
    db.rows[3] = 0  # the source forgets its commit
    with pytest.raises(InvariantBroken, match="a change sent is one the source committed") as e:
        ctx.env.run(until=5.0)
    assert e.value.key == 3


def test_a_slot_confirmed_past_the_commit_log_is_caught() -> None:
    ctx = checked()
    db = database(ctx)
    db.keep_log = True
    cdc = connector(ctx, db)
    cdc.start()
    ctx.env.run(until=1.0)
    cdc.slot = len(db.commit_log) + 3
    with pytest.raises(InvariantBroken, match="never ahead of the commit log"):
        ctx.env.run(until=200.0)


# -- the consistency and request logs -------------------------------------------------------------


def test_an_apply_of_a_version_never_committed_is_caught() -> None:
    ctx = checked()
    log = consistency_log(ctx.recorder, ["orders"], ctx.always)
    log.commit(5, 1, 0.0)
    log.apply(0, 5, 1, 0.1)  # fine: committed
    with pytest.raises(InvariantBroken, match="only a version its owner committed") as caught:
        log.apply(0, 5, 2, 0.2)
    assert (caught.value.component, caught.value.key) == ("copy orders", 5)


def test_a_pattern_that_hands_out_uncommitted_versions_is_not_checked() -> None:
    ctx = checked()
    log = consistency_log(ctx.recorder, ["orders"], ctx.always, committed_only=False)
    log.apply(0, 5, 2, 0.2)  # a publish-first dual write's phantom: a figure, not a bug


def request_log(ctx: SimContext, count: int = 3) -> RequestLog:
    requests = Requests(
        np.arange(count, dtype=float),
        np.zeros(count, np.int8),
        np.arange(count, dtype=np.int64),
        np.zeros(count, np.int64),
    )
    return RequestLog(requests, 10.0, ["users"], ctx.always)


def test_a_request_answered_twice_is_caught() -> None:
    ctx = checked()
    log = request_log(ctx)
    log.finish(1, 1.5, OK, 1)
    with pytest.raises(InvariantBroken, match="answered once") as caught:
        log.finish(1, 1.6, OK, 1)
    assert caught.value.key == 1


def test_conservation_at_the_end_is_checked() -> None:
    ctx = checked()
    log = request_log(ctx)
    log.finish(0, 0.5, OK, 1)
    log.close(20.0)  # one answered, two in flight: conserved
    broken = request_log(ctx)
    broken.outcomes[2] = OK  # an answer that bypassed the log
    with pytest.raises(InvariantBroken, match="conservation"):
        broken.close(20.0)


# -- whole runs --------------------------------------------------------------------------------


class GhostSettings(PatternSettings):
    """Commits at the owner, then tells the first copy of key 7 about a version never
    committed (a deliberately broken pattern)."""

    kind: Literal["ghost"]


class GhostModel(PatternModel):
    settings = GhostSettings

    def write(self, index: int, key: int) -> None:
        def also(version: int, now: float) -> None:
            if key == 7:
                self.consistency.apply(0, key, version + 1, now)

        self.commit_at_owner(index, key, self.databases[self.owner], also)


@pytest.fixture
def ghost() -> Iterator[None]:
    register_pattern(GhostModel)
    try:
        yield
    finally:
        PATTERNS.unregister("ghost")


def _ghost_scenario(scenario_factory: Any) -> api.Scenario:
    return scenario_factory(
        replications=2,
        data={"owner": "users", "replicas": ["orders"], "keys": 10},
        patterns=[{"kind": "shared_db"}, {"kind": "ghost"}],
    )


def test_a_run_with_checks_stops_at_the_first_broken_invariant(
    ghost: None, scenario_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "0")
    scenario = _ghost_scenario(scenario_factory)
    api.run(scenario, workers=1)  # off: the ghost's applies are only figures
    with pytest.raises(api.InvariantBroken) as caught:
        api.run(scenario, workers=1, check_invariants=True)
    broken = caught.value
    assert broken.pattern == "ghost"
    assert (broken.component, broken.key) == ("copy orders", 7)
    assert 0 < broken.time < 20
    assert "pattern ghost" in str(broken)


def test_checks_reach_worker_processes(
    ghost: None, scenario_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "0")
    scenario = _ghost_scenario(scenario_factory)
    with pytest.raises(api.InvariantBroken) as caught:
        api.run(scenario, patterns=["ghost"], workers=2, check_invariants=True)
    assert caught.value.key == 7


def test_checks_reach_dask_workers(
    ghost: None, scenario_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The task crosses the network without its scenario and gets it back on the worker: the
    flag goes with it, and the broken invariant comes back as itself. The worker runs in this
    process (where the ghost pattern is registered), reached over TCP like a remote one."""
    monkeypatch.setenv(ENV_VAR, "0")
    scenario = _ghost_scenario(scenario_factory)
    with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        protocol="tcp://",
        dashboard_address=None,
    ) as running:
        address = running.scheduler_address.replace("tcp://", "dask://")
        with api.parse_executor(address).open() as pool:
            api.run(scenario, patterns=["ghost"], executor=pool)  # off: only figures
            with pytest.raises(api.InvariantBroken) as caught:
                api.run(scenario, patterns=["ghost"], executor=pool, check_invariants=True)
    assert (caught.value.pattern, caught.value.key) == ("ghost", 7)


def test_the_cli_exits_5_with_one_line_and_keeps_the_finished_runs(
    ghost: None, scenario_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "0")
    scenario = _ghost_scenario(scenario_factory)
    path = tmp_path / "ghost.yaml"
    path.write_text(json.dumps(scenario.model_dump(mode="json")), encoding="utf-8")
    out = tmp_path / "out"
    args = ["run", str(path), "--out", str(out), "--workers", "1"]
    result = CliRunner().invoke(app, [*args, "--check-invariants"])
    assert result.exit_code == 5, result.output
    lines = [line for line in result.stderr.splitlines() if "invariant broken" in line]
    assert len(lines) == 1
    line = lines[0]
    for part in ("t=", "pattern ghost", "copy orders", "key 7", "expected <= ", "found "):
        assert part in line
    assert "Traceback" not in result.output
    stored = sorted(p.name for p in (tmp_path / "out.partial" / "runs").iterdir())
    assert any("shared_db" in name for name in stored)  # the runs finished before it
    assert not out.exists()
    assert CliRunner().invoke(app, args).exit_code == 0  # without the flag: only figures


def test_explore_and_capacity_stop_at_a_broken_invariant_with_exit_5(
    ghost: None, scenario_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, "0")
    scenario = _ghost_scenario(scenario_factory)
    data = scenario.model_dump(mode="json")
    data["slo"] = ["error_rate < 50%"]
    path = tmp_path / "ghost.yaml"
    path.write_text(json.dumps(data), encoding="utf-8")
    explore = ["explore", str(path), "--pattern", "ghost", "--invariant", "no-loss"]
    explore += ["--budget", "2", "--out", str(tmp_path / "explore"), "--check-invariants"]
    result = CliRunner().invoke(app, explore)
    assert result.exit_code == 5, result.output
    assert "invariant broken at t=" in result.stderr
    capacity = ["capacity", str(path), "--pattern", "ghost", "--replications", "1"]
    capacity += ["--out", str(tmp_path / "capacity"), "--workers", "1", "--check-invariants"]
    result = CliRunner().invoke(app, capacity)
    assert result.exit_code == 5, result.output
    assert "pattern ghost" in result.stderr


def test_checks_change_no_figure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scenario = api.load("scenarios/quickstart.yaml", ["replications=2"])
    monkeypatch.setenv(ENV_VAR, "0")
    off = api.write(api.run(scenario, workers=1), tmp_path / "off")
    on = api.write(api.run(scenario, workers=1, check_invariants=True), tmp_path / "on")
    for name in ("summary.csv", "requests.parquet", "propagation.parquet", "copies.csv"):
        assert (off / name).read_bytes() == (on / name).read_bytes(), name


def test_the_two_phase_commit_recovery_sends_the_committed_version(
    scenario_factory: Any,
) -> None:
    """The coordinator restarts while its own COMMIT PREPARED is still under way (a slow
    database): recovery used to send the participants version 0 (the version was not known
    yet), which rolled their rows back and lost the change."""
    scenario = scenario_factory(
        patterns=[{"kind": "two_phase_commit"}],
        data={"owner": "users", "replicas": ["orders"], "keys": 20},
        workload={"phases": [{"duration": 10, "rate": 20}], "mix": {"write": 1.0, "read": 0.0}},
        faults=[
            {
                "kind": "slowdown",
                "target": "db:users",
                "start": 3.0,
                "duration": 3.0,
                "factor": 500,
            },
            {"kind": "crash", "target": "service:users", "start": 3.5, "duration": 0.2},
        ],
        drain=20,
    )
    results = api.run(scenario, workers=1, check_invariants=True)
    assert results.metric("two_phase_commit", "lost_updates") == 0
    assert results.metric("two_phase_commit", "divergent_keys") == 0
    assert results.metric("two_phase_commit", "error_rate") > 0  # the crash did reach it
