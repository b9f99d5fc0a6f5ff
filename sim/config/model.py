"""The scenario file as pydantic models: every key, its meaning and its default.

A scenario names services, their databases, the network, the data (which service owns the
entity, which keep a copy), the workload (load phases and the read/write mix), the patterns to
compare and the faults to inject. Unknown keys are errors; patterns and faults are unions keyed
on ``kind``. Checks that need the whole file (a fault target that names a missing service, a
replica that is not a service) live in :func:`cross_check`, which returns errors with their
path so the loader can point at the file position.

Defaults cite ``domain.md`` (``../shared/design/domain.md``) by source tag.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, RootModel, model_validator

from sim.config.broker import BrokerConfig, BrokerLeaderLossFault
from sim.config.faults import (
    ConnectorCrashFault,
    ConnectorStallFault,
    CrashFault,
    ErrorFault,
    Fault,
    LatencyFault,
    PartitionFault,
    RewindFault,
)
from sim.config.patterns import (
    CdcPattern,
    DualWritePattern,
    EventSourcingPattern,
    Name,
    OutboxPattern,
    Pattern,
    PollingPattern,
    SharedDbPattern,
    SyncHttpPattern,
    TwoPhaseCommitPattern,
)
from sim.config.types import (
    NonNegativeDuration,
    PositiveDuration,
    Rate,
    StrictModel,
)
from sim.distributions import Constant, ConstantTime, Exponential, ExponentialTime
from sim.slo import SloError, parse_slo

__all__ = [
    "BrokerConfig",
    "CdcPattern",
    "ConnectorCrashFault",
    "ConnectorStallFault",
    "CrashFault",
    "DataConfig",
    "DatabaseOverride",
    "DatabaseProfile",
    "Databases",
    "DualWritePattern",
    "ErrorFault",
    "EventSourcingPattern",
    "Fault",
    "LatencyFault",
    "NetworkConfig",
    "OutboxPattern",
    "PartitionFault",
    "Pattern",
    "Phase",
    "PollingPattern",
    "RewindFault",
    "Scenario",
    "ServiceConfig",
    "SharedDbPattern",
    "SyncHttpPattern",
    "TwoPhaseCommitPattern",
    "WorkloadConfig",
    "cross_check",
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


class DatabaseOverride(StrictModel):
    """A per-database override: unset keys come from ``databases.default``."""

    pool: int | None = Field(None, ge=1, le=100_000)
    read_time: ExponentialTime | None = None
    write_time: ExponentialTime | None = None
    connection_timeout: PositiveDuration | None = None


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
    keys: int = Field(1000, ge=1, le=100_000_000, description="number of entity keys")
    key_distribution: Literal["uniform"] | ZipfKeys = Field("uniform")


class Phase(StrictModel):
    """A load phase: ``rate`` for ``duration``, ramping linearly to ``ramp_to`` when given."""

    duration: PositiveDuration
    rate: Rate = Field(description="arrivals per second at the start of the phase")
    ramp_to: Rate | None = Field(None, description="arrivals per second at the end of the phase")


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


def _check_slo(text: str) -> str:
    try:
        parse_slo(text)
    except SloError as error:
        raise ValueError(str(error)) from None
    return text


SloLine = Annotated[str, AfterValidator(_check_slo)]
"""One SLO line, checked by :func:`sim.slo.parse_slo`."""


class Scenario(StrictModel):
    """A whole scenario file."""

    name: Name = Field(description="names the default output folder reports/<name>/")
    seed: int = Field(0, ge=0, description="root of every random stream")
    warmup: NonNegativeDuration = Field(
        0.0, description="requests started before this are not measured"
    )
    drain: NonNegativeDuration = Field(
        60.0,
        description="after the load: no new requests, faults healed; then divergence is measured",
    )
    replications: int = Field(1, ge=1, le=10_000)
    services: dict[Name, ServiceConfig] = Field(min_length=1)
    databases: Databases = Field(default_factory=lambda: Databases({}))
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    data: DataConfig
    workload: WorkloadConfig
    broker: BrokerConfig = Field(
        default_factory=lambda: BrokerConfig.model_validate({}),
        description="the Kafka-like broker of the asynchronous patterns (see docs/broker.md)",
    )
    patterns: list[Pattern] = Field(min_length=1)
    faults: list[Fault] = Field(default_factory=list)
    slo: list[SloLine] = Field(
        default_factory=list,
        description="objectives every pattern is judged against, k6-style: "
        "'p99(latency) < 250ms', 'error_rate < 1%', 'p99(staleness) < 5s', 'lost_updates == 0'",
        examples=[["p99(latency) < 250ms", "error_rate < 1%", "divergent_keys == 0"]],
    )

    def pattern_names(self) -> list[str]:
        """Labels of the patterns, in file order."""
        return [pattern.name or pattern.kind for pattern in self.patterns]


Location = tuple[str | int, ...]


def cross_check(scenario: Scenario) -> list[tuple[Location, str, object]]:
    """Errors that need the whole file: ``(path, message, value found)`` for each."""
    errors: list[tuple[Location, str, object]] = []
    services = set(scenario.services)
    if scenario.data.owner not in services:
        errors.append((("data", "owner"), "must name a service", scenario.data.owner))
    for i, replica in enumerate(scenario.data.replicas):
        if replica not in services:
            errors.append((("data", "replicas", i), "must name a service", replica))
        elif replica == scenario.data.owner:
            errors.append((("data", "replicas", i), "the owner cannot also be a replica", replica))
    for name in scenario.databases.root:
        if name not in services and name not in ("default", "shared"):
            errors.append((("databases", name), "must be default, shared or a service name", name))
    seen: set[str] = set()
    for i, label in enumerate(scenario.pattern_names()):
        if label in seen:
            errors.append((("patterns", i), "two patterns with the same name; set name:", label))
        seen.add(label)
    for i, fault in enumerate(scenario.faults):
        problem = _target_problem(fault, scenario)
        if problem is not None:
            errors.append((("faults", i, "target"), problem, fault.target))
    return errors


def _target_problem(fault: Any, scenario: Scenario) -> str | None:
    services = scenario.services
    kind, _, rest = fault.target.partition(":")
    if isinstance(fault, BrokerLeaderLossFault):
        partition = fault.partition
        if partition is not None and partition >= scenario.broker.partitions:
            return f"the broker has partitions 0 to {scenario.broker.partitions - 1}"
        broker = fault.broker_id
        if broker is not None and broker >= scenario.broker.brokers:
            return f"the broker cluster has brokers 0 to {scenario.broker.brokers - 1}"
        return None
    if kind == "consumer":
        return None if rest in services else f"no consumer group {rest!r}: use a service name"
    if kind == "connector":
        owner = scenario.data.owner
        return (
            None if rest == owner else f"the connector reads the owner's table: connector:{owner}"
        )
    if kind == "link":
        return _link_problem(fault, rest, services)
    if isinstance(fault, ConnectorCrashFault | ConnectorStallFault | RewindFault | PartitionFault):
        return None
    if kind == "service" and rest not in services:
        return f"no service called {rest!r}"
    if kind == "instance":
        name, _, index = rest.rpartition("/")
        if name not in services:
            return f"no service called {name!r}"
        if not index.isdigit():
            return "an instance is written instance:SERVICE/N"
        count = services[name].instances
        return None if int(index) < count else f"{name} has instances 0 to {count - 1}"
    if kind == "db" and rest not in services and rest != "shared":
        return f"no database called {rest!r}: use a service name or shared"
    return None


def _link_problem(fault: Any, rest: str, services: dict[str, ServiceConfig]) -> str | None:
    if not isinstance(fault, LatencyFault | PartitionFault):
        return f"a {fault.kind} fault cannot target a link"
    ends = rest.split("<->") if "<->" in rest else rest.split("->")
    if len(ends) != 2:
        return "a link is written link:A->B"
    if "<->" in rest and isinstance(fault, LatencyFault):
        return "a latency fault is one way: link:A->B"
    for end in ends:
        known = bool(end in ("client", "broker") or end in services or _db_name(end, set(services)))
        if not known and end.startswith("connector:"):
            known = isinstance(fault, PartitionFault)
        if not known:
            return (
                f"unknown link end {end!r}: use a service, client, broker, db:SERVICE "
                "or (for a partition) connector:OWNER"
            )
    return None


def _db_name(end: str, services: set[str]) -> str | None:
    if end.startswith("db:") and (end[3:] in services or end[3:] == "shared"):
        return end[3:]
    return None
