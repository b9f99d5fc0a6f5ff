"""The sections of a scenario file that describe the system and its load.

Services, their databases and the network; the data (which service owns each entity, which
keep a copy, how keys are chosen) lives in :mod:`sim.config.data` and the workload's models in
:mod:`sim.config.load`, both re-exported here. Defaults cite ``domain.md`` (``../shared/design/domain.md``) by source tag.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel

from sim.config.data import DataConfig, EntitiesConfig, EntityConfig, HotspotKeys, ZipfKeys
from sim.config.distributions import Constant, ConstantTime, Exponential, ExponentialTime
from sim.config.graph import Call
from sim.config.load import ClosedLoad, Diurnal, Mix, Phase, Spike, WorkloadConfig
from sim.config.provisioned import Provisioned
from sim.config.resilience import HealthCheck, QueueLimit, RateLimit
from sim.config.types import PositiveDuration, StrictModel

__all__ = [
    "ClosedLoad",
    "DataConfig",
    "DatabaseOverride",
    "DatabaseProfile",
    "Databases",
    "Diurnal",
    "EntitiesConfig",
    "EntityConfig",
    "HotspotKeys",
    "Mix",
    "NetworkConfig",
    "Phase",
    "ServiceConfig",
    "Spike",
    "WorkloadConfig",
    "ZipfKeys",
]


class ServiceConfig(StrictModel):
    """A service: ``instances`` behind a load balancer, each with ``concurrency`` slots.

    A slot is held for the whole handling of a request (its own work, its database calls and
    the calls a pattern makes for it to other services), as a thread-per-request server does;
    the slots of an instance share one FIFO queue. The service's own ``calls`` go out after
    that work and hold no slot while they are out.
    """

    instances: int = Field(1, ge=1, le=10_000, description="number of instances")
    concurrency: int = Field(
        8, ge=1, le=100_000, description="requests handled at once per instance"
    )
    service_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.001),
        description="CPU work per request; a bare duration is an exponential with that mean",
    )
    load_balancer: Literal["round_robin", "random", "least_outstanding"] = Field(
        "round_robin", description="how a caller picks an instance"
    )
    queue: QueueLimit | None = Field(
        None,
        description="a bounded queue per instance that sheds load past its limit; null: "
        "unbounded FIFO",
    )
    capacity: RateLimit | None = Field(
        None,
        description="a rate limiter in front of the service ({requests: 100/s, burst: 1s}); "
        "past it requests are refused at once (429, counted as throttled); null: not limited",
    )
    health_check: HealthCheck | None = Field(
        None,
        description="active health checks that take a down instance out of the balancer's "
        "rotation; null: none (a down instance keeps receiving requests and refuses them)",
    )
    calls: list[Call] = Field(
        default_factory=list,
        description="downstream services each request calls after its work here, each with a "
        "probability, sequential or parallel, with the HTTP client's timeouts and retries "
        "(see docs/scenario.md#call-graphs)",
    )


class DatabaseProfile(StrictModel):
    """A database: a connection pool, query times and row locks (HikariCP / PostgreSQL)."""

    pool: int = Field(
        10, ge=1, le=100_000, description="connections; HikariCP maximumPoolSize=10 [HIKARI]"
    )
    read_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.001),
        description="time a read holds a connection; point query ~0.1-1 ms [PG-PERF]",
    )
    write_time: ExponentialTime = Field(
        default_factory=lambda: Exponential(mean=0.003),
        description="time a write transaction holds its connection and the row lock",
    )
    connection_timeout: PositiveDuration = Field(
        30.0,
        description="longest wait for a free connection; HikariCP connectionTimeout=30 s [HIKARI]",
    )
    capacity: Provisioned | None = Field(
        None, description="provisioned throughput (DynamoDB style); null: not limited"
    )


class DatabaseOverride(StrictModel):
    """A per-database override: unset keys come from ``databases.default``."""

    pool: int | None = Field(None, ge=1, le=100_000)
    read_time: ExponentialTime | None = None
    write_time: ExponentialTime | None = None
    connection_timeout: PositiveDuration | None = None
    capacity: Provisioned | None = None


class Databases(RootModel[dict[str, DatabaseOverride]]):
    """``default`` applies to every service's own database; other keys override one database
    (a service name, or ``shared`` for the database of the shared-database pattern)."""

    root: dict[str, DatabaseOverride] = Field(default_factory=dict)

    def profile(self, name: str) -> DatabaseProfile:
        """The full profile of database ``name`` (defaults, then ``default``, then ``name``)."""
        merged: dict[str, Any] = {}
        for key in ("default", name):
            override = self.root.get(key)
            if override is not None:
                merged.update(override.model_dump(exclude_none=True))
        return DatabaseProfile.model_validate(merged)


class NetworkConfig(StrictModel):
    """Latency of one network hop, one way (client to service, service to service or database)."""

    latency: ConstantTime = Field(
        default_factory=lambda: Constant(value=0.00025),
        description="one-way delay per hop; a bare duration is constant; in-DC RTT ~0.5 ms [LAT]",
    )
