"""A pattern's topology: which of its components each fault target reaches.

A pattern model builds one :class:`Topology` while it constructs its components: every
component that runs inside a service is *hosted* by a service instance
(:meth:`Topology.host`), databases, consumer groups, connectors and the broker are added by
name, and the pattern says what a ``link:A->B`` target means for it (:meth:`Topology.links`).
:meth:`Topology.resolve` then answers, before the run starts, which components a target
names; the fault injector keeps those that can suffer the fault (:mod:`sim.faults.components`)
and reports a fault that reaches nothing as not applicable.

The topology also lists the components whose processes start with the run
(:meth:`Topology.startable`), in the order they were added, and what publishes to and
consumes from each topic, so the elaboration step can refuse a consumer with no source.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from sim.faults.targets import (
    BrokerTarget,
    ConnectorTarget,
    ConsumerTarget,
    DatabaseTarget,
    InstanceTarget,
    LinkTarget,
    PartitionTarget,
    ServiceTarget,
    Target,
)

__all__ = ["ElaborationError", "Startable", "Topology"]

LinkResolver = Callable[[str, str], list[Any]]
"""``links(source, destination)``: the components carrying messages from one end to another."""


class ElaborationError(ValueError):
    """A pattern's components are not wired into a whole (a consumer with no source, ...)."""


class Startable(Protocol):
    def start(self) -> None: ...


class Topology:
    """The components of one pattern model, by what a fault target can name."""

    def __init__(self) -> None:
        self._hosted: dict[str, list[tuple[int, Any]]] = {}
        self._known: set[Any] = set()
        self._databases: dict[str, Any] = {}
        self._database_alias: Callable[[str], str | None] | None = None
        self._groups: dict[str, Any] = {}
        self._connectors: dict[str, list[Any]] = {}
        self._broker: Any = None
        self._outage: Any = None
        self._links: LinkResolver | None = None
        self._startable: list[Startable] = []
        self._publishers: dict[str, list[str]] = {}
        self._subscribers: dict[str, list[str]] = {}
        self._clocks_read: dict[str, set[str]] = {}

    # -- building ----------------------------------------------------------------------------
    def host(self, component: Any, service: str, index: int) -> None:
        """``component`` runs inside instance ``index`` of ``service``: a crash of that
        instance (or of the whole service) reaches it. Hosting the same component again
        (the models of several entities describe the instances they share) changes nothing."""
        if id(component) not in self._known:  # (the topology holds it: its id is its own)
            self._known.add(id(component))
            self._hosted.setdefault(service, []).append((index, component))

    def add_database(self, name: str, database: Any) -> None:
        self._databases[name] = database

    def alias_databases(self, alias: Callable[[str], str | None]) -> None:
        """Say which database a ``db:NAME`` target means (the shared database: any name)."""
        self._database_alias = alias

    def add_group(self, name: str, group: Any, topic: str) -> None:
        """A consumer group called ``name`` reading ``topic``."""
        self._groups[name] = group
        self._subscribers.setdefault(topic, []).append(name)

    def add_publisher(self, name: str, topic: str) -> None:
        """Something called ``name`` publishes to ``topic``."""
        self._publishers.setdefault(topic, []).append(name)

    def add_connector(self, name: str, *components: Any) -> None:
        """The connector called ``name``: its task and whatever dies with it (its producer)."""
        self._connectors[name] = list(components)

    def set_broker(self, broker: Any, outage: Any = None) -> None:
        """The broker cluster, and what takes the whole cluster out of reach."""
        self._broker = broker
        self._outage = outage

    def links(self, resolver: LinkResolver) -> None:
        """How this pattern resolves the two ends of a ``link:`` target."""
        self._links = resolver

    def reads_clocks(self, database: str, writers: list[str]) -> None:
        """Something reads the stamps of ``database``'s rows (a timestamp column), which come
        from the database's clock and the clocks of the ``writers`` services."""
        self._clocks_read.setdefault(database, set()).update(writers)

    def clock_read(self, database: str | None = None, service: str | None = None) -> bool:
        """Whether the clock of ``database`` (or of ``service``'s instances) is read."""
        if database is not None:
            return database in self._clocks_read
        return any(service in writers for writers in self._clocks_read.values())

    def startable(self, component: Startable) -> None:
        """``component.start()`` runs when the pattern starts, in the order added (once,
        however often it is added)."""
        if ("start", id(component)) not in self._known:
            self._known.add(("start", id(component)))
            self._startable.append(component)

    # -- reading -----------------------------------------------------------------------------
    @property
    def broker(self) -> Any:
        return self._broker

    def group(self, name: str) -> Any:
        return self._groups.get(name)

    def connector(self, name: str) -> Any:
        found = self._connectors.get(name)
        return None if not found else found[0]

    def group_names(self) -> list[str]:
        """The consumer groups a ``consumer:`` target can name."""
        return list(self._groups)

    def connector_names(self) -> list[str]:
        """The connectors a ``connector:`` target can name."""
        return list(self._connectors)

    def start(self) -> None:
        """Launch every registered component's processes, in registration order."""
        for component in self._startable:
            component.start()

    def resolve(self, target: Target) -> list[Any]:
        """The components ``target`` names in this pattern (empty when none)."""
        if isinstance(target, ServiceTarget):
            return [component for _, component in self._hosted.get(target.service, [])]
        if isinstance(target, InstanceTarget):
            hosted = self._hosted.get(target.service, [])
            return [component for index, component in hosted if index == target.index]
        if isinstance(target, DatabaseTarget):
            name = (
                target.name if self._database_alias is None else self._database_alias(target.name)
            )
            found = self._databases.get(name) if name is not None else None
            return [] if found is None else [found]
        if isinstance(target, LinkTarget):
            if self._links is None:
                return []
            return [part for a, b in target.directions() for part in self._links(a, b)]
        if isinstance(target, PartitionTarget):
            return [] if self._broker is None else [self._broker]
        if isinstance(target, BrokerTarget):
            return [part for part in (self._broker, self._outage) if part is not None]
        if isinstance(target, ConsumerTarget):
            found = self._groups.get(target.group)
            return [] if found is None else [found]
        if isinstance(target, ConnectorTarget):
            return list(self._connectors.get(target.name, []))
        return []

    def check(self) -> None:
        """Refuse a topology that is not a whole: every consumed topic needs a publisher."""
        for topic, groups in self._subscribers.items():
            if not self._publishers.get(topic):
                raise ElaborationError(
                    f"consumer group(s) {', '.join(groups)} read topic {topic!r}, "
                    "which nothing publishes to"
                )
