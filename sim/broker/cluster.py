"""A Kafka-like broker cluster: topics, partitions, produce requests, retention and faults.

What is modelled (domain.md §1, §7):

- **Topics and partitions.** Each partition is an append-only log with offsets and timestamps
  (:mod:`sim.broker.log`) replicated over ``replication_factor`` brokers
  (:mod:`sim.broker.replication`). Topics are created on first use with the ``broker:`` defaults,
  or explicitly with :meth:`Broker.create_topic` (e.g. ``retention=None`` for an event-sourced
  topic [ES-KAFKA]). Replicas are placed round-robin over the brokers; the first is the
  preferred leader.
- **Produce requests.** A request reaches the leader one ``latency`` draw after it is sent
  (requests of one producer to one partition stay in order, as on one connection), then waits
  for the partition's append server, which writes ``partition_throughput`` bytes per second.
  The leader then checks leadership, ``min.insync.replicas`` (for acks=all), and the producer's
  sequence (idempotence: a duplicate is answered with the first append's offset, a gap with
  ``OUT_OF_ORDER_SEQUENCE_NUMBER``), appends, and answers one ``latency`` draw later: at once
  for acks=1, when the high watermark passes the batch for acks=all, never for acks=0
  [K-PROD, K-DESIGN].
- **Faults.** :meth:`Broker.fail_broker` kills a broker (every replica it holds),
  :meth:`Broker.fail_leader` kills only one partition's leader replica; both are hard failures
  (no controlled shutdown). Requests waiting on a dead leader fail with ``NETWORK_EXCEPTION`` as
  a reset connection does; the partition is unavailable to clients for failure detection +
  election + metadata refresh [K-BRK]; :meth:`Broker.recover_broker` and
  :meth:`Broker.recover_replica` bring replicas back.
- **Retention and compaction** run as periodic broker tasks every
  ``retention_check_interval`` and ``cleaner_backoff`` [K-BRK], from :meth:`Broker.start`.
- **Offsets for times**: :meth:`Broker.offsets_for_times` answers the earliest offset at or
  after a timestamp per partition [K-CONS].

Recorded tables (through ``ctx.recorder``): ``broker_lost`` (acknowledged or sent records that
disappeared: truncated by a new leader, dropped with acks=0), ``broker_duplicates`` (a retried
batch appended a second time), ``leader_elections``, ``isr_changes``, ``broker_cleanup``
(records removed by retention or compaction). Producers and consumer groups record the rest.

Left out: disks and page cache (an append is durable when it is on a replica's log), the
controller quorum's internals and failures, transactions, quotas, request queues other than the
per-partition append server, broker CPU and network saturation, fetch-from-follower,
tiered storage, partition reassignment and adding partitions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from sim.broker.always import check_broker, check_partition
from sim.broker.log import Offset, PartitionId, PartitionLog, Record
from sim.broker.metrics import BrokerMetrics
from sim.broker.replication import Partition
from sim.broker.topic import Topic, TopicSettings
from sim.config.broker import BrokerConfig
from sim.kernel.context import SimContext

__all__ = ["Broker", "ProduceRequest", "ResponseCallback", "TopicSettings"]

ResponseCallback = Callable[[str | None, Offset], None]
"""Answer to a produce request: ``(error or None, base offset or -1)``."""

_DEFAULT: Any = object()


@dataclass
class ProduceRequest:
    """One attempt to write one batch to one partition."""

    producer: str
    topic: str
    partition: PartitionId
    records: list[Record]
    acks: str
    epoch: int
    batch_id: int
    on_response: ResponseCallback
    attempt: int = 1
    idempotent: bool = False
    base_seq: int = -1
    size: int = 0


class Broker:
    """The cluster: brokers, topics and their partitions."""

    def __init__(self, ctx: SimContext, config: BrokerConfig) -> None:
        self.ctx = ctx
        self.config = config
        self.env = ctx.env
        self.sample_latency = config.latency.sampler(ctx.stream("broker:latency"))
        self.sample_replication = config.replication_latency.sampler(
            ctx.stream("broker:replication")
        )
        self.brokers_alive = [True] * config.brokers
        self.topics: dict[str, Topic] = {}
        self._connections: dict[tuple[str, str, int], float] = {}
        self._ids = [0, 0]  # last send id, last batch id
        self._retention_started = False
        self._cleaner_started = False
        self._started = False
        self.metrics = BrokerMetrics(ctx)
        if ctx.always.on:
            check_broker(self)

    def start(self) -> None:
        """Start the broker's periodic tasks (retention, compaction) for the topics it has;
        topics created later start theirs when created."""
        self._started = True
        for topic in self.topics.values():
            self._start_housekeeping(topic.settings)

    # --- topics -------------------------------------------------------------------------------

    @property
    def default_settings(self) -> TopicSettings:
        """The settings a topic gets when created on first use."""
        return TopicSettings.from_config(self.config)

    def create_topic(
        self,
        name: str,
        *,
        partitions: int | None = None,
        retention: float | None = _DEFAULT,
        compaction: bool | None = None,
    ) -> Topic:
        """Create a topic; unset arguments take the ``broker:`` defaults.

        ``retention=None`` keeps records forever. Creating an existing topic is an error.
        """
        if name in self.topics:
            raise ValueError(f"topic {name!r} already exists; create it before first use")
        settings = self.default_settings
        if partitions is not None:
            if partitions < 1:
                raise ValueError(f"a topic needs at least one partition (got {partitions})")
            settings = replace(settings, partitions=partitions)
        if retention is not _DEFAULT:
            settings = replace(settings, retention=retention)
        if compaction is not None:
            settings = replace(settings, compaction=compaction)
        topic = Topic(name, settings)
        brokers, rf = self.config.brokers, self.config.replication_factor
        shift = len(self.topics)
        for index in range(settings.partitions):
            replicas = tuple((index + shift + i) % brokers for i in range(rf))
            log = PartitionLog(settings.segment_bytes, settings.segment_time, name, index)
            part = Partition(self, name, index, replicas, log)
            if self.ctx.always.on:
                check_partition(part, self.ctx.always)
            part.start_without({b for b, alive in enumerate(self.brokers_alive) if not alive})
            topic.partitions.append(part)
        self.topics[name] = topic
        self._start_housekeeping(settings)
        return topic

    def topic(self, name: str) -> Topic:
        """The topic called ``name``, created with the defaults on first use."""
        found = self.topics.get(name)
        return found if found is not None else self.create_topic(name)

    def partition(self, topic: str, index: PartitionId) -> Partition:
        """One partition of a topic."""
        found = self.topics.get(topic)
        partitions = found.partitions if found is not None else self.topic(topic).partitions
        if 0 <= index < len(partitions):
            return partitions[index]
        raise ValueError(f"topic {topic!r} has partitions 0..{len(partitions) - 1} (got {index})")

    def topic_names(self) -> list[str]:
        """The topics, in creation order."""
        return list(self.topics)

    def partition_count(self, topic: str) -> int:
        """Number of partitions of a topic."""
        return len(self.topic(topic).partitions)

    # --- client-facing reads ------------------------------------------------------------------

    def is_available(self, topic: str, index: PartitionId) -> bool:
        """Whether clients can reach the partition's leader now."""
        return self.partition(topic, index).available

    def high_watermark(self, topic: str, index: PartitionId) -> Offset:
        """The offset below which records are committed and visible to consumers."""
        return self.partition(topic, index).hw

    def log_start(self, topic: str, index: PartitionId) -> Offset:
        """The first offset still stored (retention moves it forward)."""
        return self.partition(topic, index).log.log_start

    def records(self, topic: str, index: PartitionId, since: Offset = 0) -> list[Record]:
        """The records stored on the leader's log from offset ``since`` on (every one by
        default), committed or not (for checks and metrics)."""
        log = self.partition(topic, index).log
        return log.read(since, log.end, len(log)) if since else log.records()

    def offsets_for_times(self, topic: str, timestamp: float) -> dict[PartitionId, Offset | None]:
        """Per partition, the earliest committed offset whose timestamp is at or after
        ``timestamp``; None when no committed record is that recent (Kafka answers null)."""
        found: dict[PartitionId, Offset | None] = {}
        for part in self.topic(topic).partitions:
            offset = part.log.offset_for_time(timestamp)
            found[part.index] = offset if offset is not None and offset < part.hw else None
        return found

    # --- produce ------------------------------------------------------------------------------

    def new_send_id(self) -> int:
        """A run-wide unique id for one ``send()`` call (duplicates share it)."""
        self._ids[0] += 1
        return self._ids[0]

    def new_batch_id(self) -> int:
        """A run-wide unique id for one producer batch."""
        self._ids[1] += 1
        return self._ids[1]

    def produce(self, request: ProduceRequest) -> None:
        """Send a produce request; its answer comes through ``request.on_response``."""
        part = self.partition(request.topic, request.partition)
        now = self.env.now
        connection = (request.producer, request.topic, request.partition)
        arrive = max(now + self.sample_latency(), self._connections.get(connection, 0.0))
        self._connections[connection] = arrive
        done = max(arrive, part.busy_until) + request.size / self.config.partition_throughput
        part.busy_until = done
        event = self.env.timeout(done - now)
        event.callbacks.append(lambda _event: self._handle_produce(part, request))

    def _respond(self, request: ProduceRequest, error: str | None, base: Offset) -> None:
        if request.acks == "0":
            if error is not None:
                now = self.env.now
                for record in request.records:
                    self.metrics.lost.append(
                        now, record.topic, record.partition, -1, record.send_id, 1, "acks0-" + error
                    )
            return
        event = self.env.timeout(self.sample_latency())
        event.callbacks.append(lambda _event: request.on_response(error, base))

    def _handle_produce(self, part: Partition, request: ProduceRequest) -> None:
        if not part.leader_up or part.epoch != request.epoch:
            self._respond(request, "NOT_LEADER_OR_FOLLOWER", -1)
            return
        if request.acks == "all" and len(part.isr) < self.config.min_insync_replicas:
            self._respond(request, "NOT_ENOUGH_REPLICAS", -1)
            return
        if request.idempotent:
            verdict = self._check_sequence(part, request)
            if verdict is not None:
                self._respond(request, *verdict)
                return
        elif request.attempt > 1:
            self._note_duplicates(part, request)
        base = part.append(request.records, request.batch_id, request.base_seq)
        self._remember(part, request, base)
        if request.acks == "all":
            end = base + len(request.records)
            part.wait_for_commit(end, lambda error: self._committed(request, error, base))
        else:
            part.log.acknowledge(base, request.records)
            self._respond(request, None, base)

    def _committed(self, request: ProduceRequest, error: str | None, base: Offset) -> None:
        if error is None:
            part = self.partition(request.topic, request.partition)
            part.log.acknowledge(base, request.records)
        self._respond(request, error, base if error is None else -1)

    def _check_sequence(
        self, part: Partition, request: ProduceRequest
    ) -> tuple[str | None, Offset] | None:
        return part.producers.check_sequence(
            request.producer, request.base_seq, len(request.records)
        )

    def _remember(self, part: Partition, request: ProduceRequest, base: Offset) -> None:
        count = len(request.records)
        if request.idempotent:
            part.producers.appended_idempotent(request.producer, request.base_seq, count, base)
        elif request.acks != "0":
            horizon = self.config.delivery_timeout
            part.producers.appended_batch(request.batch_id, base, self.env.now, horizon)

    def _note_duplicates(self, part: Partition, request: ProduceRequest) -> None:
        first = part.producers.recent_batches.get(request.batch_id)
        if first is None:
            return
        now = self.env.now
        for i, record in enumerate(request.records):
            earlier = part.log.get(first + i)
            if earlier is not None and earlier.send_id == record.send_id:
                self.metrics.duplicates.append(
                    now, part.topic, part.index, first + i, record.send_id, request.producer
                )

    # --- faults -------------------------------------------------------------------------------

    def _check_broker(self, broker_id: int) -> None:
        if not 0 <= broker_id < self.config.brokers:
            raise ValueError(f"broker ids are 0..{self.config.brokers - 1} (got {broker_id})")

    def fail_broker(self, broker_id: int) -> None:
        """Kill a broker hard: every replica it holds dies at once."""
        self._check_broker(broker_id)
        self.brokers_alive[broker_id] = False
        for topic in self.topics.values():
            for part in topic.partitions:
                if broker_id in part.replicas:
                    part.replica_down(broker_id)

    def recover_broker(self, broker_id: int) -> None:
        """Restart a broker: its replicas truncate, catch up and rejoin the ISR."""
        self._check_broker(broker_id)
        self.brokers_alive[broker_id] = True
        for topic in self.topics.values():
            for part in topic.partitions:
                if broker_id in part.replicas:
                    part.replica_up(broker_id)

    def fail_leader(self, topic: str, index: PartitionId) -> int | None:
        """Kill the leader replica of one partition; returns its broker id (None if leaderless)."""
        part = self.partition(topic, index)
        leader = part.leader
        if leader is not None:
            part.replica_down(leader)
        return leader

    def recover_replica(self, topic: str, index: PartitionId, broker_id: int) -> None:
        """Bring back one partition's replica on ``broker_id`` (unless its broker is down)."""
        self._check_broker(broker_id)
        if self.brokers_alive[broker_id]:
            self.partition(topic, index).replica_up(broker_id)

    # --- housekeeping -------------------------------------------------------------------------

    def _start_housekeeping(self, settings: TopicSettings) -> None:
        if not self._started:
            return
        if settings.compaction and not self._cleaner_started:
            self._cleaner_started = True
            self.env.process(self._cleaner())
        needs_retention = settings.retention is not None and not settings.compaction
        if needs_retention and not self._retention_started:
            self._retention_started = True
            self.env.process(self._retention())

    def _retention(self) -> Any:
        while True:
            yield self.env.timeout(self.config.retention_check_interval)
            now = self.env.now
            for topic in self.topics.values():
                retention = topic.settings.retention
                if retention is None or topic.settings.compaction:
                    continue
                for part in topic.partitions:
                    removed = part.log.delete_expired(now - retention, part.hw, now)
                    if removed:
                        self.metrics.cleanup.append(
                            now,
                            topic.name,
                            part.index,
                            len(removed),
                            "retention",
                            part.log.log_start,
                        )

    def _cleaner(self) -> Any:
        ratio = self.config.min_cleanable_dirty_ratio
        while True:
            yield self.env.timeout(self.config.cleaner_backoff)
            now = self.env.now
            for topic in self.topics.values():
                if not topic.settings.compaction:
                    continue
                for part in topic.partitions:
                    dirty = part.log.dirty_ratio()
                    if dirty > 0 and dirty >= ratio:
                        removed = part.log.compact(now, topic.settings.delete_retention)
                        self.metrics.cleanup.append(
                            now,
                            topic.name,
                            part.index,
                            len(removed),
                            "compaction",
                            part.log.log_start,
                        )
