"""Log-based change data capture: the owner writes only its database; a connector tails its log.

A write at the owner is one local transaction and nothing else; the owner answers at its
commit. A Debezium-like connector (:class:`sim.connectors.cdc.CdcConnector`, named after the
owner: fault target ``connector:<owner>``) first snapshots the rows that already exist
(``snapshot_mode: initial``, the default), then streams the owner's commit log from the
position read at the snapshot's start, in commit order, keyed by primary key, into the change
topic; the consumer groups of the replicas apply the changes (see
:mod:`sim.patterns.messaging`). Nothing committed is lost once an offset is stored: the
replication slot keeps the log until the connector's offset is flushed, so a connector that is
down, stalled or cut off from the broker only falls behind (``wal_retained_max`` measures the
log the slot held). Delivery is at least once: a connector crash re-sends what came after its last flushed
offset (``offset_flush_interval``, 60 s [K-CONNECT]), and consumers that do not deduplicate
(``idempotent_consumers: false``, the default) apply those changes again: duplicates, and
reorders where an older version lands after a newer one. The copies still converge, because
the redelivery ends with the latest version of every key.

A crash before the first offset flush that contains the finished snapshot makes the connector
snapshot again (``snapshot.mode=initial`` snapshots when no offset is stored [DBZ-PG]); the new
snapshot carries only the latest version of each row, so versions committed while the connector
was down and overwritten before the new snapshot never reach the copies (lost updates, though
the copies end at the latest version), and a row deleted meanwhile is in no snapshot, so the
copies keep it (divergent keys). This is Debezium's own behaviour: with an existing slot and
no stored offset, the default snapshotter streams from the WAL position read when the new
snapshot starts, not from the slot's confirmed position. With ``snapshot_mode: no_data``
(``snapshot.mode=no_data``) the connector never snapshots: without a stored offset it streams
from the slot's confirmed position, so such a restart re-sends what came after it (duplicates)
and skips nothing; rows that existed before the connector first started are never captured
(the simulated tables start empty, so none).

The connector publishes through its own producer with the settings Kafka Connect forces on
source tasks (``acks=all``, one request in flight, no delivery timeout [K-CONNECT]); see
:mod:`sim.patterns.relay`.

Measured: ``wal_retained_max`` (entries, exact maximum) and ``connector_db_load`` (connection
time of the snapshot scans over the database's pool × run time).

Left out: the network between the connector and the database (logical decoding is taken to
see a commit at its commit instant), the cost of decoding on the database server, a
connector that captures several tables (with several entities each connector captures its
entity's table: :mod:`sim.patterns.entities`), several tasks, schema changes.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from sim.config.clients import ConnectorSettings
from sim.config.model import PatternSettings, Problem, Scenario
from sim.connectors.cdc import CdcConnector
from sim.infra.database import Database
from sim.metrics.catalog import Metric
from sim.patterns.model import register_pattern
from sim.patterns.relay import SLOT_METRICS, Relay, RelayModel, one_connector_per_owner

__all__ = ["CdcModel", "CdcSettings"]


class CdcSettings(PatternSettings):
    """The owner writes only its database; a connector tails the commit log into the broker."""

    kind: Literal["cdc"]
    entities: ClassVar[bool] = True
    idempotent_consumers: bool = Field(
        False, description="consumers drop a change whose version they already hold"
    )
    connector: ConnectorSettings = Field(
        default_factory=lambda: ConnectorSettings.model_validate({})
    )
    snapshot_mode: Literal["initial", "no_data"] = Field(
        "initial",
        description="Debezium snapshot.mode [DBZ-PG]: initial snapshots the table when no offset "
        "is stored (so does a restart before the first offset flush, and the new snapshot "
        "collapses the versions written meanwhile); no_data never snapshots and streams from the "
        "replication slot's confirmed position (a restart then re-sends: duplicates, nothing "
        "skipped), for a table that is empty when the connector first starts",
    )

    def problems(self, scenario: Scenario) -> list[Problem]:
        return one_connector_per_owner(scenario)


@register_pattern
class CdcModel(RelayModel):
    """The owner commits locally; a Debezium-like connector streams its commit log."""

    settings = CdcSettings
    spec: CdcSettings
    metrics: ClassVar[tuple[Metric, ...]] = (*RelayModel.metrics, *SLOT_METRICS)

    def build_relay(self, database: Database) -> Relay:
        return CdcConnector(
            self.ctx,
            self.owner,
            database,
            self.publish_from_connector,
            self.spec.connector,
            retry_backoff=self.scenario.broker.retry_backoff_max,
            snapshot=self.spec.snapshot_mode == "initial",
            capture=self.data.key_range,
        )
