"""Shared plumbing of the patterns that move changes through the broker.

Every such pattern has one database per service, a broker (:mod:`sim.broker.cluster`) with a
change topic ``<owner>.changes`` keyed by entity key (so the changes of one key stay in order
on one partition), a producer for the node that publishes the changes
(:mod:`sim.broker.producer`) and, for each replica service, a consumer group named after it
(``consumer:orders``) with one member per instance of the service. A member runs inside its
instance (a crash of the instance crashes the member: redelivery of what it had not
committed, a rebalance after the session timeout) and hands each change to its service: the
apply takes a slot and writes the copy's database, exactly like any other request; an apply
that fails (the service or its database is down) is retried after the consumer's backoff
(``broker.retry_backoff`` doubling up to ``retry_backoff_max``), holding up its partition, as a
consumer that does not skip does.

A change carries the owner's version. Consumers that are ``idempotent`` remember the (key,
version) ids they applied and drop a repeat; the others apply whatever arrives, so a redelivered
change is applied twice (a duplicate) and an old one after a newer (a reorder).

A node cut off the broker by a ``partition`` keeps its sends buffered, as the Kafka client does,
and fails each after ``delivery_timeout`` if the partition has not healed by then.

Measured: ``consumer_lag_max`` (records; the largest lag any partition of any group showed).

Left out: a producer's unsent buffer is not lost when its instance crashes; one topic for all
changes; consumers commit their offsets as configured in ``broker:`` (auto-commit by default).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.broker.producer import Producer
from sim.broker.producer_settings import ProducerSettings
from sim.config.model import Scenario
from sim.faults.topology import Topology
from sim.infra.service import Job
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.recorder import Recorder
from sim.kernel.schedule import later
from sim.metrics.catalog import Metric
from sim.metrics.requests import RequestLog
from sim.patterns.model import PatternModel

__all__ = [
    "CONSUMER_LAG_MAX",
    "Acked",
    "BrokerLink",
    "MessagingModel",
    "consumer_lag_max",
    "describe_broker",
]

Acked = Callable[[bool], None]

CONSUMER_LAG_MAX = Metric(
    "consumer_lag_max",
    "records",
    "largest consumer lag (log end minus committed offset) of any partition",
    "freshness",
)


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

    metrics: ClassVar[tuple[Metric, ...]] = (CONSUMER_LAG_MAX,)

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.idempotent = bool(getattr(spec, "idempotent_consumers", False))
        self.broker = Broker(ctx, scenario.broker)
        self.topic = f"{self.owner}.changes"
        self.broker.create_topic(self.topic)
        self._links: dict[str, BrokerLink] = {}
        self._seen: dict[str, set[tuple[int, int]]] = {name: set() for name in self.replicas}
        self.groups: dict[str, ConsumerGroup] = {
            replica: ConsumerGroup(
                ctx,
                self.broker,
                self.topic,
                replica,
                members=self.services[replica].config.instances,
                handler=self._handler(replica),
                config=scenario.broker,
            )
            for replica in self.replicas
        }

    @property
    def publisher(self) -> str:
        """The node whose producer publishes the changes (the owner, unless a relay does)."""
        return self.owner

    # -- elaboration and start ---------------------------------------------------------------
    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        self.link(self.publisher)
        for node in self._links:
            topology.add_publisher(node, self.topic)
        describe_broker(topology, self.broker, self.topic, self.groups)

    def describe_services(self, topology: Topology) -> None:
        """Each service hosts its instances; a replica's instance i also runs member i of its
        consumer group."""
        for name, service in self.services.items():
            group = self.groups.get(name)
            for instance in service.instances:
                topology.host(instance, name, instance.index)
                if group is not None:
                    topology.host(
                        group.member_handle(instance.index % group.size), name, instance.index
                    )

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
        producer = Producer(self.ctx, self.broker, ProducerSettings.of(config), name=node)
        return BrokerLink(self.ctx, producer, self.topic, config.delivery_timeout)

    def publish(self, node: str, key: int, version: int, acked: Acked) -> None:
        """Send change (key, version) from ``node``; ``acked(True)`` once the broker has it,
        ``acked(False)`` when delivery failed for good."""
        self.link(node).send(key, version, acked)

    def broker_links(self, node: str) -> list[Any]:
        found = self._links.get(node)
        return [] if found is None else [found]

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
        config = self.scenario.broker

        def applied(outcome: int, _value: Any) -> None:
            if outcome == OK:
                self.consistency.apply(copy, key, version, env.now)
                seen.add((key, version))

        def work(job: Job) -> None:
            if self.idempotent and (key, version) in seen:
                job.finish(OK)  # a repeat of an event id already applied
                return
            job.write_row(
                database,
                key,
                version=version,
                on_commit=applied,
                then=lambda outcome, _v: job.finish(outcome),
            )

        def after(outcome: int, _value: Any) -> None:
            if outcome == OK:
                done()
                return
            wait = min(config.retry_backoff_max, config.retry_backoff * 2**attempt)
            later(env, wait, lambda: self.apply_change(replica, key, version, done, attempt + 1))

        service.call(work, after)

    # -- gauges ------------------------------------------------------------------------------
    def gauges(self) -> dict[str, float]:
        return {"consumer_lag_max": consumer_lag_max(self.ctx.recorder)}


def describe_broker(
    topology: Topology, broker: Broker, topic: str, groups: dict[str, ConsumerGroup]
) -> None:
    """Add a broker and the consumer groups reading ``topic`` to a topology, to be started in
    that order."""
    topology.set_broker(broker)
    topology.startable(broker)
    for name, group in groups.items():
        topology.add_group(name, group, topic)
        topology.startable(group)


def consumer_lag_max(recorder: Recorder) -> float:
    """The largest lag any consumer group's partition showed (records; 0 if none sampled)."""
    lag = recorder.tables.get("consumer_lag")
    values = lag.columns["lag"] if lag is not None else []
    return float(max(values)) if len(values) else 0.0
