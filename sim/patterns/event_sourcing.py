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
  key [ES-KAFKA] — versions come from one counter per key and the events of the write service
  leave through one producer session, so with idempotence they reach the log in version order.
  The counter survives a writer crash (a restarted writer would rebuild it from its partition;
  that read is not timed). An append that fails for good answers the client with an error and
  leaves a gap in the key's versions; an append whose acknowledgement is lost (the writer
  crashed meanwhile) is still committed: the log has it.
* **Listeners**: for every service that serves reads (the owner and each replica) a consumer
  group named after it (``consumer:users``, ``consumer:orders``) with ``listeners`` members
  (:mod:`sim.infra.consumer`: assignment, rebalances, auto-commit, lag, seek). Each event costs
  one draw of ``projection_time``, then a write of that service's read store (its database).
  Projections are idempotent: an event whose version the store already holds (or a newer one)
  changes nothing — the conditional write finds the row newer and costs a query like a read —
  so a replay after a ``rewind`` reprocesses events, spends their projection time, and leaves
  the same state. A projection whose query fails (store down) is retried with backoff
  (``retry.backoff`` 100 ms doubling to 1 s [K-PROD]), holding up its partition.
* **Read services** (``readers`` instances of each read-serving service, with that service's
  concurrency and service time) answer a read from their own read store. Reads are eventually
  consistent, even at the owner: a client that reads right after its write was acknowledged can
  find the projection behind (read-your-writes violations; writing to the log first and reading
  back loses read-your-own-writes [DBZ-BLOG]).

Consistency: the copies in the metrics are the replicas' read stores. The owner's read store is
not a copy (it is the owner's view of the log), but reads at the owner are answered from it.
Every projection that ran is recorded in the ``projections`` table (``time, store, key,
version, applied``; ``applied = 0`` for an event the store already reflected, e.g. a replay).

Fault targets: ``service:OWNER`` crashes the write service and the owner's read service,
``service:REPLICA`` that replica's read service, ``instance:X/N`` instance N of each of X's
roles that has one. Listeners are a separate role: crashing a read service does not stop its
listeners (use ``consumer-crash`` / ``consumer-pause`` on ``consumer:X``). ``db:X`` is X's read
store. ``rewind`` on ``consumer:X`` seeks that group back by a duration (every partition to the
earliest offset at or after now minus the duration [K-CONS, K-OPS]) and replays. The duration
counts from now, as ``--reset-offsets --by-duration`` does: a group already lagging by more than
it is moved *forward* and skips the events in between for good (lost updates).
``link:OWNER<->broker`` holds the writer's appends (failed after ``delivery_timeout``).

Left out: snapshots and upcasting (not offered by Kafka [ES-KAFKA]); commands that read the
aggregate's state before deciding (the write appends blindly); a listener cut off from the broker
by a ``partition`` (only appends are held); a listener's projection work is not cancelled when
its member crashes (a query already at the database completes); the guard of the conditional
write is decided when the query is issued (members of one group never project one key
concurrently, except a crashed member's query already sent).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from sim.config.model import EventSourcingPattern, Scenario
from sim.context import SimContext
from sim.infra.broker import Broker
from sim.infra.common import ERROR, OK, later
from sim.infra.consumer import ConsumerGroup, Handler
from sim.infra.log import Record
from sim.infra.producer import Producer
from sim.infra.service import Instance, Job, Service
from sim.metrics.requests import RequestLog
from sim.patterns.base import PatternModel
from sim.patterns.messaging import BrokerLink, consumer_lag_max, lose_leader

__all__ = ["EventSourcingModel"]


class EventSourcingModel(PatternModel):
    """The log is the source of truth; projections serve the reads."""

    kind = "event_sourcing"
    spec: EventSourcingPattern

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        configs = scenario.services
        self.stores = [self.owner, *self.replicas]
        """The services that serve reads, each with a read store, listeners and readers."""
        self.writer = Service(
            ctx,
            f"{self.owner}.writer",
            configs[self.owner].model_copy(update={"instances": spec.writers}),
        )
        # The read services replace the services the base class built: a read arriving at X is
        # answered by X's read service from X's database (PatternModel.read does exactly that).
        self.services = {
            name: Service(
                ctx, f"{name}.reader", configs[name].model_copy(update={"instances": spec.readers})
            )
            for name in self.stores
        }
        self.broker = Broker(ctx, scenario.broker)
        self.topic = f"{self.owner}.events"
        # kept forever and never compacted: the log is the history [ES-KAFKA, K-DESIGN]
        self.broker.create_topic(self.topic, retention=None, compaction=False)
        producer = Producer(ctx, self.broker, scenario.broker, name=self.owner)
        # while the writer is cut off, its client holds appends, failing each after
        # delivery_timeout [K-PROD]
        self.link = BrokerLink(ctx, producer, self.topic, scenario.broker.delivery_timeout)
        self._versions: dict[int, int] = {}
        self._projections = ctx.recorder.table(
            "projections",
            {"time": "d", "store": "O", "key": "q", "version": "q", "applied": "q"},
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

    # -- the write service -------------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        delete = self.is_delete(index)
        owner, log, env, network = self.owner, self.log, self.ctx.env, self.network

        def answered(outcome: int, value: Any) -> None:
            version = value if outcome == OK and isinstance(value, int) else -1
            network.send(owner, "client", lambda: log.finish(index, env.now, outcome, version))

        def work(job: Job) -> None:
            self._append(job, key, delete)

        network.send("client", owner, lambda: self.writer.call(work, answered))

    def _append(self, job: Job, key: int, delete: bool) -> None:
        version = self._versions.get(key, 0) + 1  # one serialized writer per key [ES-KAFKA]
        self._versions[key] = version
        env = self.ctx.env

        def acked(ok: bool) -> None:
            if ok:  # durable in the log whether or not the writer is still there to answer
                self.consistency.commit(key, version, env.now)
            self.writer.finish(job, OK if ok else ERROR, version)

        self.link.send(key, (version, delete), acked)

    def block_broker(self, node: str) -> Callable[[], None]:
        if node != self.owner:
            return lambda: None  # listeners are not cut off (see the module docstring)
        return self.link.cut()

    # -- listeners ---------------------------------------------------------------------------
    def _listener(self, store: str) -> Handler:
        sample = self.spec.projection_time.sampler(self.ctx.stream(f"projection:{store}"))
        copy = self.replicas.index(store) if store in self.replicas else None
        env = self.ctx.env

        def handle(record: Record, done: Callable[[], None]) -> None:
            version, delete = record.value
            key = int(record.key)
            later(env, sample(), lambda: self._project(store, copy, key, version, delete, done))

        return handle

    def _project(
        self,
        store: str,
        copy: int | None,
        key: int,
        version: int,
        delete: bool,
        done: Callable[[], None],
        attempt: int = 0,
    ) -> None:
        """Write one event into a read store, only if it is newer than what the store holds."""
        database = self.databases[store]
        env = self.ctx.env
        newer = database.version(key) < version

        def committed(outcome: int, _value: Any) -> None:
            if outcome == OK:
                if copy is not None:
                    self.consistency.apply(copy, key, version, env.now)
                self._projections.append(env.now, store, key, version, 1)

        def back(outcome: int, _value: Any) -> None:
            if outcome == OK:
                if not newer:
                    self._projections.append(env.now, store, key, version, 0)
                done()
                return
            wait = min(1.0, 0.1 * 2**attempt)  # retry.backoff 100 ms doubling to 1 s [K-PROD]
            later(
                env,
                wait,
                lambda: self._project(store, copy, key, version, delete, done, attempt + 1),
            )

        if newer:
            self.db_call(
                store, database, key, True, committed, back, version=version, delete=delete
            )
        else:  # the conditional write matches no row: it costs a query, changes nothing
            self.db_call(store, database, key, False, None, back)

    # -- faults and gauges -------------------------------------------------------------------
    def roles(self, service: str) -> list[Service]:
        """The request-serving roles running as ``service`` (listeners are separate)."""
        found = [self.services[service]] if service in self.services else []
        return [self.writer, *found] if service == self.owner else found

    def fault_objects(self, target: str) -> list[Any]:
        kind, _, rest = target.partition(":")
        if kind == "service":
            return [i for role in self.roles(rest) for i in role.instances]
        if kind == "instance":
            name, _, number = rest.rpartition("/")
            index = int(number)
            found: list[Instance] = []
            for role in self.roles(name):
                if index < len(role.instances):
                    found.append(role.instances[index])
            return found
        return super().fault_objects(target)

    def consumer_group(self, name: str) -> ConsumerGroup | None:
        return self.groups.get(name)

    def lose_leader(self, fault: Any) -> Callable[[], None] | None:
        return lose_leader(self.broker, fault)

    def gauges(self) -> dict[str, float]:
        return {
            "consumer_lag_max": consumer_lag_max(self.ctx.recorder),
            "wal_retained_max": math.nan,  # no database commit log is tailed
            "connector_db_load": math.nan,  # no connector queries a database
        }
