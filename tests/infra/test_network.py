"""Network hops: free when zero, exactly the latency when constant, faults on one direction only."""

from __future__ import annotations

import math

import pytest

from sim.config.distributions import Constant, Exponential
from sim.infra.network import Network
from sim.kernel.context import SimContext


def arrivals(ctx: SimContext, log: list[tuple[str, float]], label: str):
    return lambda: log.append((label, ctx.now))


def test_zero_latency_delivers_at_once_without_an_event() -> None:
    ctx = SimContext.create(seed=1)
    network = Network(ctx, Constant(value=0.0))
    log: list[tuple[str, float]] = []
    network.send("client", "orders", arrivals(ctx, log, "m"))
    assert log == [("m", 0.0)]
    assert ctx.env.peek() == math.inf
    assert network.instant


def test_constant_latency_delivers_exactly_that_long_after_sending() -> None:
    ctx = SimContext.create(seed=1)
    network = Network(ctx, Constant(value=0.002))
    log: list[tuple[str, float]] = []
    network.send("client", "orders", arrivals(ctx, log, "first"))
    ctx.env.run(until=1.0)
    network.send("orders", "db:orders", arrivals(ctx, log, "second"))
    assert log == [("first", 0.002)]
    ctx.env.run(until=2.0)
    assert log == [("first", 0.002), ("second", 1.0 + 0.002)]
    assert not network.instant


def test_random_latency_is_the_same_for_the_same_seed() -> None:
    def delivery_times(seed: int) -> list[float]:
        ctx = SimContext.create(seed=seed)
        network = Network(ctx, Exponential(mean=0.001))
        log: list[tuple[str, float]] = []
        for i in range(20):
            network.send("a", "b", arrivals(ctx, log, str(i)))
        ctx.env.run()
        return sorted(time for _, time in log)

    assert delivery_times(3) == delivery_times(3)
    assert delivery_times(3) != delivery_times(4)


def test_link_delay_applies_to_its_direction_only_until_removed() -> None:
    ctx = SimContext.create(seed=1)
    network = Network(ctx, Constant(value=0.001))
    log: list[tuple[str, float]] = []

    def extra() -> float:
        return 0.010

    network.add_delay("orders", "db:orders", extra)
    network.send("orders", "db:orders", arrivals(ctx, log, "faulty way"))
    network.send("db:orders", "orders", arrivals(ctx, log, "way back"))
    network.send("orders", "billing", arrivals(ctx, log, "other link"))
    ctx.env.run(until=1.0)
    assert sorted(log, key=lambda entry: entry[0]) == [
        ("faulty way", 0.011),
        ("other link", 0.001),
        ("way back", 0.001),
    ]

    network.remove_delay("orders", "db:orders", extra)
    network.send("orders", "db:orders", arrivals(ctx, log, "healed"))
    ctx.env.run(until=2.0)
    assert log[-1] == ("healed", 1.0 + 0.001)


def test_delays_on_one_link_add_up_and_are_removed_one_by_one() -> None:
    ctx = SimContext.create(seed=1)
    network = Network(ctx, Constant(value=0.0))
    log: list[tuple[str, float]] = []

    def five() -> float:
        return 0.005

    def seven() -> float:
        return 0.007

    network.add_delay("a", "b", five)
    network.add_delay("a", "b", seven)
    assert not network.instant
    network.send("a", "b", arrivals(ctx, log, "both"))
    network.send("b", "a", arrivals(ctx, log, "reverse"))  # no fault that way: still at once
    assert log == [("reverse", 0.0)]
    ctx.env.run(until=1.0)
    assert log[-1] == ("both", 0.012)

    network.remove_delay("a", "b", five)
    network.send("a", "b", arrivals(ctx, log, "seven"))
    ctx.env.run(until=2.0)
    assert log[-1] == ("seven", 1.007)

    network.remove_delay("a", "b", seven)
    network.remove_delay("a", "b", seven)  # removing twice is harmless
    assert network.instant
    network.send("a", "b", arrivals(ctx, log, "free"))
    assert log[-1] == ("free", 2.0)  # delivered inside send, before any event runs


def test_a_connection_delivers_in_the_order_sent_while_lone_messages_overtake() -> None:
    def order(connection: str | None) -> list[str]:
        ctx = SimContext.create(seed=5)
        network = Network(ctx, Exponential(mean=0.010))
        log: list[tuple[str, float]] = []
        for i in range(50):
            network.send("a", "b", arrivals(ctx, log, str(i)), connection)
            ctx.env.run(until=ctx.now + 0.001)  # one message a millisecond
        ctx.env.run()
        return [label for label, _ in log]

    sent = [str(i) for i in range(50)]
    assert order("a->b") == sent
    assert sorted(order(None), key=int) == sent and order(None) != sent


def test_held_messages_of_a_connection_follow_the_oldest_after_the_heal() -> None:
    ctx = SimContext.create(seed=1)
    network = Network(ctx, Constant(value=0.0))
    log: list[tuple[str, float]] = []
    heal = network.block("a", "b")
    network.send(
        "a", "b", arrivals(ctx, log, "old"), "conn"
    )  # retransmits at 0.2, 0.6, ... 6.2, 12.6
    network.send("a", "b", arrivals(ctx, log, "old-lone"))
    ctx.env.run(until=5.0)
    network.send("a", "b", arrivals(ctx, log, "new"), "conn")  # alone: 5.2, 5.6, 6.4
    network.send("a", "b", arrivals(ctx, log, "new-lone"))
    ctx.env.run(until=6.3)
    heal()
    network.send("a", "b", arrivals(ctx, log, "after"), "conn")  # the link is free again
    ctx.env.run()
    delivered = dict(log)
    assert [label for label, _ in log if label in ("old", "new", "after")] == [
        "old",
        "new",
        "after",
    ]
    assert delivered["new-lone"] == pytest.approx(6.4)  # overtakes the older lone message
    for label in ("old-lone", "old", "new", "after"):  # at the oldest's next retransmission
        assert delivered[label] == pytest.approx(12.6)
