"""Topics: a name, per-topic settings (defaults from the ``broker:`` block) and partitions."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.broker.replication import Partition
from sim.config.broker import BrokerConfig

__all__ = ["Topic", "TopicSettings"]


@dataclass(frozen=True)
class TopicSettings:
    """Per-topic settings; the defaults come from the ``broker:`` block."""

    partitions: int
    retention: float | None
    compaction: bool
    delete_retention: float
    segment_bytes: int
    segment_time: float

    @classmethod
    def from_config(cls, config: BrokerConfig) -> TopicSettings:
        return cls(
            partitions=config.partitions,
            retention=config.retention,
            compaction=config.compaction,
            delete_retention=config.delete_retention,
            segment_bytes=config.segment_bytes,
            segment_time=config.segment_time,
        )


@dataclass
class Topic:
    """A named set of partitions."""

    name: str
    settings: TopicSettings
    partitions: list[Partition] = field(default_factory=list)
