"""Transactional outbox: the owner writes the row and an outbox record in one local transaction.

A write at the owner is one database transaction that changes the row and inserts the event
(key, version) into the outbox table [DBZ-BLOG]; the owner answers at its commit, so the event
exists exactly when the change does. A relay then publishes the outbox to the change topic:

The outbox insert is a second statement of the owner's transaction: it adds one draw of
``insert_time`` to the write, holding the row lock and the connection (more write latency
than CDC, which writes only the row). The outbox table grows by a row per write; what the
relay has published is deleted: by a cleanup job every ``cleanup_interval`` with ``relay:
cdc`` (the table is insert-only for the router [DBZ-OUTBOX]), by the relay itself with
``relay: polling``. ``outbox_rows_max`` is the largest the table got.

- ``relay: cdc`` — a Debezium-like connector (:class:`sim.connectors.cdc.CdcConnector`)
  streams the outbox inserts from the commit log, as the outbox event router does
  [DBZ-OUTBOX]; there is nothing to snapshot (``snapshot.mode=no_data``): without a stored
  offset it streams from its replication slot's position. It publishes with Kafka Connect's
  forced producer settings (node ``connector:<owner>``); the slot's WAL is measured as for CDC.
- ``relay: polling`` — a scheduled job of the owner service, running in its instance 0
  (:class:`sim.connectors.outbox_poller.OutboxPoller`): it selects up to ``batch_max_rows``
  unsent rows every ``poll_interval``, publishes them with that instance's producer, waits for
  the acknowledgements and deletes the rows. Both queries load the owner's database.

Either way the relay and the cleanup load the owner's database (``connector_db_load``), and a
relay crash (``connector-crash``, target ``connector:<owner>``) re-publishes what it had not
recorded as done: delivery is at least once. The polling relay's crash stops the job only (the
instance and its producer go on); a ``link:connector:<owner>`` fault does not apply to it (it
publishes from the owner's node: ``link:<owner><->broker``). Every event carries its id (key, version);
consumers deduplicate by it when ``idempotent_consumers`` is true and otherwise apply the
repeats (off by default, as for every broker pattern: a Kafka consumer does not deduplicate
unless the application does). Nothing committed is lost, nothing uncommitted is published (no
phantoms), and the copies converge; the price is the extra insert and one more hop between the
commit and the broker (the relay). The one exception is a ``relay: cdc`` slot invalidated by
``max_slot_wal_keep_size`` (unlimited by default): with nothing to snapshot, the connector
streams from its new slot and the outbox rows committed in between are never published
(``lost_updates``).

Left out: routing by aggregate type to several topics, and a polling relay running on several
instances (it is one job of instance 0).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import Field

from sim.config.clients import ConnectorSettings
from sim.config.distributions import Exponential, ExponentialTime
from sim.config.model import PatternSettings, Scenario
from sim.config.types import NonNegativeDuration, PositiveDuration
from sim.connectors.cdc import CdcConnector
from sim.connectors.outbox_poller import OutboxCleaner, OutboxPoller
from sim.faults.topology import Topology
from sim.infra.database import Database
from sim.kernel.context import SimContext
from sim.metrics.catalog import Metric
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import send_version
from sim.patterns.model import register_pattern
from sim.patterns.relay import SLOT_METRICS, Relay, RelayModel

__all__ = ["OutboxModel", "OutboxSettings"]


OUTBOX_ROWS_MAX = Metric(
    "outbox_rows_max", "records", "largest number of rows the outbox table held", "cost"
)


class OutboxSettings(PatternSettings):
    """The owner writes the row and an outbox record in one transaction; a relay publishes it."""

    kind: Literal["outbox"]
    relay: Literal["cdc", "polling"] = Field(
        "cdc", description="the relay: a log-based connector or a poller of unsent outbox rows"
    )
    poll_interval: PositiveDuration = Field(
        1.0, description="with relay: polling, how often unsent rows are read; judgment"
    )
    batch_max_rows: int = Field(1000, ge=1, description="rows per poll [JDBC-CFG]")
    insert_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.0005),
        description="the outbox insert's time inside the owner's transaction (one more "
        "statement); judgment: a point operation takes 0.1-1 ms [PG-PERF]",
    )
    cleanup_interval: PositiveDuration = Field(
        60.0,
        description="with relay: cdc, how often published rows are deleted (the table is "
        "insert-only for the relay [DBZ-OUTBOX]); judgment",
    )
    row_time: NonNegativeDuration = Field(
        0.00001, description="database time per row a cleanup deletes (10 us); judgment"
    )
    idempotent_consumers: bool = Field(
        False,
        description="consumers drop an event id they already applied; off, as a Kafka consumer "
        "is by default (Debezium advises deduplicating by event id [DBZ-OUTBOX, DBZ-BLOG])",
    )
    connector: ConnectorSettings = Field(
        default_factory=lambda: ConnectorSettings.model_validate({})
    )


@register_pattern
class OutboxModel(RelayModel):
    """The row and its event commit together; a relay publishes the event."""

    settings = OutboxSettings
    spec: OutboxSettings
    metrics: ClassVar[tuple[Metric, ...]] = (*RelayModel.metrics, *SLOT_METRICS, OUTBOX_ROWS_MAX)

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self._insert_time = spec.insert_time.sampler(ctx.stream("outbox:insert"))
        database = self.databases[self.owner]
        relay = self.relay
        if isinstance(relay, OutboxPoller):  # the relay deletes what it sent
            published: Callable[[], int] = lambda: relay.marked  # noqa: E731
        else:
            assert isinstance(relay, CdcConnector)
            published = lambda: relay.stored.lsn if relay.stored is not None else 0  # noqa: E731
        self.table = OutboxCleaner(
            ctx,
            database,
            published,
            interval=spec.cleanup_interval,
            row_time=spec.row_time,
            relay_deletes=isinstance(relay, OutboxPoller),
        )

    @property
    def connect_worker(self) -> bool:
        return self.spec.relay == "cdc"

    @property
    def publisher(self) -> str:
        return self.relay_node if self.spec.relay == "cdc" else self.owner

    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        if self.spec.relay == "cdc":
            topology.startable(self.table)

    def describe_services(self, topology: Topology) -> None:
        super().describe_services(topology)
        if self.spec.relay == "polling":  # the polling relay is a job of owner instance 0
            topology.host(self.relay, self.owner, 0)

    def write(self, index: int, key: int) -> None:
        table = self.table
        self.commit_at_owner(
            index,
            key,
            self.databases[self.owner],
            lambda _version, _now: table.inserted(),
            extra=self._insert_time,
        )

    def build_relay(self, database: Database) -> Relay:
        spec = self.spec
        retry_backoff = self.scenario.broker.retry_backoff_max
        if spec.relay == "cdc":
            return CdcConnector(
                self.ctx,
                self.owner,
                database,
                self.publish_from_connector,
                spec.connector,
                retry_backoff=retry_backoff,
                snapshot=False,
            )
        owner = self.owner
        producer = self.producers.get(owner, 0)  # a job of the owner's instance 0
        return OutboxPoller(
            self.ctx,
            owner,
            database,
            lambda key, version, acked: send_version(producer, self.topic, key, version, acked),
            poll_interval=spec.poll_interval,
            batch_max_rows=spec.batch_max_rows,
            scan_rate=spec.connector.snapshot_rate,
            retry_backoff=retry_backoff,
        )

    def gauges(self) -> dict[str, float]:
        gauges = super().gauges()
        for metric in SLOT_METRICS:  # a polling relay holds no slot
            gauges.setdefault(metric.name, math.nan)
        gauges["outbox_rows_max"] = float(self.table.rows_max)
        return gauges
