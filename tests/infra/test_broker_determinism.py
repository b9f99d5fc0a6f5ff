"""Same seed, same tables: every random draw of the broker comes from named streams."""

from __future__ import annotations

from typing import Any

import pandas as pd

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.producer import Producer
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext


def run(seed: int) -> dict[str, pd.DataFrame]:
    ctx = SimContext.create(seed=seed)
    broker = Broker(ctx, BrokerConfig(acks="1"))
    broker.start()
    producer = Producer(ctx, broker, name="writer")
    group = ConsumerGroup(ctx, broker, "t", "g", members=3)
    group.start()

    def writer() -> Any:
        i = 0
        while ctx.env.now < 40:
            producer.send("t", f"k{i % 40}" if i % 3 else None, i)
            i += 1
            yield ctx.env.timeout(0.02)

    ctx.env.process(writer())
    ctx.env.timeout(5).callbacks.append(lambda _e: group.crash_member(0))
    ctx.env.timeout(10).callbacks.append(lambda _e: broker.fail_broker(1))
    ctx.env.timeout(20).callbacks.append(lambda _e: group.restart_member(0))
    ctx.env.timeout(25).callbacks.append(lambda _e: broker.recover_broker(1))
    ctx.env.run(until=80)
    return ctx.recorder.frames()


def test_same_seed_gives_identical_tables() -> None:
    first, second = run(42), run(42)
    assert first.keys() == second.keys()
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_exact=True)
    assert len(first["broker_consume"]) > 1000 and len(first["rebalances"]) >= 1
    assert len(first["leader_elections"]) >= 1


def test_another_seed_gives_other_draws() -> None:
    first, other = run(42), run(43)
    assert not first["broker_produce"].latency.equals(other["broker_produce"].latency)
