"""Patterns whose owner only commits locally while a relay (a connector) publishes.

The owner answers a write at its commit; nothing else happens on the request path. A relay
reads the owner's database (its commit log, its table or its outbox) and publishes the changes
to the change topic through its own producer; the consumer groups of the replicas apply them
(:mod:`sim.patterns.messaging`). The relay's node on the network is ``connector:<owner>`` and it
is the fault target ``connector:<owner>`` (a crash takes its producer down with it). A Kafka
Connect task publishes with the settings Connect forces on source tasks
(:func:`~sim.broker.producer_settings.connect_source_settings`): requests time out and are
retried, and delivery never times out, so a ``partition`` between the connector and the broker
only delays its changes.

Measured: ``connector_db_load`` (the relay's connection time over the database's pool × run
time) and, for a relay that holds a replication slot, ``wal_retained_max``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sim.broker.producer_settings import connect_source_settings
from sim.config.data import EntitiesConfig
from sim.config.model import Problem, Scenario
from sim.connectors.cdc import CdcConnector
from sim.connectors.jdbc import JdbcSourcePoller
from sim.connectors.outbox_poller import OutboxPoller
from sim.connectors.task import TAG
from sim.faults.topology import Topology
from sim.infra.database import Database
from sim.kernel.context import SimContext
from sim.metrics.catalog import Metric
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import Acked, MessagingModel, send_version

__all__ = [
    "CONNECTOR_DB_LOAD",
    "SLOT_METRICS",
    "WAL_RETAINED_BYTES_MAX",
    "WAL_RETAINED_MAX",
    "Relay",
    "RelayModel",
    "one_connector_per_owner",
]

Relay = CdcConnector | OutboxPoller | JdbcSourcePoller

CONNECTOR_DB_LOAD = Metric(
    "connector_db_load",
    "fraction",
    "share of the owner database's connection time the relay's queries took",
    "cost",
)
WAL_RETAINED_MAX = Metric(
    "wal_retained_max",
    "records",
    "largest number of commit-log entries the replication slot held",
    "cost",
)
WAL_RETAINED_BYTES_MAX = Metric(
    "wal_retained_bytes_max", "bytes", "largest WAL the replication slot held, in bytes", "cost"
)
SLOT_INVALIDATIONS = Metric(
    "slot_invalidations",
    "count",
    "replication slots invalidated for holding more than max_slot_wal_keep_size",
    "integrity",
)
SLOT_METRICS = (WAL_RETAINED_MAX, WAL_RETAINED_BYTES_MAX, SLOT_INVALIDATIONS)
"""What a relay that holds a replication slot measures."""


class RelayModel(MessagingModel):
    """The owner commits locally; a relay chosen by :meth:`build_relay` publishes."""

    metrics: ClassVar[tuple[Metric, ...]] = (*MessagingModel.metrics, CONNECTOR_DB_LOAD)

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.relay_node = f"connector:{self.owner}"
        self.relay_producer = (
            self.producers.get(self.relay_node, 0, connect_source_settings(scenario.broker))
            if self.connect_worker
            else None
        )
        """The Connect worker's producer: it dies with a connector crash, as the task does."""
        self.relay = self.build_relay(self.databases[self.owner])

    @property
    def connect_worker(self) -> bool:
        """True when the relay runs in a Kafka Connect worker with its own producer (false for
        a relay that is a job of the owner service and publishes with its producer)."""
        return True

    def build_relay(self, database: Database) -> Relay:
        """The relay of this pattern, reading ``database`` (the owner's)."""
        raise NotImplementedError

    @property
    def publisher(self) -> str:
        return self.relay_node

    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        producer = () if self.relay_producer is None else (self.relay_producer,)
        topology.add_connector(self.owner, self.relay, *producer)
        topology.startable(self.relay)

    # -- the owner's writes ------------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        self.commit_at_owner(index, key, self.databases[self.owner])

    # -- the connector's producer ------------------------------------------------------------
    def publish_from_connector(self, key: int, version: int, acked: Acked) -> None:
        """Send a change from the Connect task (its delivery never times out [K-CONNECT])."""
        assert self.relay_producer is not None
        send_version(self.relay_producer, self.topic, key, version, acked)

    # -- drain -------------------------------------------------------------------------------
    def quiet(self) -> bool:
        return super().quiet() and self.relay.idle

    def unpublished(self) -> list[tuple[int, int]]:
        return self.relay.pending_changes()

    # -- gauges ------------------------------------------------------------------------------
    def gauges(self) -> dict[str, float]:
        gauges = super().gauges()
        database = self.databases[self.owner]
        capacity = database.profile.pool * max(self.ctx.env.now, 1e-12)
        gauges["connector_db_load"] = database.busy_by_tag.get(TAG, 0.0) / capacity
        if isinstance(self.relay, CdcConnector):
            relay = self.relay
            gauges["wal_retained_max"] = float(relay.wal_retained_max)
            gauges["wal_retained_bytes_max"] = float(
                relay.wal_retained_max * relay.settings.wal_bytes_per_change
            )
            gauges["slot_invalidations"] = float(relay.slot_invalidations)
        return gauges


def one_connector_per_owner(scenario: Scenario) -> list[Problem]:
    """A relay is one connector per owner (``connector:OWNER``) capturing one entity's table:
    with several entities, no two may have the same owner (located at the pattern's kind)."""
    if not isinstance(scenario.data, EntitiesConfig):
        return []
    found: list[Problem] = []
    seen: dict[str, str] = {}
    for name, entity in scenario.data.entities.items():
        if entity.owner in seen:
            found.append(
                (
                    ("kind",),
                    f"one connector per owner database, one entity each: {seen[entity.owner]} "
                    f"and {name} both have owner {entity.owner} (data.entities.{name}.owner); "
                    "give them different owners, or use dual_write",
                    entity.owner,
                )
            )
        seen.setdefault(entity.owner, name)
    return found
