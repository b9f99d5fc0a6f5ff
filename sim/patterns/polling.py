"""Polling connector: the owner writes only its database; a JDBC source task polls the table.

The owner answers a write once its transaction commits; nothing else happens on the request
path. A Kafka Connect JDBC source task (:class:`sim.connectors.jdbc.JdbcSourcePoller`, named after
the owner, so ``connector:<owner>`` is its fault target) queries the owner's table every
``poll_interval`` for rows changed since its position (``mode``), and publishes each row's
current version to the change topic, keyed by primary key; consumers at each replica apply
them (:mod:`sim.patterns.messaging`). Reads are answered from each replica's own copy.

What the numbers show ([JDBC-CFG], [JDBC-ISS], [QCDC]):

- **Missed rows.** A row's timestamp is the time its transaction began (its id, the time it was
  inserted); a poll sees only committed rows and moves past the highest value it read, so with
  write transactions of varied length (``databases: write_time``, e.g. lognormal) a row that
  commits after a later-stamped row was read is skipped for good, unless the key is written
  again. ``timestamp_delay`` narrows the window and delays every change.
- **Deletes are invisible**: a deleted row is gone from the table, so no poll ever reports it;
  the copies keep the row (divergent keys, stale reads).
- **Collapsed updates**: a poll publishes the row as it is, so the versions committed between
  two polls are never applied at the copies. ``lost_updates`` counts every (committed version,
  copy) pair whose version was never applied, so for this pattern it counts these collapsed
  intermediate versions as well as missed rows and deletes (a collapsed update leaves no
  divergence by itself; a missed last write or a delete does).
- **Latency in batches**: a change waits for the next poll (half an interval on average), the
  query and the delay; ``staleness`` grows with ``poll_interval``.
- **Load**: every poll is a query holding a database connection (``bulk`` reads the whole table
  every time); ``connector_db_load`` is that time as a fraction of the database's capacity
  (busy seconds / (pool × run time)), and it competes with the owner's requests for connections.
- **Redelivery**: offsets are flushed every ``offset_flush_interval``; after a
  ``connector-crash`` the task re-reads from the last flushed position and publishes again
  (``duplicates`` unless ``idempotent_consumers``). In ``bulk`` mode every poll republishes
  every row, so non-idempotent copies count every repeat as a duplicate.

The connector's producer uses Kafka Connect's overrides for source tasks [K-CONNECT]: acks=all,
one request in flight, no idempotence, no delivery timeout and no send timeout (it waits
through any broker outage rather than drop a record). Its node on the network is
``connector:<owner>``: a ``partition`` from the broker holds its sends until it heals, one from
``db:<owner>`` holds its fetch until it heals; either way the changes wait and nothing is lost.
With several entities (:mod:`sim.patterns.entities`) each owner's task polls only its
entity's table, whose rows share the database's id sequence and clock with the copies the
owner keeps of other entities.

Left out: soft deletes (a ``deleted`` flag column the poll could see), custom queries, the
connector's own connection (its queries take connections from the owner's pool, which stands
for the database's capacity); it holds no replication slot, so it has no ``wal_retained_max``.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from sim.config.model import PatternSettings, Problem, Scenario
from sim.config.types import NonNegativeDuration, PositiveDuration
from sim.connectors.jdbc import JdbcSourcePoller
from sim.faults.topology import Topology
from sim.infra.database import Database
from sim.patterns.model import register_pattern
from sim.patterns.relay import RelayModel, one_connector_per_owner

__all__ = ["PollingModel", "PollingSettings"]


class PollingSettings(PatternSettings):
    """A Kafka Connect JDBC-style source polls the owner's table for changed rows."""

    kind: Literal["polling"]
    entities: ClassVar[bool] = True
    mode: Literal["bulk", "incrementing", "timestamp", "timestamp+incrementing"] = Field(
        "timestamp", description="which rows a poll selects [JDBC-CFG]"
    )
    poll_interval: PositiveDuration = Field(5.0, description="poll.interval.ms [JDBC-CFG]")
    batch_max_rows: int = Field(1000, ge=1, description="batch.max.rows [JDBC-CFG]")
    timestamp_delay: NonNegativeDuration = Field(
        0.0,
        description="timestamp.delay.interval.ms: skip rows newer than now minus this [JDBC-CFG]",
    )
    row_time: NonNegativeDuration = Field(
        0.00001, description="database time per row a poll reads (10 us); judgment"
    )
    offset_flush_interval: PositiveDuration = Field(
        60.0,
        description="source offsets are flushed this often; offset.flush.interval.ms [K-CONNECT]",
    )
    idempotent_consumers: bool = Field(
        False, description="consumers drop a row version they already hold"
    )

    def problems(self, scenario: Scenario) -> list[Problem]:
        return one_connector_per_owner(scenario)


@register_pattern
class PollingModel(RelayModel):
    """The owner commits; a JDBC source task polls its table into the broker."""

    settings = PollingSettings
    spec: PollingSettings

    def describe(self, topology: Topology) -> None:
        super().describe(topology)
        if self.spec.mode.startswith("timestamp"):  # the query reads the timestamp column
            topology.reads_clocks(self.owner, [self.owner])

    def build_relay(self, database: Database) -> JdbcSourcePoller:
        spec = self.spec
        return JdbcSourcePoller(
            self.ctx,
            self.owner,
            database,
            self.publish_from_connector,
            mode=spec.mode,
            poll_interval=spec.poll_interval,
            batch_max_rows=spec.batch_max_rows,
            timestamp_delay=spec.timestamp_delay,
            row_time=spec.row_time,
            offset_flush_interval=spec.offset_flush_interval,
            retry_backoff=self.scenario.broker.retry_backoff_max,
            network=self.network,
            capture=self.data.key_range,
        )
