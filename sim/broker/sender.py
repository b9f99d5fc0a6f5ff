"""The producer's sender: produce requests on the wire, their answers, timeouts and retries.

A ready batch becomes one produce request. The request crosses the network link from the
producer's node to the ``broker`` node (link faults apply: a ``latency`` fault delays it, a
``partition`` holds it, TCP-like, :mod:`sim.infra.network`), then the broker's own latency and
append server (:mod:`sim.broker.cluster`); the answer crosses back the same way. A producer's
requests travel on one connection and its answers on one back, each in order (TCP), so the
requests of one producer to one partition reach the broker in the order they were sent. A
request not answered within ``request_timeout`` fails with ``REQUEST_TIMED_OUT``: the client
closes the connection, so a request still held on a cut link is never delivered, and the batch
is retried like after any error answer [K-PROD]. A retry waits ``retry_backoff`` doubling up
to ``retry_backoff_max``, ±20 % jitter, and is not sent once ``delivery_timeout`` has passed
since the first ``send``: the batch fails for good. An answer to an attempt that already timed
out, or that reaches a producer whose process crashed, changes nothing and is not retried.

With idempotence the batch keeps its sequence numbers across retries (the broker drops a
duplicate); when the broker has lost the producer's sequence (``OUT_OF_ORDER_SEQUENCE_NUMBER``
on the oldest batch) the producer bumps its epoch and renumbers (KIP-360).
"""

from __future__ import annotations

from typing import Protocol

import simpy

from sim.broker.accumulator import Batch, PartitionQueue
from sim.broker.cluster import Broker, ProduceRequest
from sim.broker.log import Offset
from sim.broker.producer_settings import ProducerSettings
from sim.infra.network import Network, Transmission
from sim.kernel.context import SimContext
from sim.kernel.rng import Stream

__all__ = ["ProducerCore", "Sender"]


class ProducerCore(Protocol):
    """What the sender needs of its producer (:class:`sim.broker.producer.Producer`)."""

    ctx: SimContext
    env: simpy.Environment
    broker: Broker
    config: ProducerSettings
    name: str
    _stream: Stream

    @property
    def producer_id(self) -> str: ...

    def _complete(self, batch: Batch, base: Offset) -> None: ...

    def _fail(self, batch: Batch, error: str) -> None: ...

    def _drain(self, queue: PartitionQueue) -> None: ...


class Sender:
    """Sends one producer's batches and handles their answers."""

    def __init__(self, producer: ProducerCore, network: Network | None, node: str) -> None:
        self.producer = producer
        self.network = network
        self.node = node
        """The producer's network node (its service, or ``connector:X``)."""

    def send(self, queue: PartitionQueue, batch: Batch) -> None:
        producer = self.producer
        config = producer.config
        idempotent = config.idempotence
        if idempotent and batch.seq_epoch != queue.epoch:
            batch.base_seq = queue.next_seq
            batch.seq_epoch = queue.epoch
            queue.next_seq += len(batch.records)
        batch.attempts += 1
        attempt = batch.attempts
        queue.in_flight.append(batch)
        network, node = self.network, self.node
        connection = producer.producer_id  # one connection each way, in order (TCP)

        def answer(error: str | None, base: Offset) -> None:
            if network is None:
                self._answered(queue, batch, attempt, error, base)
            else:
                network.send(
                    "broker",
                    node,
                    lambda: self._answered(queue, batch, attempt, error, base),
                    (connection, "answers"),
                )

        request = ProduceRequest(
            producer=f"{producer.producer_id}#{queue.epoch}" if idempotent else producer.name,
            topic=queue.topic,
            partition=queue.partition,
            records=batch.records,
            acks=config.acks,
            epoch=queue.part.epoch,
            batch_id=batch.batch_id,
            on_response=answer,
            attempt=attempt,
            idempotent=idempotent,
            base_seq=batch.base_seq if idempotent else -1,
            size=batch.bytes,
        )
        held: Transmission | None = None
        if network is None:
            producer.broker.produce(request)
        else:
            held = network.send(
                node, "broker", lambda: producer.broker.produce(request), (connection, "requests")
            )
        if config.acks == "0":
            queue.in_flight.remove(batch)
            for record in batch.records:
                record.acked = True
            producer._complete(batch, -1)
            return
        # once this attempt is answered its timeout does nothing: it is cancelled then
        batch.timeout = producer.ctx.timeout_line(config.request_timeout).add(
            lambda: self._timed_out(queue, batch, attempt, held)
        )

    def _timed_out(
        self, queue: PartitionQueue, batch: Batch, attempt: int, held: Transmission | None
    ) -> None:
        if batch.attempts != attempt or batch not in queue.in_flight:
            return  # answered in time
        if held is not None:
            held.cancel()  # the connection is closed: the held request never arrives
        self._answered(queue, batch, attempt, "REQUEST_TIMED_OUT", -1)

    def _answered(
        self, queue: PartitionQueue, batch: Batch, attempt: int, error: str | None, base: Offset
    ) -> None:
        if batch.attempts != attempt or batch not in queue.in_flight:
            return  # an answer to an attempt that timed out
        if batch.timeout is not None:
            batch.timeout.cancel()  # this attempt is settled, and a later one counts up
            batch.timeout = None
        producer = self.producer
        queue.in_flight.remove(batch)
        now = producer.env.now
        if error is None:
            producer._complete(batch, base)
        elif now >= batch.deadline or queue.dead:
            producer._fail(batch, error)
        else:
            if error == "OUT_OF_ORDER_SEQUENCE_NUMBER" and self._is_oldest(queue, batch):
                queue.epoch += 1  # the broker lost our sequence: new epoch, renumber (KIP-360)
                queue.next_seq = 0
            config = producer.config
            backoff = min(
                config.retry_backoff * 2 ** (batch.attempts - 1), config.retry_backoff_max
            )
            batch.retry_at = now + backoff * (0.8 + 0.4 * producer._stream.uniform())
            self._requeue(queue, batch)
        if not queue.dead:
            producer._drain(queue)

    @staticmethod
    def _is_oldest(queue: PartitionQueue, batch: Batch) -> bool:
        others = [*queue.in_flight, *queue.batches]
        return all(other.batch_id > batch.batch_id for other in others)

    @staticmethod
    def _requeue(queue: PartitionQueue, batch: Batch) -> None:
        position = 0
        for other in queue.batches:
            if other.attempts == 0 or other.batch_id > batch.batch_id:
                break
            position += 1
        queue.batches.insert(position, batch)
