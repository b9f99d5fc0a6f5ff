"""Transactional outbox: the owner writes the row and an outbox record in one local transaction.

A write at the owner is one database transaction that changes the row and inserts the event
(key, version) into the outbox table [DBZ-BLOG]; the owner answers at its commit, so the event
exists exactly when the change does. A relay then publishes the outbox to the change topic:

- ``relay: cdc`` — a Debezium-like connector (:class:`sim.connectors.cdc.CdcConnector`)
  streams the outbox inserts from the commit log, as the outbox event router does
  [DBZ-OUTBOX]. The outbox table is kept empty (rows are inserted and deleted in the same
  transaction), so there is nothing to snapshot: the connector runs with
  ``snapshot.mode=no_data`` and, without a stored offset, streams from its replication slot's
  position. It publishes with Kafka Connect's forced producer settings (node
  ``connector:<owner>``); ``wal_retained_max`` is measured as for CDC.
- ``relay: polling`` — a scheduled job of the owner service
  (:class:`sim.connectors.cdc.OutboxPoller`) selects up to ``batch_max_rows`` unsent rows
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

import math
from typing import ClassVar, Literal

from pydantic import Field

from sim.config.clients import ConnectorSettings
from sim.config.model import PatternSettings
from sim.config.types import PositiveDuration
from sim.connectors.cdc import CdcConnector
from sim.connectors.outbox_poller import OutboxPoller
from sim.infra.database import Database
from sim.metrics.catalog import Metric
from sim.patterns.model import register_pattern
from sim.patterns.relay import WAL_RETAINED_MAX, Relay, RelayModel

__all__ = ["OutboxModel", "OutboxSettings"]


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
    idempotent_consumers: bool = Field(
        True, description="consumers deduplicate by event id [DBZ-OUTBOX, DBZ-BLOG]"
    )
    connector: ConnectorSettings = Field(
        default_factory=lambda: ConnectorSettings.model_validate({})
    )


@register_pattern
class OutboxModel(RelayModel):
    """The row and its event commit together; a relay publishes the event."""

    settings = OutboxSettings
    spec: OutboxSettings
    metrics: ClassVar[tuple[Metric, ...]] = (*RelayModel.metrics, WAL_RETAINED_MAX)

    @property
    def publisher(self) -> str:
        return self.relay_node if self.spec.relay == "cdc" else self.owner

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
        return OutboxPoller(
            self.ctx,
            owner,
            database,
            lambda key, version, acked: self.publish(owner, key, version, acked),
            poll_interval=spec.poll_interval,
            batch_max_rows=spec.batch_max_rows,
            scan_rate=spec.connector.snapshot_rate,
            retry_backoff=retry_backoff,
        )

    def gauges(self) -> dict[str, float]:
        gauges = super().gauges()
        gauges.setdefault("wal_retained_max", math.nan)  # a polling relay holds no slot
        return gauges
