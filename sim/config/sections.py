"""The sections of a scenario file that describe the system and its load.

Services, their databases, the network and the data (which service owns the entity, which keep
a copy, how keys are chosen); the workload's models live in :mod:`sim.config.load` and are
re-exported here. Defaults cite ``domain.md`` (``../shared/design/domain.md``) by source tag.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel, model_validator

from sim.config.distributions import Constant, ConstantTime, Exponential, ExponentialTime
from sim.config.graph import Call
from sim.config.load import ClosedLoad, Diurnal, Mix, Phase, Spike, WorkloadConfig
from sim.config.provisioned import Provisioned
from sim.config.resilience import HealthCheck, QueueLimit, RateLimit
from sim.config.types import PositiveDuration, Probability, StrictModel

__all__ = [
    "ClosedLoad",
    "DataConfig",
    "DatabaseOverride",
    "DatabaseProfile",
    "Databases",
    "Diurnal",
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


class ZipfKeys(StrictModel):
    """Key popularity following Zipf's law over the finite key space (rank 1 most popular)."""

    zipf: float = Field(gt=0, description="exponent s: P(rank k) proportional to 1/k^s")


class Hotspot(StrictModel):
    """``share_of_traffic`` of the requests go to the first ``share_of_keys`` of the keys
    (the hot set), the rest to the other keys; uniform within each set."""

    share_of_traffic: Probability = Field(description="share of the requests on the hot keys")
    share_of_keys: Probability = Field(description="share of the keys that are hot")

    @model_validator(mode="after")
    def _check_shares(self) -> Hotspot:
        if not 0 < self.share_of_keys < 1:
            raise ValueError(
                f"share_of_keys must be above 0 and below 1 (got {self.share_of_keys:g})"
            )
        if self.share_of_traffic <= 0:
            raise ValueError("share_of_traffic must be above 0 (got 0)")
        return self


class HotspotKeys(StrictModel):
    """A hot set of keys taking a share of the traffic (YCSB's hotspot distribution)."""

    hotspot: Hotspot

    def hot_keys(self, keys: int) -> int:
        """How many of ``keys`` are hot: the share rounded, at least one, and one fewer than
        all of them when some traffic goes elsewhere."""
        hot = max(1, round(self.hotspot.share_of_keys * keys))
        if self.hotspot.share_of_traffic < 1:
            hot = min(hot, keys - 1)
        return min(hot, keys)


class DataConfig(StrictModel):
    """The shared entity: who owns it, who keeps a copy, and how keys are chosen."""

    owner: str = Field(description="service that owns the entity; writes arrive here")
    replicas: list[str] = Field(
        default_factory=list,
        description="services that keep a copy; reads arrive here (at the owner when empty)",
    )
    keys: int = Field(1000, ge=1, le=1_000_000_000, description="number of entity keys")
    key_distribution: Literal["uniform"] | ZipfKeys | HotspotKeys = Field(
        "uniform",
        description="uniform, {zipf: S} or {hotspot: {share_of_traffic, share_of_keys}}",
    )

    @model_validator(mode="after")
    def _hotspot_needs_cold_keys(self) -> DataConfig:
        spread = self.key_distribution
        if (
            isinstance(spread, HotspotKeys)
            and spread.hotspot.share_of_traffic < 1
            and self.keys < 2
        ):
            raise ValueError("a hotspot with traffic off the hot keys needs 2 keys or more")
        return self
