"""Log-based change data capture: the owner writes only its database; a connector tails its log.

A write at the owner is one local transaction and nothing else; the owner answers at its
commit. A Debezium-like connector (:class:`sim.infra.connectors.CdcConnector`, named after the
owner: fault target ``connector:<owner>``) first snapshots the rows that already exist, then
streams the owner's commit log from the position read at the snapshot's start, in commit
order, keyed by primary key, into the change topic; the consumer groups of the replicas apply
the changes (see :mod:`sim.patterns.messaging`). Nothing committed is lost: the replication
slot keeps the log until the connector's offset is flushed, so a connector that is down, stalled
or cut off from the broker only falls behind (``wal_retained_max`` measures the log the slot
held). Delivery is at least once: a connector crash re-sends what came after its last flushed
offset (``offset_flush_interval``, 60 s [K-CONNECT]), and consumers that do not deduplicate
(``idempotent_consumers: false``, the default) apply those changes again: duplicates, and
reorders where an older version lands after a newer one. The copies still converge, because
the redelivery ends with the latest version of every key.

A crash before the first offset flush that contains the finished snapshot makes the connector
snapshot again (``snapshot.mode=initial`` snapshots when no offset is stored [DBZ-PG]); the new
snapshot carries only the latest version of each row, so versions committed while the connector
was down and overwritten before the new snapshot never reach the copies (lost updates, though
the copies end at the latest version), and a row deleted meanwhile is in no snapshot, so the
copies keep it (divergent keys).

The connector publishes through its own producer with the settings Kafka Connect forces on
source tasks (``acks=all``, one request in flight, no delivery timeout [K-CONNECT]). Its node
on the network is ``connector:<owner>``; a ``partition`` between it and the broker holds its
sends, without expiry, until the partition heals.

Measured: ``wal_retained_max`` (entries, exact maximum) and ``connector_db_load`` (connection
time of the snapshot scans over the database's pool × run time).

Left out: the network between the connector and the database (logical decoding is taken to
see a commit at its commit instant), the cost of decoding on the database server, several
tables or tasks, schema changes.
"""

from __future__ import annotations

from typing import Any

from sim.config.model import Scenario
from sim.context import SimContext
from sim.infra.connectors import TAG, CdcConnector, OutboxPoller, connect_producer_config
from sim.infra.database import Database
from sim.infra.poller import JdbcSourcePoller
from sim.infra.producer import Producer
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import Acked, BrokerLink, MessagingModel

__all__ = ["CdcModel", "RelayModel"]

Relay = CdcConnector | OutboxPoller | JdbcSourcePoller


class RelayModel(MessagingModel):
    """A pattern whose owner only commits locally and a relay (a connector) publishes.

    Subclasses choose the relay in :meth:`build_relay`.
    """

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.relay_node = f"connector:{self.owner}"
        self.relay = self.build_relay(self.databases[self.owner])
        self.relay.start()

    def build_relay(self, database: Database) -> Relay:
        """The relay of this pattern, reading ``database`` (the owner's)."""
        raise NotImplementedError

    # -- the owner's writes ------------------------------------------------------------------
    def write(self, index: int, key: int) -> None:
        self.commit_at_owner(index, key, self.databases[self.owner])

    # -- the connector's producer ------------------------------------------------------------
    def make_link(self, node: str) -> BrokerLink:
        if node != self.relay_node:
            return super().make_link(node)
        config = connect_producer_config(self.scenario.broker)
        producer = Producer(self.ctx, self.broker, config, name=node)
        return BrokerLink(self.ctx, producer, self.topic, expiry=None)

    def publish_from_connector(self, key: int, version: int, acked: Acked) -> None:
        """Send a change from the Connect task; held without expiry while it is cut off."""
        self.publish(self.relay_node, key, version, acked)

    # -- faults and gauges -------------------------------------------------------------------
    def connector(self, name: str) -> Relay | None:
        return self.relay if name == self.owner else None

    def gauges(self) -> dict[str, float]:
        gauges = super().gauges()
        database = self.databases[self.owner]
        capacity = database.profile.pool * max(self.ctx.env.now, 1e-12)
        gauges["connector_db_load"] = database.busy_by_tag.get(TAG, 0.0) / capacity
        if isinstance(self.relay, CdcConnector):
            gauges["wal_retained_max"] = float(self.relay.wal_retained_max)
        return gauges


class CdcModel(RelayModel):
    """The owner commits locally; a Debezium-like connector streams its commit log."""

    kind = "cdc"

    def build_relay(self, database: Database) -> Relay:
        return CdcConnector(
            self.ctx,
            self.owner,
            database,
            self.publish_from_connector,
            self.spec.connector,
            snapshot=True,
        )
