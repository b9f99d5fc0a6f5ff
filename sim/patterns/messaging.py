"""Shared plumbing of the patterns that move changes through the broker.

Every such pattern has one database per service, a broker (:mod:`sim.infra.broker`) with a
change topic ``<owner>.changes`` keyed by entity key (so the changes of one key stay in order
on one partition), producers (one per publishing node, :mod:`sim.infra.producer`) and, for each
replica service, a consumer group named after it (``consumer:orders``) with one member per
instance of the service. A member hands each change to its service: the apply takes a slot
and writes the copy's database, exactly like any other request; an apply that fails (the
service or its database is down) is retried with backoff, holding up its partition, as a
consumer that does not skip does. Crashing a replica's instance crashes the group member that
runs in it (redelivery of what it had not committed, a rebalance after the session timeout).

A change carries the owner's version. Consumers that are ``idempotent`` remember the (key,
version) ids they applied and drop a repeat; the others apply whatever arrives, so a redelivered
change is applied twice (a duplicate) and an old one after a newer (a reorder).

A node cut off the broker by a ``partition`` keeps its sends buffered, as the Kafka client does,
and fails each after ``delivery_timeout`` if the partition has not healed by then.

Left out: a producer's unsent buffer is not lost when its instance crashes; one topic for all
changes; consumers commit their offsets as configured in ``broker:`` (auto-commit by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sim.config.broker import BrokerLeaderLossFault
from sim.config.model import Scenario
from sim.context import SimContext
from sim.infra.broker import Broker
from sim.infra.common import OK, later
from sim.infra.consumer import ConsumerGroup
from sim.infra.log import Record
from sim.infra.producer import Producer
from sim.infra.service import Instance, Job
from sim.metrics.recorder import Recorder
from sim.metrics.requests import RequestLog
from sim.patterns.base import PatternModel

__all__ = ["BrokerLink", "MessagingModel", "consumer_lag_max", "lose_leader"]

Acked = Callable[[bool], None]


class BrokerLink:
    """One producer client's connection to the broker, which a ``partition`` can cut.

    While cut, sends are held in order and sent when the cut heals; with an ``expiry`` each
    held send fails after it (the Kafka client's ``delivery_timeout`` [K-PROD]), without one it
    waits as long as it takes (a Kafka Connect source task [K-CONNECT]).
    """

    def __init__(
        self, ctx: SimContext, producer: Producer, topic: str, expiry: float | None
    ) -> None:
        self.ctx = ctx
        self.producer = producer
        self.topic = topic
        self.expiry = expiry
        self._cuts = 0
        self._held: list[tuple[int, Any, Acked]] = []

    def send(self, key: int, value: Any, acked: Acked) -> None:
        """Send one record; ``acked(True)`` once the broker has it, ``acked(False)`` when
        delivery failed for good."""
        if self._cuts:
            entry = (key, value, acked)
            self._held.append(entry)
            if self.expiry is not None:
                later(self.ctx.env, self.expiry, lambda: self._expire(entry))
            return
        self.producer.send(self.topic, key, value, on_ack=lambda _m, error: acked(error is None))

    def _expire(self, entry: tuple[int, Any, Acked]) -> None:
        if entry in self._held:
            self._held.remove(entry)
            entry[2](False)

    def cut(self) -> Callable[[], None]:
        """Cut the client off the broker; returns the heal."""
        self._cuts += 1

        def heal() -> None:
            self._cuts -= 1
            if self._cuts == 0:
                held, self._held = self._held, []
                for key, value, acked in held:
                    self.send(key, value, acked)

        return heal


class MessagingModel(PatternModel):
    """Base of patterns whose copies are updated by consumers of a change topic."""

    idempotent = False

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.idempotent = bool(getattr(spec, "idempotent_consumers", False))
        self.broker = Broker(ctx, scenario.broker)
        self.topic = f"{self.owner}.changes"
        self.broker.create_topic(self.topic)
        self._links: dict[str, BrokerLink] = {}
        self._seen: dict[str, set[tuple[int, int]]] = {name: set() for name in self.replicas}
        self.groups: dict[str, ConsumerGroup] = {}
        for replica in self.replicas:
            self.groups[replica] = ConsumerGroup(
                ctx,
                self.broker,
                self.topic,
                replica,
                members=self.services[replica].config.instances,
                handler=self._handler(replica),
                config=scenario.broker,
            )
            service = self.services[replica]
            service.crash_listeners.append(self._member_down(replica))
            service.restart_listeners.append(self._member_up(replica))

    # -- publishing --------------------------------------------------------------------------
    def link(self, node: str) -> BrokerLink:
        """The broker connection of a node's producer client (created on first use)."""
        found = self._links.get(node)
        if found is None:
            found = self.make_link(node)
            self._links[node] = found
        return found

    def make_link(self, node: str) -> BrokerLink:
        """A node's producer client: the broker's producer settings; held sends expire."""
        config = self.scenario.broker
        producer = Producer(self.ctx, self.broker, config, name=node)
        return BrokerLink(self.ctx, producer, self.topic, config.delivery_timeout)

    def publish(self, node: str, key: int, version: int, acked: Acked) -> None:
        """Send change (key, version) from ``node``; ``acked(True)`` once the broker has it,
        ``acked(False)`` when delivery failed for good."""
        self.link(node).send(key, version, acked)

    def block_broker(self, node: str) -> Callable[[], None]:
        return self.link(node).cut()

    # -- consuming ---------------------------------------------------------------------------
    def _handler(self, replica: str) -> Callable[[Record, Callable[[], None]], None]:
        def handle(record: Record, done: Callable[[], None]) -> None:
            self.apply_change(replica, int(record.key), int(record.value), done)

        return handle

    def apply_change(
        self, replica: str, key: int, version: int, done: Callable[[], None], attempt: int = 0
    ) -> None:
        """Apply one change at a replica through its service; retried until it succeeds."""
        service = self.services[replica]
        database = self.databases[replica]
        copy = self.replicas.index(replica)
        seen = self._seen[replica]
        env = self.ctx.env

        def applied(outcome: int, _value: Any) -> None:
            if outcome == OK:
                self.consistency.apply(copy, key, version, env.now)
                seen.add((key, version))

        def work(job: Job) -> None:
            if self.idempotent and (key, version) in seen:
                service.finish(job, OK)  # a repeat of an event id already applied
                return
            self.db_call(
                replica,
                database,
                key,
                True,
                applied,
                lambda outcome, _v: service.finish(job, outcome),
                version=version,
            )

        def after(outcome: int, _value: Any) -> None:
            if outcome == OK:
                done()
                return
            wait = min(1.0, 0.1 * 2**attempt)  # retry.backoff 100 ms up to 1 s [K-CONS]
            later(env, wait, lambda: self.apply_change(replica, key, version, done, attempt + 1))

        service.call(work, after)

    def _member_down(self, replica: str) -> Callable[[Instance], None]:
        group = self.groups[replica]
        return lambda instance: group.crash_member(instance.index % len(group.members))

    def _member_up(self, replica: str) -> Callable[[Instance], None]:
        group = self.groups[replica]
        return lambda instance: group.restart_member(instance.index % len(group.members))

    # -- faults and gauges -------------------------------------------------------------------
    def consumer_group(self, name: str) -> ConsumerGroup | None:
        return self.groups.get(name)

    def lose_leader(self, fault: Any) -> Callable[[], None] | None:
        return lose_leader(self.broker, fault)

    def gauges(self) -> dict[str, float]:
        return {"consumer_lag_max": consumer_lag_max(self.ctx.recorder)}


def lose_leader(broker: Broker, fault: Any) -> Callable[[], None] | None:
    """Apply a ``broker-leader-loss`` to ``broker``; returns the undo (None if nothing died).

    ``broker`` / ``broker:N`` kill a whole broker; ``broker:partition/N`` kills the leader of
    partition N of ``fault.topic`` or, when it is not given, of every topic."""
    assert isinstance(fault, BrokerLeaderLossFault)
    if fault.partition is None:
        broker_id = fault.broker_id or 0
        broker.fail_broker(broker_id)
        return lambda: broker.recover_broker(broker_id)
    partition: int = fault.partition
    topics = [fault.topic] if fault.topic else list(broker.topics)
    lost = [(t, broker.fail_leader(t, partition)) for t in topics if t in broker.topics]
    if all(leader is None for _, leader in lost):
        return None

    def recover() -> None:
        for topic, leader in lost:
            if leader is not None:
                broker.recover_replica(topic, partition, leader)

    return recover


def consumer_lag_max(recorder: Recorder) -> float:
    """The largest lag any consumer group's partition showed (records; 0 if none sampled)."""
    lag = recorder.tables.get("consumer_lag")
    values = lag.columns["lag"] if lag is not None else []
    return float(max(values)) if len(values) else 0.0
