"""Transactional outbox: the owner writes the row and an outbox record in one local transaction.

A write at the owner is one database transaction that changes the row and inserts the event
(key, version) into the outbox table [DBZ-BLOG]; the owner answers at its commit, so the event
exists exactly when the change does. A relay then publishes the outbox to the change topic:

- ``relay: cdc`` — a Debezium-like connector (:class:`sim.infra.connectors.CdcConnector`)
  streams the outbox inserts from the commit log, as the outbox event router does
  [DBZ-OUTBOX]. The outbox table is kept empty (rows are inserted and deleted in the same
  transaction), so there is nothing to snapshot: the connector runs with
  ``snapshot.mode=no_data`` and, without a stored offset, streams from its replication slot's
  position. It publishes with Kafka Connect's forced producer settings (node
  ``connector:<owner>``); ``wal_retained_max`` is measured as for CDC.
- ``relay: polling`` — a scheduled job of the owner service
  (:class:`sim.infra.connectors.OutboxPoller`) selects up to ``batch_max_rows`` unsent rows
  every ``poll_interval``, publishes them with the owner's producer (so ``link:<owner><->broker``
  cuts it off), waits for the acknowledgements and marks the rows sent. Both queries load the
  owner's database (``connector_db_load``).

Either way a relay crash (``connector-crash``, target ``connector:<owner>``) re-publishes what
it had not recorded as done: delivery is at least once. Every event carries its id
(key, version); consumers deduplicate by it when ``idempotent_consumers`` is true (the default
[DBZ-OUTBOX, DBZ-BLOG]) and otherwise apply the repeats. Nothing committed is lost, nothing
uncommitted is published (no phantoms), and the copies converge; the price is one more hop
between the commit and the broker (the relay's poll).

Left out: the outbox row's own write cost (it is part of the one write transaction), routing
by aggregate type to several topics, and a polling relay running on several instances (it is
one job, which a crash of an owner instance does not stop).
"""

from __future__ import annotations

from sim.config.model import OutboxPattern
from sim.infra.connectors import CdcConnector, OutboxPoller
from sim.infra.database import Database
from sim.patterns.cdc import Relay, RelayModel

__all__ = ["OutboxModel"]


class OutboxModel(RelayModel):
    """The row and its event commit together; a relay publishes the event."""

    kind = "outbox"
    spec: OutboxPattern

    def build_relay(self, database: Database) -> Relay:
        spec = self.spec
        if spec.relay == "cdc":
            return CdcConnector(
                self.ctx,
                self.owner,
                database,
                self.publish_from_connector,
                spec.connector,
                snapshot=False,
            )
        owner = self.owner
        return OutboxPoller(
            self.ctx,
            owner,
            database,
            lambda key, version, acked: self.publish(owner, key, version, acked),
            poll_interval=spec.poll_interval,
            batch_max_rows=spec.batch_max_rows,
            scan_rate=spec.connector.snapshot_rate,
        )
