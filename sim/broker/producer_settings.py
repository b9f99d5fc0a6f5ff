"""The settings one producer client runs with: the ``broker:`` block's producer keys, or
those with the overrides a runtime forces on its clients (Kafka Connect's source tasks).

A plain frozen value rather than a scenario model, because a runtime may lift a bound that a
scenario cannot: Kafka Connect sets ``delivery.timeout.ms`` and ``max.block.ms`` to their
maximum on source-task producers [K-CONNECT], which is "unbounded" here (``math.inf``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

from sim.config.broker import BrokerConfig

__all__ = ["ProducerSettings", "connect_source_settings"]


@dataclass(frozen=True)
class ProducerSettings:
    """A producer's client settings (see :class:`~sim.config.broker.BrokerConfig`)."""

    acks: str
    idempotence: bool
    linger: float
    batch_size: int
    record_size: int
    buffer_memory: int
    max_block: float
    delivery_timeout: float
    request_timeout: float
    retry_backoff: float
    retry_backoff_max: float
    max_in_flight: int

    def __post_init__(self) -> None:
        if self.idempotence and self.acks != "all":
            raise ValueError(f"idempotence needs acks=all (got acks={self.acks})")
        if self.delivery_timeout < self.linger + self.request_timeout:
            raise ValueError("delivery_timeout must be at least linger + request_timeout [K-PROD]")
        if not 1 <= self.max_in_flight <= 5:
            raise ValueError(f"max_in_flight must be 1 to 5 (got {self.max_in_flight})")

    @classmethod
    def of(cls, config: BrokerConfig, **overrides: Any) -> ProducerSettings:
        """The producer keys of a ``broker:`` block, with ``overrides`` (checked again)."""
        values = {f.name: getattr(config, f.name) for f in fields(cls)}
        return replace(cls(**values), **overrides) if overrides else cls(**values)


def connect_source_settings(config: BrokerConfig) -> ProducerSettings:
    """What Kafka Connect forces on a source task's producer without exactly-once support:
    ``acks=all``, one request in flight, no idempotence, and no bound on delivery or on
    blocking, so a broker outage only delays delivery [K-CONNECT]."""
    return ProducerSettings.of(
        config,
        acks="all",
        max_in_flight=1,
        delivery_timeout=math.inf,
        max_block=math.inf,
        idempotence=False,
    )
