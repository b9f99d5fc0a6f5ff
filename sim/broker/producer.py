"""A Kafka producer: partitioning, batching, acks, retries, idempotence and back-pressure.

Use::

    producer = Producer(ctx, broker, name="orders-service")
    producer.send("orders", key=order_id, value=payload, on_ack=callback)

``send`` returns at once; ``on_ack(metadata, error)`` is called exactly once, with a
:class:`RecordMetadata` and ``None`` on success or ``None`` and an error code on failure (the
record is then lost to the application). ``value=None`` is a tombstone.

What is modelled (domain.md §1.3, [K-PROD]):

- **Partitioning**: keyed records go to ``murmur2(key) % partitions`` [K-PART]; keyless records
  stick to one random partition until its batch is sent (the sticky partitioner; the adaptive
  steering toward faster brokers is left out).
- **Batching** per partition: a batch is sent when it holds ``batch_size`` bytes, when
  ``linger`` has passed since it was opened, when a newer batch exists behind it, or on
  :meth:`Producer.flush`; at most ``max_in_flight`` batches per partition await an answer.
- **Acks**: ``0`` completes when the batch is sent (offset -1, never retried, lost silently if
  the leader is gone); ``1`` and ``all`` complete on the broker's answer
  (:mod:`sim.broker.cluster`).
- **Requests on the wire** (:mod:`sim.broker.sender`): a produce request crosses the network
  link from the producer's node to the broker and its answer crosses back, so link faults act
  on it; one that is not answered within ``request_timeout`` fails and is retried.
- **Retries** of every error answer, after a backoff of ``retry_backoff`` doubling up to
  ``retry_backoff_max`` with ±20% jitter, until ``delivery_timeout`` after ``send`` [K-PROD].
  Batches for a partition without a reachable leader wait in the buffer (no request is sent)
  and expire at the same deadline.
- **A process's memory**: :meth:`Producer.crash` (its process died) loses every record still
  in the accumulator or waiting for buffer space, and answers to requests already on the wire
  find no one (nothing is retried); a restart is a new producer with a new id.
- **Idempotence**: batches carry a producer id and sequence numbers; the broker drops a retried
  duplicate and refuses a gap, so retries neither duplicate nor reorder. When the broker has
  lost the sequence (an unclean election), the producer bumps its epoch and renumbers, as
  KIP-360 does. Without idempotence a retry of a batch that was in fact written appends it
  again (recorded in ``broker_duplicates``) and can reorder batches in flight.
- **Back-pressure**: unacknowledged records hold ``buffer_memory`` bytes; a ``send`` that does
  not fit waits (in order) for space and fails after ``max_block``.

Recorded: one row per record in ``broker_produce`` (time of the answer, latency from ``send``,
attempts, error or "").

Left out: compression, ``max.request.size``, transactions, metadata fetches for new topics.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from sim.broker.accumulator import INF, AckCallback, Batch, PartitionQueue, RecordMetadata
from sim.broker.cluster import Broker
from sim.broker.log import Offset, PartitionId, Record
from sim.broker.murmur2 import partition_for_key
from sim.broker.producer_settings import ProducerSettings
from sim.broker.sender import Sender
from sim.infra.network import Network
from sim.kernel.context import SimContext

__all__ = ["AckCallback", "Producer", "RecordMetadata"]


class Producer:
    """One producer client (one ``KafkaProducer`` instance)."""

    def __init__(
        self,
        ctx: SimContext,
        broker: Broker,
        settings: ProducerSettings | None = None,
        name: str = "producer",
        network: Network | None = None,
        node: str | None = None,
    ) -> None:
        self.ctx = ctx
        self.env = ctx.env
        self.broker = broker
        self.config = settings if settings is not None else ProducerSettings.of(broker.config)
        self.name = name
        self.up = True
        self.incarnation = 0
        """Bumped by a crash: a new process, a new producer id."""
        self._stream = ctx.stream(f"broker:producer:{name}")
        self.sender = Sender(self, network, name if node is None else node)
        self._queues: dict[tuple[str, PartitionId], PartitionQueue] = {}
        self._sticky: dict[str, PartitionId] = {}
        self._counts: dict[str, int] = {}
        self._blocked: deque[tuple[Record, AckCallback | None, float]] = deque()
        self._block_timer_at = INF
        self.buffered_bytes = 0
        self._table = ctx.recorder.table(
            "broker_produce",
            {
                "time": "d",
                "producer": "s",
                "topic": "s",
                "partition": "i",
                "offset": "q",
                "latency": "d",
                "attempts": "i",
                "error": "s",
            },
        )

    # --- public API ---------------------------------------------------------------------------

    def send(
        self,
        topic: str,
        key: Any,
        value: Any,
        on_ack: AckCallback | None = None,
        size: int | None = None,
    ) -> None:
        """Queue one record; ``on_ack(metadata, error)`` tells the outcome later."""
        now = self.env.now
        if not self.up:
            record = Record(topic, -1, key, value, now, 0, self.name, -1)
            self._finish(record, on_ack, -1, 0, "PRODUCER_CLOSED")
            return
        size = self.config.record_size if size is None else size
        send_id = self.broker.new_send_id()
        record = Record(topic, -1, key, value, now, size, self.name, send_id)
        if size > self.config.buffer_memory:
            self._finish(record, on_ack, -1, 0, "RECORD_TOO_LARGE")
            return
        if self._blocked or self.buffered_bytes + size > self.config.buffer_memory:
            deadline = now + self.config.max_block
            self._blocked.append((record, on_ack, deadline))
            self._arm_block_timer(deadline)
            return
        self._accept(record, on_ack)

    def flush(self) -> None:
        """Make every open batch ready now (``KafkaProducer.flush`` without the waiting)."""
        for queue in self._queues.values():
            for batch in queue.batches:
                batch.closed = True
            self._drain(queue)

    def pending_records(self) -> list[Record]:
        """Records sent but not yet answered (buffered, in flight or blocked)."""
        found = [
            record
            for queue in self._queues.values()
            for batch in (*queue.batches, *queue.in_flight)
            for record in batch.records
        ]
        return found + [record for record, _handler, _deadline in self._blocked]

    @property
    def pending(self) -> int:
        """Records sent but not yet answered (buffered, in flight or blocked)."""
        queued = sum(
            len(batch.records)
            for queue in self._queues.values()
            for batch in (*queue.batches, *queue.in_flight)
        )
        return queued + len(self._blocked)

    # --- accumulator --------------------------------------------------------------------------

    # --- life -------------------------------------------------------------------------------

    def crash(self) -> None:
        """The process dies, and the producer's memory with it: records still in the
        accumulator or waiting for buffer space are gone (their callbacks never run: nobody is
        left to hear them); requests already on the wire reach the broker, but their answers
        find no one, so nothing is retried."""
        self.up = False
        self.incarnation += 1
        for queue in self._queues.values():
            queue.dead = True
            for batch in queue.batches:
                for record in batch.records:
                    self._note(record, -1, batch.attempts, "PRODUCER_CRASHED")
            queue.batches.clear()
        self._queues = {}
        for record, _handler, _deadline in self._blocked:
            self._note(record, -1, 0, "PRODUCER_CRASHED")
        self._blocked.clear()
        self._sticky.clear()
        self.buffered_bytes = 0

    def restart(self) -> None:
        """A new process starts a new producer, with an empty buffer and a new producer id."""
        self.up = True

    @property
    def producer_id(self) -> str:
        """The id idempotent requests carry (one per process incarnation)."""
        return f"{self.name}@{self.incarnation}"

    def _queue(self, topic: str, partition: PartitionId) -> PartitionQueue:
        queue = self._queues.get((topic, partition))
        if queue is None:
            part = self.broker.partition(topic, partition)
            queue = self._queues[(topic, partition)] = PartitionQueue(topic, partition, part)
        return queue

    def _open_batch(self, queue: PartitionQueue, size: int) -> Batch | None:
        if queue.batches:
            last = queue.batches[-1]
            if (
                not last.closed
                and last.attempts == 0
                and (last.bytes + size <= self.config.batch_size)
            ):
                return last
        return None

    def _choose_partition(self, topic: str, key: Any, size: int) -> PartitionId:
        count = self._counts.get(topic)
        if count is None:
            count = self._counts[topic] = self.broker.partition_count(topic)
        if key is not None:
            return partition_for_key(key, count)
        current = self._sticky.get(topic)
        if current is not None and self._open_batch(self._queue(topic, current), size):
            return current
        choice = int(self._stream.uniform() * count)
        if count > 1 and choice == current:
            choice = (choice + 1 + int(self._stream.uniform() * (count - 1))) % count
        self._sticky[topic] = choice
        return choice

    def _accept(self, record: Record, on_ack: AckCallback | None) -> None:
        partition = self._choose_partition(record.topic, record.key, record.size)
        record.partition = partition
        queue = self._queue(record.topic, partition)
        batch = self._open_batch(queue, record.size)
        if batch is None:
            if queue.batches:
                queue.batches[-1].closed = True
            now = self.env.now
            batch = Batch(self.broker.new_batch_id(), now, now + self.config.delivery_timeout)
            queue.batches.append(batch)
            if self.config.linger > 0:
                timer = self.env.timeout(self.config.linger)
                timer.callbacks.append(lambda _event: self._drain(queue))
        batch.records.append(record)
        batch.handlers.append(on_ack)
        batch.bytes += record.size
        self.buffered_bytes += record.size
        if batch.bytes >= self.config.batch_size or self.config.linger == 0:
            self._drain(queue)

    def _ready(self, queue: PartitionQueue, batch: Batch, now: float) -> bool:
        return (
            batch.closed
            or batch.attempts > 0
            or batch.bytes >= self.config.batch_size
            or now >= batch.created + self.config.linger
        )

    def _drain(self, queue: PartitionQueue) -> None:
        now = self.env.now
        self._expire(queue, now)
        config = self.config
        part = queue.part
        while queue.batches and len(queue.in_flight) < config.max_in_flight:
            batch = queue.batches[0]
            if not part.available:
                self._wait_for_leader(queue)
                return
            if batch.retry_at > now:
                self._arm(queue, batch.retry_at)
                self._arm(queue, queue.batches[0].deadline)
                return
            if not self._ready(queue, batch, now):
                return
            queue.batches.popleft()
            self.sender.send(queue, batch)

    def _wait_for_leader(self, queue: PartitionQueue) -> None:
        self._arm(queue, queue.batches[0].deadline)
        if not queue.watching:
            queue.watching = True

            def available() -> None:
                queue.watching = False
                self._drain(queue)

            queue.part.watch_availability(available)

    def _arm(self, queue: PartitionQueue, at: float) -> None:
        if at >= queue.timer_at:
            return
        queue.timer_at = at

        def fire(_event: Any) -> None:
            if queue.timer_at == at:
                queue.timer_at = INF
            self._drain(queue)

        self.env.timeout(max(0.0, at - self.env.now)).callbacks.append(fire)

    def _expire(self, queue: PartitionQueue, now: float) -> None:
        if not queue.batches or queue.batches[0].deadline > now:
            return  # the front batch is the oldest, so its deadline is the earliest
        keep: deque[Batch] = deque()
        for batch in queue.batches:
            if batch.deadline <= now:
                self._fail(batch, "DELIVERY_TIMEOUT")
            else:
                keep.append(batch)
        queue.batches = keep

    # --- completion -------------------------------------------------------------------------

    def _complete(self, batch: Batch, base: Offset) -> None:
        for i, (record, handler) in enumerate(zip(batch.records, batch.handlers, strict=True)):
            self._finish(record, handler, base + i if base >= 0 else -1, batch.attempts, None)
        self._release(batch.bytes)

    def _fail(self, batch: Batch, error: str) -> None:
        for record, handler in zip(batch.records, batch.handlers, strict=True):
            self._finish(record, handler, -1, batch.attempts, error)
        self._release(batch.bytes)

    def _finish(
        self,
        record: Record,
        handler: AckCallback | None,
        offset: Offset,
        attempts: int,
        error: str | None,
    ) -> None:
        self._note(record, offset, attempts, error)
        if handler is not None:
            if error is None:
                handler(
                    RecordMetadata(record.topic, record.partition, offset, record.timestamp), None
                )
            else:
                handler(None, error)

    def _note(self, record: Record, offset: Offset, attempts: int, error: str | None) -> None:
        now = self.env.now
        self._table.append(
            now,
            self.name,
            record.topic,
            record.partition,
            offset,
            now - record.timestamp,
            attempts,
            error or "",
        )

    # --- buffer memory ------------------------------------------------------------------------

    def _release(self, size: int) -> None:
        self.buffered_bytes = max(0, self.buffered_bytes - size)
        blocked = self._blocked
        while blocked and self.buffered_bytes + blocked[0][0].size <= self.config.buffer_memory:
            record, handler, _deadline = blocked.popleft()
            self._accept(record, handler)

    def _arm_block_timer(self, at: float) -> None:
        if at >= self._block_timer_at:
            return
        self._block_timer_at = at

        def fire(_event: Any) -> None:
            if self._block_timer_at == at:
                self._block_timer_at = INF
            self._expire_blocked()

        self.env.timeout(max(0.0, at - self.env.now)).callbacks.append(fire)

    def _expire_blocked(self) -> None:
        now = self.env.now
        blocked = self._blocked
        while blocked and blocked[0][2] <= now:
            record, handler, _deadline = blocked.popleft()
            self._finish(record, handler, -1, 0, "BUFFER_EXHAUSTED_TIMEOUT")
        if blocked:
            self._arm_block_timer(blocked[0][2])
