"""Event sourcing on the partitioned log: writers append, listeners project, readers answer.

The event topic ``<owner>.events`` is the source of truth [ES-KAFKA, DBZ-BLOG]. It is keyed by
entity key (all events of a key on one partition, in append order), kept forever
(``retention=None``) and never compacted: compaction would erase the history a replay needs
[ES-KAFKA, K-DESIGN]. Three roles, each with its own instance count:

* **Write service** (``writers`` instances; concurrency, service time and load balancer of the
  owner's service). A write arriving at the owner takes a slot, assigns the key's next version
  and appends the event with the broker's producer (``acks``, idempotence, retries and
  ``delivery_timeout`` as set in ``broker:``), holding its slot until the broker answers; it
  answers the client with the version once the append is acknowledged. The acknowledged append
  is the owner's commit. Kafka has no expected-version (conditional) appends, so the model
  assumes what an event-sourced service on Kafka must arrange: a single serialized writer per
  key [ES-KAFKA] — versions come from one counter per key. With one writer (the default) the
  events leave through one producer, so with idempotence they reach the log in version order;
  with several, two appends of one key through different writers' producers can overtake each
  other on the way to the log (the conditional write then drops the older one).
  The counter survives a writer crash (a restarted writer would rebuild it from its partition;
  that read is not timed). An append that fails for good answers the client with an error and
  leaves a gap in the key's versions; an append whose acknowledgement is lost (the writer
  crashed meanwhile) is still committed: the log has it.
* **Listeners**: for every service that serves reads (the owner and each replica) a consumer
  group named after it (``consumer:users``, ``consumer:orders``) with ``listeners`` members
  (:mod:`sim.broker.group`: assignment, rebalances, auto-commit, lag, seek). The listeners run
  in that service's read instances (member i in instance i modulo the readers) and each event
  costs what any consumer's apply costs in every broker pattern: a slot of the read service,
  its service time and a write of its read store, with the draws of "apply version v of key k
  at copy c". Projections are idempotent: an event whose version the store already holds (or a
  newer one) changes nothing — the conditional write finds the row newer and costs a query like
  a read — so a replay after a ``rewind`` reprocesses events, spends their work, and leaves
  the same state. A projection whose query fails (store down) is retried with backoff
  (``broker.retry_backoff`` doubling up to ``retry_backoff_max``, 100 ms to 1 s [K-PROD]),
  holding up its partition.
* **Read services** (``readers`` instances of each read-serving service, with that service's
  concurrency and service time) answer a read from their own read store. Reads are eventually
  consistent, even at the owner: a client that reads right after its write was acknowledged can
  find the projection behind (read-your-writes violations; writing to the log first and reading
  back loses read-your-own-writes [DBZ-BLOG]).

Consistency: the copies in the metrics are the replicas' read stores. The owner's read store is
not a copy (it is the owner's view of the log), but reads at the owner are answered from it.
Every projection that ran is recorded in the ``projections`` table (``time, store, key,
version, applied``; ``applied = 0`` for an event the store already reflected, e.g. a replay).

Fault targets: ``service:OWNER`` crashes the write service (its producers with it) and the
owner's read service, ``service:REPLICA`` that replica's read service, and each read service's
listeners with it; ``instance:X/N`` what instance N of X hosts. ``db:X`` is X's read store.
``link:X<->broker`` cuts X's producers and the listeners X hosts off the broker. ``rewind`` on
``consumer:X`` seeks that group back by a duration (every partition to the earliest offset at or after now minus the duration [K-CONS, K-OPS]) and replays. The duration
counts from now, as ``--reset-offsets --by-duration`` does: a group already lagging by more than
it is moved *forward* and skips the events in between for good (lost updates).
Each writer instance appends through its own producer (a crash loses the appends still in its
buffer: never committed, the clients got errors).

Left out: snapshots and upcasting (not offered by Kafka [ES-KAFKA]); commands that read the
aggregate's state before deciding (the write appends blindly); the guard of the conditional
write is decided when its work starts (members of one group never project one key
concurrently, except a crashed member's work already under way).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from sim.broker.cluster import Broker
from sim.broker.group import ConsumerGroup, Handler
from sim.broker.log import Record
from sim.config.model import PatternSettings, Scenario
from sim.config.sections import ServiceConfig
from sim.faults.topology import Topology
from sim.infra.service import Job, Service
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext
from sim.kernel.schedule import later
from sim.metrics.catalog import Metric
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import (
    CONSUMER_LAG_MAX,
    Producers,
    broker_links,
    consumer_lag_max,
    describe_broker,
    in_topic,
    send_version,
)
from sim.patterns.model import PatternModel, register_pattern

__all__ = ["EventSourcingModel", "EventSourcingSettings"]


class EventSourcingSettings(PatternSettings):
    """The log is the source of truth: writers append, listeners project, readers answer."""

    kind: Literal["event_sourcing"]
    writers: int = Field(
        1,
        ge=1,
        le=10_000,
        description="instances of the write service (the owner's concurrency and service time); "
        "one serialized writer per key is assumed [ES-KAFKA]",
    )
    listeners: int = Field(
        2,
        ge=1,
        le=10_000,
        description="members of the listener group of each read store (consumer:SERVICE); "
        "parallelism is capped by the partitions [RAO]",
    )
    readers: int = Field(
        3,
        ge=1,
        le=10_000,
        description="instances of each read service (that service's concurrency and service time)",
    )


def _with_instances(config: ServiceConfig, instances: int) -> ServiceConfig:
    """``config`` with another instance count (validated like any service)."""
    return ServiceConfig.model_validate({**config.model_dump(), "instances": instances})


@register_pattern
class EventSourcingModel(PatternModel):
    """The log is the source of truth; projections serve the reads."""

    settings = EventSourcingSettings
    spec: EventSourcingSettings
    metrics: ClassVar[tuple[Metric, ...]] = (CONSUMER_LAG_MAX,)

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        owner_config = scenario.services[self.owner]
        self.writer = Service(
            ctx,
            f"{self.owner}.writer",
            _with_instances(owner_config, spec.writers),
            self.network,
            node=self.owner,
        )
        self.broker = Broker(ctx, scenario.broker)
        self.topic = f"{self.owner}.events"
        # kept forever and never compacted: the log is the history [ES-KAFKA, K-DESIGN]
        self.broker.create_topic(self.topic, retention=None, compaction=False)
        self.producers = Producers(ctx, self.broker, self.network)
        for instance in self.writer.instances:  # one producer per writer process
            self.producers.get(self.owner, instance.index)
        self._versions: dict[int, int] = {}
        self._projections = ctx.recorder.table(
            "projections",
            {"time": "d", "store": "s", "key": "q", "version": "q", "applied": "q"},
        )
        self.groups = {
            name: ConsumerGroup(
                ctx,
                self.broker,
                self.topic,
                name,
                members=spec.listeners,
                handler=self._listener(name),
                config=scenario.broker,
            )
            for name in self.stores
        }

    @property
    def stores(self) -> list[str]:
        """The services that serve reads, each with a read store, listeners and readers."""
        return [self.owner, *self.replicas]

    def build_services(self) -> dict[str, Service]:
        # a read arriving at X is answered by X's read service from X's database
        configs = self.scenario.services
        readers = self.spec.readers
        return {
            name: Service(
                self.ctx,
                f"{name}.reader",
                _with_instances(configs[name], readers),
                self.network,
                node=name,
            )
            for name in self.stores
        }

    def all_services(self) -> list[Service]:
        return [self.writer, *self.services.values()]

    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        topology.add_publisher(self.owner, self.topic)
        describe_broker(topology, self.broker, self.topic, self.groups, self.network)

    def describe_services(self, topology: Topology) -> None:
        """The owner hosts the writers; every service that serves reads hosts its readers and
        its listeners (member i runs in reader instance i modulo the readers)."""
        for instance in self.writer.instances:
            topology.host(instance, self.owner, instance.index)
            topology.host(
                self.producers.get(self.owner, instance.index), self.owner, instance.index
            )
        for name, service in self.services.items():
            for instance in service.instances:
                topology.host(instance, name, instance.index)
            group = self.groups[name]
            for member in range(group.size):
                topology.host(group.member_handle(member), name, member % len(service.instances))

    def applies_committed(self) -> bool:
        # An event is in the log, and readable, once the high watermark passes it; its commit
        # is recorded when the writer hears the acknowledgement, which a listener can beat
        # (and an event whose acknowledgement failed is still in the log: a phantom).
        return False

    # -- the write service -------------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        delete = self.is_delete(index)
        self.request(index, self.owner, lambda job: self._append(job, key, delete), at=self.writer)

    def _append(self, job: Job, key: int, delete: bool) -> None:
        version = self._versions.get(key, 0) + 1  # one serialized writer per key [ES-KAFKA]
        self._versions[key] = version
        env = self.ctx.env
        answer = job.track(lambda ok: job.finish(OK if ok else ERROR, version))

        def acked(ok: bool) -> None:
            if ok:  # durable in the log whether or not the writer is still there to answer
                self.consistency.commit(key, version, env.now)
            answer(ok)

        writer = job.instance.index if job.instance is not None else 0
        send_version(
            self.producers.get(self.owner, writer), self.topic, key, (version, delete), acked
        )

    def broker_links(self, source: str, destination: str) -> list[Any]:
        return broker_links(self.network, self.producers, self.groups, source, destination)

    # -- listeners ---------------------------------------------------------------------------
    def _listener(self, store: str) -> Handler:
        copy = self.replicas.index(store) if store in self.replicas else -1

        def handle(record: Record, done: Callable[[], None]) -> None:
            version, delete = record.value
            self._project(store, copy, int(record.key), version, delete, done)

        return handle

    def _project(
        self,
        store: str,
        copy: int,
        key: int,
        version: int,
        delete: bool,
        done: Callable[[], None],
        attempt: int = 0,
    ) -> None:
        """Project one event into a read store through its service (a slot and its apply
        time, as any consumer's apply), writing only if it is newer than what the store
        holds; retried until it succeeds."""
        database = self.databases[store]
        env = self.ctx.env
        config = self.scenario.broker

        def committed(outcome: int, _value: Any) -> None:
            if outcome == OK:
                if copy >= 0:
                    self.consistency.apply(copy, key, version, env.now)
                self._projections.append(env.now, store, key, version, 1)

        def work(job: Job) -> None:
            if database.version(key) < version:
                job.write_row(
                    database,
                    key,
                    version=version,
                    delete=delete,
                    on_commit=committed,
                    then=lambda outcome, _v: job.finish(outcome),
                )
                return

            def unchanged(outcome: int, _value: Any) -> None:
                if outcome == OK:
                    self._projections.append(env.now, store, key, version, 0)
                job.finish(outcome)

            # the conditional write matches no row: it costs a query and changes nothing
            job.read_row(database, key, then=unchanged)

        def after(outcome: int, _value: Any) -> None:
            if outcome == OK:
                done()
                return
            wait = min(config.retry_backoff_max, config.retry_backoff * 2**attempt)
            later(
                env,
                wait,
                lambda: self._project(store, copy, key, version, delete, done, attempt + 1),
            )

        self.services[store].call(work, after, self.keyed("apply", copy, key, version, attempt))

    # -- drain -------------------------------------------------------------------------------
    def quiet(self) -> bool:
        return (
            super().quiet()
            and all(group.caught_up() for group in self.groups.values())
            and all(producer.pending == 0 for producer in self.producers.clients.values())
        )

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """An event appended but not yet projected into a replica's read store is on its way
        (an append still in the writer's buffer is not committed yet)."""
        return {
            copy: in_topic(self.broker, self.topic, self.groups[replica])
            for copy, replica in enumerate(self.replicas)
        }

    # -- gauges ------------------------------------------------------------------------------
    def gauges(self) -> dict[str, float]:
        return {"consumer_lag_max": consumer_lag_max(self.ctx.recorder)}
