"""What every pattern model shares: its lifecycle, services, network, databases and topology.

A pattern is one module: a settings model (``kind`` and the pattern's keys) and a model class
that names it (``settings = ...``), declares the metrics its components measure
(``metrics = (...)``, :mod:`sim.metrics.catalog`) and is registered with one line,
:func:`register_pattern`. A model is built for one run, in three steps:

1. **construct** (``__init__``): build the components (services with their instances, the
   network, databases, and whatever the pattern adds: a broker, consumer groups, connectors);
   nothing runs yet;
2. **elaborate** (:meth:`PatternModel.elaborate`): describe the components in a
   :class:`~sim.faults.topology.Topology` (which service hosts what, which database a
   ``db:`` target means, what a ``link:`` is) and check it is whole;
3. **start** (:meth:`PatternModel.start`): launch every component's processes, in the order
   the topology lists them.

A model moves one entity (``self.data``: its owner, its copies). With several entities the
run builds one model per entity (:mod:`sim.patterns.entities`); the models share the run's
network, services, databases, request draws and call graph (built once, through
:meth:`~sim.kernel.context.SimContext.once`), and so contend for the same slots and pools.

Then the workload hands each request to :meth:`PatternModel.arrive`; the model decides how a
write reaches the copies (:meth:`write`) and how a read is answered (:meth:`read`). A request
at a service with ``calls`` then makes that service's calls (:mod:`sim.infra.callgraph`),
whatever the pattern: :meth:`request` adds them around the pattern's work. Work at a
service runs through its :class:`~sim.infra.service.Job` (``job.read_row``,
``job.write_row``, ``job.track``, ``job.finish``), which cannot leak its slot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, ClassVar, TypeVar

from sim.config.data import DataConfig
from sim.config.model import PatternSettings, Scenario
from sim.faults.topology import Topology
from sim.infra.callgraph import CallGraph
from sim.infra.database import Database
from sim.infra.job import NO_DEADLINE
from sim.infra.network import Network, NetworkLink
from sim.infra.service import Instance, Job, Leak, Service
from sim.kernel.codes import DELETE, OK, READ, Done
from sim.kernel.context import SimContext
from sim.kernel.draws import Keyed, KeyedWork, RequestDraws, RequestWork
from sim.kernel.registry import PATTERNS, kind_of
from sim.metrics.always import consistency_log
from sim.metrics.catalog import COMMON, GAUGES, Metric, declared, known_metrics
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog

__all__ = ["PatternModel", "register_pattern"]

M = TypeVar("M", bound=type["PatternModel"])


class PatternModel:
    """Base of the pattern models."""

    settings: ClassVar[type[PatternSettings]]
    """The pattern's settings model (its ``kind`` names the pattern)."""
    metrics: ClassVar[tuple[Metric, ...]] = ()
    """Metrics the model's components measure, reported by :meth:`gauges`."""
    kind: ClassVar[str] = ""
    copy_keys: ClassVar[list[tuple[int, int]] | None] = None
    """The keys each copy holds (None: every key; several entities: :mod:`sim.patterns.entities`)."""
    propagates_deadline = False
    """Whether a request carries the client's deadline (arrival + the workload's timeout) to the
    service that handles it, which drops it once the client has given up (:mod:`sim.infra.job`)."""

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        self.ctx = ctx
        self.scenario = scenario
        self.spec = spec
        self.log = log
        data = scenario.data
        assert isinstance(data, DataConfig), "one model per entity: see sim.patterns.entities"
        self.data = data
        """The entity this model moves (one of several: :mod:`sim.patterns.entities`)."""
        self.owner = data.owner
        self.replicas = list(data.replicas)
        self.copy_names = data.copies
        """The names of the copies (``ENTITY.REPLICA`` for one entity of several)."""
        self.read_targets = self.replicas or [self.owner]
        self.network = ctx.once("network", lambda: Network(ctx, scenario.network.latency))
        self.services = ctx.once("services", self.build_services)
        self.service_index = {name: i for i, name in enumerate(scenario.services)}
        self.consistency = consistency_log(
            ctx.recorder, self.copy_names, ctx.always, self.applies_committed(), data.first_copy
        )
        self.databases = ctx.once("databases", self.build_databases)
        self.draws = ctx.once(
            RequestDraws.SHARED, lambda: RequestDraws(ctx.streams, log.drawn, log.ident)
        )
        """Every request's own work, drawn up front (:mod:`sim.kernel.draws`)."""
        self._keyed: dict[str, Keyed] = {}
        self.topology: Topology | None = None
        configs = scenario.services
        self.graph = ctx.once(
            "graph",
            lambda: (
                CallGraph(ctx, self.network, self.services, configs)
                if any(c.calls for c in configs.values())
                else None
            ),
        )
        """The services' own calls (:mod:`sim.infra.callgraph`); None when no service calls."""

    @property
    def declares(self) -> type[PatternModel]:
        """The class whose ``metrics`` the model reports."""
        return type(self)

    def applies_committed(self) -> bool:
        """Whether a copy only ever applies a version the owner has already committed (checked
        during a run with invariant checks on, :mod:`sim.metrics.always`); a pattern that may
        hand a change out before its commit says False."""
        return True

    # -- lifecycle ---------------------------------------------------------------------------
    def elaborate(self) -> Topology:
        """Describe the components in a topology and check it (see the module docstring)."""
        topology = Topology()
        self.describe(topology)
        topology.check()
        self.topology = topology
        return topology

    def start(self) -> None:
        """Launch the components' processes (after :meth:`elaborate`)."""
        (self.topology if self.topology is not None else self.elaborate()).start()

    def describe(self, topology: Topology) -> None:
        """Add this pattern's components to ``topology``: by default every service hosts its
        instances, each database answers to its own name, and a ``link:A->B`` is the network
        between the two nodes (a ``broker`` end: :meth:`broker_links`)."""
        self.describe_services(topology)
        for name, database in self.databases.items():
            topology.add_database(name, database)
        topology.alias_databases(self._database_alias)
        topology.links(self.links)

    def describe_services(self, topology: Topology) -> None:
        """Which components each service instance hosts: by default just the instance."""
        for name, service in self.services.items():
            for instance in service.instances:
                topology.host(instance, name, instance.index)

    def links(self, source: str, destination: str) -> list[Any]:
        """The components carrying messages from ``source`` to ``destination``."""
        if "broker" in (source, destination):
            return self.broker_links(self.link_node(source), self.link_node(destination))
        return [NetworkLink(self.network, self.link_node(source), self.link_node(destination))]

    def broker_links(self, source: str, destination: str) -> list[Any]:
        """What a link between a node and the broker carries in this pattern (patterns with
        a broker override this)."""
        return []

    def link_node(self, end: str) -> str:
        """The network node a ``link:`` end means in this pattern."""
        if end.startswith("db:"):
            found = self.database_named(end[3:])
            return end if found is None else f"db:{found.name}"
        return end

    def database_named(self, name: str) -> Database | None:
        """The database a ``db:NAME`` target means in this pattern (None if there is none)."""
        return self.databases.get(name)

    def _database_alias(self, name: str) -> str | None:
        found = self.database_named(name)
        return None if found is None else found.name

    def leaks(self) -> list[Leak]:
        """Every slot a job leaked during the run (a model error)."""
        return [leak for service in self.all_services() for leak in service.leaks]

    def all_services(self) -> list[Service]:
        """Every service of the model (patterns with extra roles add theirs)."""
        return list(self.services.values())

    def gauges(self) -> dict[str, float]:
        """What the model's own components measured, one value per declared metric."""
        return {}

    @classmethod
    def merged_gauges(cls, models: Sequence[PatternModel]) -> dict[str, float]:
        """The gauges of one run's models of several entities, whose own components
        (connectors, consumer groups) are theirs alone: counts added up, any other gauge the
        largest of the models'. A pattern whose gauges read components the models share
        says how to measure them once."""
        units = {metric.name: metric.unit for metric in declared(cls)}
        merged: dict[str, float] = {}
        for model in models:
            for name, value in model.gauges().items():
                if name not in merged:
                    merged[name] = value
                elif units.get(name) == "count":
                    merged[name] += value
                else:
                    merged[name] = max(merged[name], value)
        return merged

    def occupied(self) -> tuple[dict[str, list[Instance]], dict[str, list[Database]]]:
        """The servers whose occupancy is measured (:mod:`sim.infra.occupancy`): each
        service's instances by the service's name, and each database (once, by its name)."""
        services = {service.name: list(service.instances) for service in self.all_services()}
        databases: dict[str, list[Database]] = {}
        for database in self.databases.values():
            databases.setdefault(database.name, [database])
        return services, databases

    def quiet(self) -> bool:
        """True when nothing is left to happen: no request at any service, nothing held on a
        link (patterns with consumers or connectors add theirs)."""
        if self.network.holding or (self.graph is not None and self.graph.waiting):
            return False
        return all(i.idle for service in self.all_services() for i in service.instances)

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """Per copy, the (key, version) changes that are not applied yet but can still arrive:
        still in a log, a buffer or a call under way (none by default)."""
        return {}

    # -- to implement ------------------------------------------------------------------------
    def build_services(self) -> dict[str, Service]:
        """The services that answer requests, by the name requests address: by default every
        service of the scenario."""
        return {
            name: Service(self.ctx, name, cfg, self.network)
            for name, cfg in self.scenario.services.items()
        }

    def build_databases(self) -> dict[str, Database]:
        """The databases of this pattern, by name: by default each service has its own, with
        the profile ``databases.default`` overridden by ``databases.<service>``."""
        profiles = self.scenario.databases
        return {name: Database(self.ctx, name, profiles.profile(name)) for name in self.services}

    def database_of(self, service: str) -> Database:
        """The database a service uses (by default its own)."""
        return self.databases[service]

    def write(self, index: int, key: int) -> None:
        """Handle write (or delete: :meth:`is_delete`) request ``index`` arriving at the owner."""
        raise NotImplementedError

    def read(self, index: int, key: int, service: str) -> None:
        """Handle read request ``index`` arriving at ``service``: by default the service reads
        the row from its database and answers with the version it found."""
        database = self.database_of(service)

        def work(job: Job) -> None:
            job.read_row(database, key, then=job.finish)

        self.request(index, service, work)

    def commit_at_owner(
        self,
        index: int,
        key: int,
        database: Database,
        also: Callable[[int, float], None] | None = None,
        extra: Callable[[], float] | None = None,
    ) -> None:
        """Write request ``index``: the owner writes the row to ``database`` (its commit is
        recorded, then ``also(version, time)`` runs at the same instant) and answers;
        ``extra()`` is the time of more work in the same transaction."""
        env = self.ctx.env
        delete = self.is_delete(index)
        consistency = self.consistency

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                consistency.commit(key, version, env.now)
                if also is not None:
                    also(version, env.now)

        def work(job: Job) -> None:
            more = 0.0 if extra is None else extra()
            job.write_row(
                database, key, delete=delete, on_commit=committed, then=job.finish, extra=more
            )

        self.request(index, self.owner, work)

    # -- shared plumbing ---------------------------------------------------------------------
    def arrive(self, index: int) -> None:
        """A request from the workload arrives at the client edge."""
        log = self.log  # its columns, read here: they are replaced when a request is added
        key = log.keys[index]
        if log.ops[index] != READ:
            self.log.services[index] = self.service_index[self.owner]
            self.write(index, key)
        else:
            target = self.read_targets[log.targets[index]]
            self.log.services[index] = self.service_index[target]
            self.read(index, key, target)

    def keyed(self, role: str, *ids: int) -> KeyedWork:
        """The draws of a unit of work other than a request's own, named by its role and ids:
        ``keyed("apply", copy, key, version, attempt)`` is the same work in every pattern."""
        found = self._keyed.get(role)
        if found is None:
            found = self._keyed[role] = Keyed(self.ctx.streams, role)
        return KeyedWork(found, *ids)

    def is_delete(self, index: int) -> bool:
        """True when write request ``index`` deletes its row (a tombstone version)."""
        return self.log.ops[index] == DELETE

    def request(
        self, index: int, service: str, work: Callable[[Job], None], at: Service | None = None
    ) -> None:
        """Send request ``index`` from the client to ``service``, run ``work``, answer the client.

        ``at`` is the service that handles it when it is not ``services[service]`` (a role of
        the service, such as event sourcing's writer). The version in the answer (the value
        given to :meth:`Job.finish`) is logged, and so are its service time and its queue wait.
        """
        log = self.log
        env = self.ctx.env
        network = self.network
        waits = log.waits
        job: Job | None = None  # set once the service has it

        def answered(outcome: int, value: Any) -> None:
            nonlocal job
            if job is not None:  # it waited in the queue: its wait is known now
                waits[index] = job.wait
                job = None  # no cycle (job -> answered -> job) left for the collector
            version = value if outcome == OK and isinstance(value, int) else -1
            if network.instant:
                log.finish(index, env.now, outcome, version)
                return
            if log.on_answer is None:  # nothing acts on the answer: record when it arrives
                at = network.arrival(service, "client")
                if at is not None:
                    log.finish(index, at, outcome, version)
                    return
            network.send(service, "client", lambda: log.finish(index, env.now, outcome, version))

        target = self.services[service] if at is None else at
        all_draws = self.draws
        draws = RequestWork(all_draws, index) if index < all_draws.count else all_draws.work(index)
        works = log.works
        deadline = env.now + log.timeout if self.propagates_deadline else NO_DEADLINE
        done: Done = answered
        graph = self.graph
        if graph is not None and service in graph.stages:  # the service's own calls
            ids = (index,) if index < log.drawn else (-1, *log.ident(index))
            work, done = graph.around(service, graph.root(ids), work, answered, deadline)

        if network.instant:  # handled now: no closure, no frame for it (the hottest path)
            found = target.call(work, done, draws, deadline)
            works[index] = found.service_time
            waits[index] = found.wait  # NaN while it waits for a slot
            if found.wait != 0.0 and not found.finished:  # queued: known once answered
                job = found
            return

        def handle() -> None:  # the same, once the request reaches the service
            nonlocal job
            found = target.call(work, done, draws, deadline)
            works[index] = found.service_time
            waits[index] = found.wait
            if found.wait != 0.0 and not found.finished:
                job = found

        network.send("client", service, handle)


def register_pattern(cls: M) -> M:
    """Register a pattern model class under its settings' ``kind`` (usable as a decorator).

    Its declared metrics must be :class:`~sim.metrics.catalog.Metric` values that do not
    redefine a common metric or another pattern's metric of the same name."""
    if not (isinstance(cls, type) and issubclass(cls, PatternModel)):
        raise TypeError(f"{cls!r} is not a PatternModel subclass")
    kind = kind_of(getattr(cls, "settings", None))
    common = {m.name for m in (*COMMON, *GAUGES)}
    known = known_metrics()
    for item in declared(cls):
        if item.name in common or known.get(item.name, item) != item:
            raise ValueError(f"pattern {kind!r} redeclares metric {item.name!r} differently")
    cls.kind = kind
    PATTERNS.register(kind, cls)
    return cls
