"""Shared plumbing of the patterns that move changes through the broker.

Every such pattern has one database per service, a broker (:mod:`sim.broker.cluster`) with a
change topic ``<owner>.changes`` (``<entity>.changes`` for each of several entities, on the
run's one broker, each with the broker's partition count) keyed by entity key (so the changes of one key stay in order
on one partition), producers — one per process that publishes (:class:`Producers`: an owner
instance, a Connect worker), each living and dying with its process — and, for each replica
service, a consumer group named after its copy (``consumer:orders``; ``consumer:users.orders``
for orders' copy of users, one entity of several) with one member per instance of the service. A member runs inside its instance (a crash of the instance crashes the member:
redelivery of what it had not committed, a rebalance after the session timeout) and hands each
change to its service: the apply takes a slot, the service's work and a write of the copy's
database, exactly like any other request, with the draws of the work "apply version v of key
k at copy c" (:mod:`sim.kernel.draws`), the same in every broker pattern; an apply that fails
(the service or its database is down) is retried after the consumer's backoff
(``broker.retry_backoff`` doubling up to ``retry_backoff_max``), holding up its partition, as a
consumer that does not skip does.

A change carries the owner's version. Consumers that are ``idempotent`` remember the (key,
version) ids they applied and drop a repeat; the others (the default in every broker pattern,
as for a Kafka consumer) apply whatever arrives, so a redelivered change is applied twice (a
duplicate).

The broker is on the network: producers' requests and consumers' fetches cross the links
between their node and ``broker`` (:func:`broker_links`), so ``latency`` and ``partition`` on
``link:X<->broker`` act on X's producers and on the consumers X hosts (a member cut off the
broker can neither fetch nor heartbeat: it is evicted after the session timeout), and
``broker-outage`` (:class:`BrokerOutage`) cuts every link to the cluster.

Measured: ``consumer_lag_max`` (records; the largest lag any partition of any group showed).
At the end of the run a change is *pending* (not lost) while it is in the topic beyond a
copy's consumers or in a producer's buffer (:meth:`MessagingModel.pending_versions`).

Left out: one topic for all of an entity's changes (none per event type); consumers commit
their offsets as configured in ``broker:`` (auto-commit by default).
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup
from sim.broker.log import Record
from sim.broker.producer import Producer
from sim.broker.producer_settings import ProducerSettings
from sim.config.model import Scenario
from sim.faults.topology import Topology
from sim.infra.network import Network, NetworkLink
from sim.infra.service import Job
from sim.kernel.codes import OK
from sim.kernel.context import SimContext
from sim.kernel.recorder import Recorder
from sim.kernel.schedule import later
from sim.metrics.catalog import Metric
from sim.metrics.pairs import Pairs, PairsLike, as_pairs, pairs_of
from sim.metrics.requests import RequestLog
from sim.patterns.model import PatternModel

__all__ = [
    "CONSUMER_LAG_MAX",
    "Acked",
    "BrokerOutage",
    "MessagingModel",
    "Producers",
    "broker_links",
    "consumer_lag_max",
    "describe_broker",
    "in_topic",
    "pending_records",
    "send_version",
]

Acked = Callable[[bool], None]

CONSUMER_LAG_MAX = Metric(
    "consumer_lag_max",
    "records",
    "largest consumer lag (log end minus committed offset) of any partition",
    "freshness",
)


class BrokerOutage:
    """The whole cluster out of reach (``broker-outage``): every link to the broker is cut,
    so producers' requests wait and time out and every consumer is cut off; the brokers keep
    their logs."""

    __slots__ = ("groups", "network")

    def __init__(self, network: Network, groups: list[ConsumerGroup]) -> None:
        self.network = network
        self.groups = groups

    def cut(self) -> Callable[[], None]:
        heal_network = self.network.isolate("broker")
        members = [(group, i) for group in self.groups for i in range(group.size)]
        for group, index in members:
            group.isolate_member(index)

        def heal() -> None:
            heal_network()
            for group, index in members:
                group.reconnect_member(index)

        return heal


class Producers:
    """The producer clients of a pattern, one per process: ``(node, instance)``."""

    def __init__(self, ctx: SimContext, broker: Broker, network: Network) -> None:
        self.ctx = ctx
        self.broker = broker
        self.network = network
        self.clients: dict[tuple[str, int], Producer] = {}

    def get(
        self, node: str, instance: int = 0, settings: ProducerSettings | None = None
    ) -> Producer:
        """The producer of instance ``instance`` of ``node`` (created on first use)."""
        found = self.clients.get((node, instance))
        if found is None:
            found = Producer(
                self.ctx,
                self.broker,
                settings if settings is not None else ProducerSettings.of(self.broker.config),
                name=f"{node}/{instance}",
                network=self.network,
                node=node,
            )
            self.clients[(node, instance)] = found
        return found

    @property
    def nodes(self) -> set[str]:
        return {node for node, _ in self.clients}


def send_version(producer: Producer, topic: str, key: int, value: Any, acked: Acked) -> None:
    """Send one change; ``acked(True)`` once the broker has it, ``acked(False)`` when its
    delivery failed for good."""
    producer.send(topic, key, value, on_ack=lambda _metadata, error: acked(error is None))


def broker_links(
    network: Network,
    producers: Producers,
    groups: dict[str, ConsumerGroup],
    source: str,
    destination: str,
) -> list[Any]:
    """What ``link:source->destination`` cuts or slows when one end is the broker: the node's
    producer traffic (if it publishes) and the connections of the consumers it hosts."""
    node = destination if source == "broker" else source
    parts: list[Any] = []
    if node in producers.nodes:
        parts.append(NetworkLink(network, source, destination))
    group = groups.get(node)
    if group is not None:
        parts.extend(group.member_link(i) for i in range(group.size))
    return parts


class MessagingModel(PatternModel):
    """Base of patterns whose copies are updated by consumers of a change topic."""

    metrics: ClassVar[tuple[Metric, ...]] = (CONSUMER_LAG_MAX,)

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.idempotent = bool(getattr(spec, "idempotent_consumers", False))
        self.broker = ctx.once("broker", lambda: Broker(ctx, scenario.broker))
        entity = self.data.entity
        self.topic = f"{self.owner if entity is None else entity}.changes"
        self.broker.create_topic(self.topic)
        self.producers = ctx.once("producers", lambda: Producers(ctx, self.broker, self.network))
        self._seen: dict[str, set[tuple[int, int]]] = {name: set() for name in self.replicas}
        self.groups: dict[str, ConsumerGroup] = {
            replica: ConsumerGroup(
                ctx,
                self.broker,
                self.topic,
                name,
                members=self.services[replica].config.instances,
                handler=self._handler(replica),
                config=scenario.broker,
            )
            for replica, name in zip(self.replicas, self.copy_names, strict=True)
        }
        """The consumer group of each replica service (named after its copy)."""

    @property
    def publisher(self) -> str:
        """The node whose producer publishes the changes (the owner, unless a relay does)."""
        return self.owner

    # -- elaboration and start ---------------------------------------------------------------
    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        for node in sorted(self.producers.nodes) or [self.publisher]:
            topology.add_publisher(node, self.topic)
        names = dict(zip(self.replicas, self.copy_names, strict=True))
        named = {names.get(node, node): group for node, group in self.groups.items()}
        describe_broker(topology, self.broker, self.topic, named, self.network)

    def describe_services(self, topology: Topology) -> None:
        """Each service hosts its instances; an instance of the owner also runs its producer
        (when it publishes), and a replica's instance i runs member i of its consumer group."""
        for name, service in self.services.items():
            group = self.groups.get(name)
            for instance in service.instances:
                topology.host(instance, name, instance.index)
                producer = self.producers.clients.get((name, instance.index))
                if producer is not None:
                    topology.host(producer, name, instance.index)
                if group is not None:
                    topology.host(
                        group.member_handle(instance.index % group.size), name, instance.index
                    )

    # -- publishing --------------------------------------------------------------------------
    def publish(self, node: str, key: int, version: int, acked: Acked, instance: int = 0) -> None:
        """Send change (key, version) from ``node``'s producer (of that instance);
        ``acked(True)`` once the broker has it, ``acked(False)`` when delivery failed for good."""
        send_version(self.producers.get(node, instance), self.topic, key, version, acked)

    def broker_links(self, source: str, destination: str) -> list[Any]:
        return broker_links(self.network, self.producers, self.groups, source, destination)

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
        idempotent = self.idempotent
        env = self.ctx.env
        config = self.scenario.broker

        def applied(outcome: int, _value: Any) -> None:
            if outcome == OK:
                self.consistency.apply(copy, key, version, env.now)
                if idempotent:  # only an idempotent consumer keeps the ids it applied
                    seen.add((key, version))

        def work(job: Job) -> None:
            if idempotent and (key, version) in seen:
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

        service.call(work, after, self.keyed("apply", copy, key, version, attempt))

    # -- drain -------------------------------------------------------------------------------
    def quiet(self) -> bool:
        return (
            super().quiet()
            and all(group.caught_up() for group in self.groups.values())
            and all(producer.pending == 0 for producer in self.producers.clients.values())
        )

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """A change is on its way to a copy while it is in the topic beyond the copy's
        consumer position, or in a producer's buffer (or, with a relay, not yet read)."""
        buffered = [(int(r.key), _version(r.value)) for r in pending_records(self.producers)]
        on_the_way = as_pairs([*buffered, *self.unpublished()])
        found: dict[int, Pairs] = {}
        for copy, replica in enumerate(self.replicas):
            found[copy] = as_pairs(
                np.concatenate(
                    [on_the_way, in_topic(self.broker, self.topic, self.groups[replica])]
                )
            )
        return found

    def unpublished(self) -> list[tuple[int, int]]:
        """Committed changes the pattern will still publish (a relay's backlog)."""
        return []

    # -- gauges ------------------------------------------------------------------------------
    def gauges(self) -> dict[str, float]:
        return {"consumer_lag_max": consumer_lag_max(self.ctx.recorder)}


def describe_broker(
    topology: Topology,
    broker: Broker,
    topic: str,
    groups: dict[str, ConsumerGroup],
    network: Network,
) -> None:
    """Add a broker (with its outage) and the consumer groups reading ``topic`` to a topology,
    to be started in that order."""
    topology.set_broker(broker, BrokerOutage(network, list(groups.values())))
    topology.startable(broker)
    for name, group in groups.items():
        topology.add_group(name, group, topic)
        topology.startable(group)


def _version(value: Any) -> int:
    return int(value[0]) if isinstance(value, tuple) else int(value)


def in_topic(broker: Broker, topic: str, group: ConsumerGroup) -> Pairs:
    """The (key, version) records of ``topic`` the group has yet to process: from its
    positions to the log end, and those its members fetched and have in hand."""
    keys, versions = array("q"), array("q")
    for partition, position in group.positions().items():
        for record in broker.records(topic, partition, since=position):
            if record.value is not None:
                keys.append(int(record.key))
                versions.append(_version(record.value))
    for record in group.in_hand():  # fetched, not processed yet
        keys.append(int(record.key))
        versions.append(_version(record.value))
    return pairs_of(keys, versions)


def pending_records(producers: Producers) -> list[Any]:
    """Every record still in a producer's buffer or on its way to the broker."""
    return [r for producer in producers.clients.values() for r in producer.pending_records()]


def consumer_lag_max(recorder: Recorder) -> float:
    """The largest lag any consumer group's partition showed (records; 0 if none sampled)."""
    lag = recorder.tables.get("consumer_lag")
    values = lag.columns["lag"] if lag is not None else []
    return float(max(values)) if len(values) else 0.0
