"""The sections of a scenario file that describe the system and its load.

Services, their databases, the network, the data (which service owns the entity, which keep a
copy) and the workload (load phases and the read/write mix). Defaults cite ``domain.md``
(``../shared/design/domain.md``) by source tag.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, RootModel, model_validator

from sim.config.distributions import Constant, ConstantTime, Exponential, ExponentialTime
from sim.config.provisioned import Provisioned
from sim.config.resilience import HealthCheck, QueueLimit
from sim.config.types import LoadRate, Name, PositiveDuration, StrictModel

__all__ = [
    "DataConfig",
    "DatabaseOverride",
    "DatabaseProfile",
    "Databases",
    "Mix",
    "NetworkConfig",
    "Phase",
    "ServiceConfig",
    "WorkloadConfig",
    "ZipfKeys",
]


class ServiceConfig(StrictModel):
    """A service: ``instances`` behind a load balancer, each with ``concurrency`` slots.

    A slot is held for the whole handling of a request (its own work, its database calls and
    the calls it makes to other services), as a thread-per-request server does; the slots of an
    instance share one FIFO queue.
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
    health_check: HealthCheck | None = Field(
        None,
        description="active health checks that take a down instance out of the balancer's "
        "rotation; null: none (a down instance keeps receiving requests and refuses them)",
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


class DataConfig(StrictModel):
    """The shared entity: who owns it, who keeps a copy, and how keys are chosen."""

    owner: str = Field(description="service that owns the entity; writes arrive here")
    replicas: list[str] = Field(
        default_factory=list,
        description="services that keep a copy; reads arrive here (at the owner when empty)",
    )
    keys: int = Field(1000, ge=1, le=1_000_000_000, description="number of entity keys")
    key_distribution: Literal["uniform"] | ZipfKeys = Field("uniform")


class Phase(StrictModel):
    """A load phase: ``rate`` for ``duration``, ramping linearly to ``ramp_to`` when given."""

    duration: PositiveDuration
    rate: LoadRate = Field(description="arrivals per second at the start of the phase")
    ramp_to: LoadRate | None = Field(
        None, description="arrivals per second at the end of the phase"
    )
    name: Name | None = Field(
        None, description="names the phase for SLOs: 'p99(latency) < 1s during peak'"
    )


class Mix(StrictModel):
    """Fractions of write, read and delete requests; they must add up to 1. A delete removes
    the row at the owner (its version still advances, as a tombstone)."""

    write: float = Field(0.0, ge=0, le=1)
    read: float = Field(0.0, ge=0, le=1)
    delete: float = Field(0.0, ge=0, le=1)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.write + self.read + self.delete
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"write + read + delete must be 1 (got {total:g})")
        return self


class WorkloadConfig(StrictModel):
    """Open-loop arrivals over ordered phases (like k6 stages)."""

    arrivals: Literal["poisson", "uniform"] = Field(
        "poisson", description="poisson: exponential gaps; uniform: evenly spaced"
    )
    phases: list[Phase] = Field(min_length=1)
    mix: Mix = Field(default_factory=lambda: Mix(write=0.3, read=0.7, delete=0.0))
    timeout: PositiveDuration = Field(
        60.0, description="the client gives up after this long (k6's default request timeout)"
    )

    @property
    def load_duration(self) -> float:
        return sum(phase.duration for phase in self.phases)

    def phase_window(self, name: str) -> tuple[float, float] | None:
        """``(start, end)`` of the phase called ``name``, or None."""
        start = 0.0
        for phase in self.phases:
            if phase.name == name:
                return start, start + phase.duration
            start += phase.duration
        return None

    @model_validator(mode="after")
    def _phase_names(self) -> WorkloadConfig:
        seen: set[str] = set()
        for phase in self.phases:
            if phase.name is None:
                continue
            if phase.name in ("steady", "fault", "recovery"):
                raise ValueError(f"a phase cannot be called {phase.name!r} (an SLO window's name)")
            if phase.name in seen:
                raise ValueError(f"two phases are called {phase.name!r}")
            seen.add(phase.name)
        return self
