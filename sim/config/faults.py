"""Faults a scenario injects, one model per ``kind`` (names chaos engineers know).

Targets: ``service:X``, ``instance:X/N``, ``db:X``, ``link:A->B`` (or ``link:A<->B`` for a
partition, both ways; ends are services, ``client``, ``db:X`` or ``broker``),
``connector:X``, ``consumer:GROUP``, ``broker`` and ``broker:partition/N``. Which targets exist
is checked against the whole scenario by :func:`sim.config.model.cross_check`.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from sim.config.broker import BrokerLeaderLossFault, ConsumerCrashFault, ConsumerPauseFault
from sim.config.types import NonNegativeDuration, PositiveDuration, Probability, StrictModel
from sim.distributions import ConstantTime

__all__ = [
    "ConnectorCrashFault",
    "ConnectorStallFault",
    "CrashFault",
    "ErrorFault",
    "Fault",
    "LatencyFault",
    "PartitionFault",
    "RewindFault",
]

_TARGET = re.compile(r"^(service|instance|db|link):(.+)$")


class _FaultBase(StrictModel):
    target: str = Field(
        description="service:X, instance:X/N, db:X or link:A->B (A, B: services, client, db:X)"
    )
    start: NonNegativeDuration = Field(description="simulated time the fault begins")
    duration: NonNegativeDuration = Field(description="how long it lasts")

    @field_validator("target")
    @classmethod
    def _target_syntax(cls, value: str) -> str:
        if _TARGET.match(value) is None:
            raise ValueError("expected service:X, instance:X/N, db:X or link:A->B")
        return value


class CrashFault(_FaultBase):
    """A service, instance or database is down; work in flight fails; restarts after ``duration``."""

    kind: Literal["crash"]


class LatencyFault(_FaultBase):
    """Extra delay on every call a service, instance or database handles, or on a link's hops."""

    kind: Literal["latency"]
    delay: ConstantTime = Field(description="added delay; a bare duration is constant")


class ErrorFault(_FaultBase):
    """Calls to a service, instance or database fail fast with ``probability``."""

    kind: Literal["error"]
    probability: Probability


class PartitionFault(StrictModel):
    """No traffic between two parties: messages are dropped and callers time out."""

    kind: Literal["partition"]
    target: str = Field(
        description="link:A<->B (both ways) or link:A->B (one way); A, B: services, client, "
        "db:X or broker"
    )
    start: NonNegativeDuration
    duration: NonNegativeDuration

    @field_validator("target")
    @classmethod
    def _target_syntax(cls, value: str) -> str:
        if re.match(r"^link:[^<>-]+(<->|->)[^<>-].*$", value) is None:
            raise ValueError("expected link:A<->B or link:A->B")
        return value


class _ConnectorFault(StrictModel):
    target: str = Field(description="connector:X, where X is the data owner whose table it reads")
    start: NonNegativeDuration
    duration: NonNegativeDuration

    @field_validator("target")
    @classmethod
    def _target_syntax(cls, value: str) -> str:
        if re.match(r"^connector:[^\s:]+$", value) is None:
            raise ValueError("expected connector:NAME")
        return value


class ConnectorCrashFault(_ConnectorFault):
    """The connector dies; on restart it resumes from its last flushed offset (duplicates)."""

    kind: Literal["connector-crash"]


class ConnectorStallFault(_ConnectorFault):
    """The connector stops reading without dying, then resumes where it was."""

    kind: Literal["connector-stall"]


class RewindFault(StrictModel):
    """Seek a consumer group back by a duration and reprocess (``--reset-offsets --by-duration``)."""

    kind: Literal["rewind"]
    target: str = Field(description="consumer:GROUP")
    start: NonNegativeDuration
    by: PositiveDuration = Field(description="how far back from the fault's start")

    @field_validator("target")
    @classmethod
    def _target_syntax(cls, value: str) -> str:
        if re.match(r"^consumer:[^\s:/]+$", value) is None:
            raise ValueError("expected consumer:GROUP")
        return value

    @property
    def duration(self) -> float:
        return 0.0


Fault = Annotated[
    CrashFault
    | LatencyFault
    | ErrorFault
    | PartitionFault
    | ConnectorCrashFault
    | ConnectorStallFault
    | RewindFault
    | BrokerLeaderLossFault
    | ConsumerCrashFault
    | ConsumerPauseFault,
    Field(discriminator="kind"),
]
