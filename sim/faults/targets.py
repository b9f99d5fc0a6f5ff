"""Fault targets, parsed once from the scenario's strings into typed values.

=========================  ==================================================================
written                    means
=========================  ==================================================================
``service:X``              every component service X hosts (its instances, and what runs in
                           them)
``instance:X/N``           what instance N of service X hosts
``db:X``                   the database named X (a service's own, or ``shared``)
``link:A->B``              messages from A to B (``link:A<->B``: both ways); ends are services,
                           ``client``, ``broker``, ``db:X`` or ``connector:X``
``broker``                 the whole Kafka-like cluster
``broker:N``               broker N of the cluster
``broker:partition/N``     the leader replica of partition N
``consumer:G``             consumer group G (named after the service it feeds)
``connector:X``            the connector reading X's table
=========================  ==================================================================

Each fault class says which of these it accepts (:class:`Targets`); a target is written back
in exactly the form it was parsed from, so it names the same random stream in every run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, cast

from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

__all__ = [
    "BrokerTarget",
    "ConnectorTarget",
    "ConsumerTarget",
    "DatabaseTarget",
    "InstanceTarget",
    "LinkTarget",
    "PartitionTarget",
    "ServiceTarget",
    "Target",
    "Targets",
    "parse_target",
]


@dataclass(frozen=True)
class ServiceTarget:
    service: str

    def __str__(self) -> str:
        return f"service:{self.service}"


@dataclass(frozen=True)
class InstanceTarget:
    service: str
    index: int

    def __str__(self) -> str:
        return f"instance:{self.service}/{self.index}"


@dataclass(frozen=True)
class DatabaseTarget:
    name: str

    def __str__(self) -> str:
        return f"db:{self.name}"


@dataclass(frozen=True)
class LinkTarget:
    source: str
    destination: str
    both: bool

    def __str__(self) -> str:
        return f"link:{self.source}{'<->' if self.both else '->'}{self.destination}"

    def directions(self) -> list[tuple[str, str]]:
        """The (from, to) pairs the link covers."""
        forward = (self.source, self.destination)
        return [forward, (self.destination, self.source)] if self.both else [forward]


@dataclass(frozen=True)
class BrokerTarget:
    broker: int | None
    """A broker of the cluster; None: the whole cluster."""

    def __str__(self) -> str:
        return "broker" if self.broker is None else f"broker:{self.broker}"


@dataclass(frozen=True)
class PartitionTarget:
    partition: int

    def __str__(self) -> str:
        return f"broker:partition/{self.partition}"


@dataclass(frozen=True)
class ConsumerTarget:
    group: str

    def __str__(self) -> str:
        return f"consumer:{self.group}"


@dataclass(frozen=True)
class ConnectorTarget:
    name: str

    def __str__(self) -> str:
        return f"connector:{self.name}"


Target = (
    ServiceTarget
    | InstanceTarget
    | DatabaseTarget
    | LinkTarget
    | BrokerTarget
    | PartitionTarget
    | ConsumerTarget
    | ConnectorTarget
)

_FORMS: dict[type, str] = {
    ServiceTarget: "service:X",
    InstanceTarget: "instance:X/N",
    DatabaseTarget: "db:X",
    LinkTarget: "link:A->B",
    BrokerTarget: "broker (the cluster) or broker:N",
    PartitionTarget: "broker:partition/N",
    ConsumerTarget: "consumer:GROUP",
    ConnectorTarget: "connector:NAME",
}
_NAME = r"[A-Za-z][A-Za-z0-9_.-]*"
_END = rf"(?:{_NAME}|db:{_NAME}|connector:{_NAME})"
_PATTERNS: list[tuple[type, re.Pattern[str]]] = [
    (ServiceTarget, re.compile(rf"^service:(?P<service>{_NAME})$")),
    (InstanceTarget, re.compile(rf"^instance:(?P<service>{_NAME})/(?P<index>\d+)$")),
    (DatabaseTarget, re.compile(rf"^db:(?P<name>{_NAME})$")),
    (LinkTarget, re.compile(rf"^link:(?P<source>{_END})(?P<arrow><->|->)(?P<destination>{_END})$")),
    (PartitionTarget, re.compile(r"^broker:partition/(?P<partition>\d+)$")),
    (BrokerTarget, re.compile(r"^broker(?::(?P<broker>\d+))?$")),
    (ConsumerTarget, re.compile(rf"^consumer:(?P<group>{_NAME})$")),
    (ConnectorTarget, re.compile(rf"^connector:(?P<name>{_NAME})$")),
]


def _build(kind: type, match: re.Match[str], text: str) -> Target:
    groups = match.groupdict()
    if kind is InstanceTarget:
        return InstanceTarget(groups["service"], int(groups["index"]))
    if kind is LinkTarget:
        return LinkTarget(groups["source"], groups["destination"], groups["arrow"] == "<->")
    if kind is PartitionTarget:
        return PartitionTarget(int(groups["partition"]))
    if kind is BrokerTarget:
        broker = groups["broker"]
        return BrokerTarget(None if broker is None else int(broker))
    return cast(Target, kind(*groups.values()))


def parse_target(text: str, allowed: tuple[type, ...]) -> Target:
    """Parse a target string into one of the ``allowed`` target types."""
    for kind, pattern in _PATTERNS:
        match = pattern.match(text)
        if match is not None and kind in allowed:
            return _build(kind, match, text)
    forms = ", ".join(_FORMS[kind] for kind in allowed)
    raise ValueError(f"expected {forms}")


class Targets:
    """Field annotation: a target written as a string that must be one of ``allowed`` types,
    held typed, and written back as the string::

        target: Annotated[ServiceTarget | DatabaseTarget, Targets(ServiceTarget, DatabaseTarget)]
    """

    def __init__(self, *allowed: type) -> None:
        self.allowed = allowed
        self.forms = ", ".join(_FORMS[kind] for kind in allowed)

    def validate(self, value: Any) -> Target:
        if isinstance(value, self.allowed):
            return cast(Target, value)
        if not isinstance(value, str):
            raise ValueError(f"expected a string such as {_FORMS[self.allowed[0]]}")
        return parse_target(value, self.allowed)

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        return core_schema.no_info_plain_validator_function(
            self.validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                str, return_schema=core_schema.str_schema()
            ),
        )

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {"type": "string", "description": f"one of: {self.forms}"}
