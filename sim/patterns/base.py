"""What every pattern shares: services, network, logs, database calls and fault targets.

A pattern model is built for one run. It owns the services of the scenario, the network and
the databases it chooses (one shared database, or one per service), receives each request from
the workload through :meth:`PatternModel.arrive`, and decides how a write reaches the copies and
how a read is answered. Subclasses implement :meth:`write` (and override :meth:`build_databases` and
:meth:`database_of` when services do not each own a database, :meth:`read` when a read is not
simply answered from the service's database); they only wire the infrastructure pieces
together.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from sim.config.model import Scenario
from sim.context import SimContext
from sim.infra.common import OK, Done
from sim.infra.database import Database
from sim.infra.network import Network
from sim.infra.service import Job, Service
from sim.metrics.consistency import ConsistencyLog
from sim.metrics.requests import RequestLog
from sim.workload import DELETE, READ

__all__ = ["PatternModel"]

AtDatabase = Callable[[int, Any], None]


class PatternModel:
    """Base of the pattern models."""

    kind: ClassVar[str] = ""

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        self.ctx = ctx
        self.scenario = scenario
        self.spec = spec
        self.log = log
        self.services = {name: Service(ctx, name, cfg) for name, cfg in scenario.services.items()}
        self.service_index = {name: i for i, name in enumerate(scenario.services)}
        self.network = Network(ctx, scenario.network.latency)
        self.owner = scenario.data.owner
        self.replicas = list(scenario.data.replicas)
        self.read_targets = self.replicas or [self.owner]
        self.consistency = ConsistencyLog(ctx.recorder, self.replicas)
        self.databases = self.build_databases()
        requests = log.requests
        self._ops = requests.ops.tolist()
        self._keys = requests.keys.tolist()
        self._targets = requests.targets.tolist()

    # -- to implement ------------------------------------------------------------------------
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
        handler = self.services[service]
        database = self.database_of(service)

        def work(job: Job) -> None:
            self.db_call(
                service,
                database,
                key,
                False,
                None,
                lambda outcome, value: handler.finish(job, outcome, value),
            )

        self.request(index, service, work)

    def commit_at_owner(
        self,
        index: int,
        key: int,
        database: Database,
        also: Callable[[int, float], None] | None = None,
    ) -> None:
        """Write request ``index``: the owner writes the row to ``database`` (its commit is
        recorded, then ``also(version, time)`` runs at the same instant) and answers."""
        owner = self.services[self.owner]
        env = self.ctx.env
        delete = self.is_delete(index)

        def committed(outcome: int, version: Any) -> None:
            if outcome == OK:
                self.consistency.commit(key, version, env.now)
                if also is not None:
                    also(version, env.now)

        def work(job: Job) -> None:
            self.db_call(
                self.owner,
                database,
                key,
                True,
                committed,
                lambda outcome, version: owner.finish(job, outcome, version),
                delete=delete,
            )

        self.request(index, self.owner, work)

    # -- shared plumbing ---------------------------------------------------------------------
    def arrive(self, index: int) -> None:
        """A request from the workload arrives at the client edge."""
        key = self._keys[index]
        if self._ops[index] != READ:
            self.log.services[index] = self.service_index[self.owner]
            self.write(index, key)
        else:
            target = self.read_targets[self._targets[index]]
            self.log.services[index] = self.service_index[target]
            self.read(index, key, target)

    def is_delete(self, index: int) -> bool:
        """True when write request ``index`` deletes its row (a tombstone version)."""
        return self._ops[index] == DELETE

    def request(self, index: int, service: str, work: Callable[[Job], None]) -> None:
        """Send request ``index`` from the client to ``service``, run ``work``, answer the client.

        The version in the answer (the value given to :meth:`Service.finish`) is logged.
        """
        log = self.log
        env = self.ctx.env
        network = self.network

        def answered(outcome: int, value: Any) -> None:
            version = value if outcome == OK and isinstance(value, int) else -1
            if network.instant:
                log.finish(index, env.now, outcome, version)
            else:
                network.send(
                    service, "client", lambda: log.finish(index, env.now, outcome, version)
                )

        target = self.services[service]
        if network.instant:
            target.call(work, answered)
        else:
            network.send("client", service, lambda: target.call(work, answered))

    def db_call(
        self,
        service: str,
        database: Database,
        key: int,
        write: bool,
        at_database: AtDatabase | None,
        back: Done,
        version: int | None = None,
        delete: bool = False,
    ) -> None:
        """A query from ``service``: hop, query, hop back.

        ``at_database(outcome, version)`` runs at the instant the query ends (for recording
        commits exactly); ``back(outcome, version)`` runs when the answer reaches the service.
        """
        network = self.network
        if network.instant and at_database is None and not write:
            database.read(key, back)
            return
        node = f"db:{database.name}"

        def ended(outcome: int, value: Any) -> None:
            if at_database is not None:
                at_database(outcome, value)
            network.send(node, service, lambda: back(outcome, value))

        if write:
            network.send(service, node, lambda: database.write(key, ended, version, delete))
        else:
            network.send(service, node, lambda: database.read(key, ended))

    # -- fault targets -----------------------------------------------------------------------
    def fault_objects(self, target: str) -> list[Any]:
        """The components a fault target names (instances or databases) in this pattern."""
        kind, _, rest = target.partition(":")
        if kind == "service":
            return list(self.services[rest].instances)
        if kind == "instance":
            name, _, index = rest.rpartition("/")
            return [self.services[name].instances[int(index)]]
        if kind == "db":
            found = self.database_named(rest)
            return [] if found is None else [found]
        return []

    def database_named(self, name: str) -> Database | None:
        """The database a ``db:NAME`` target means in this pattern (None if there is none)."""
        return self.databases.get(name)

    def partition(self, link: str) -> Callable[[], None]:
        """Cut ``A<->B`` (both ways) or ``A->B``; returns the undo. A ``broker`` end is the
        broker's clients' connection, handled by :meth:`block_broker`."""
        both = "<->" in link
        first, second = link.split("<->") if both else link.split("->")
        pairs = [(first, second), (second, first)] if both else [(first, second)]
        undos = []
        for source, destination in pairs:
            if "broker" in (source, destination):
                other = destination if source == "broker" else source
                undos.append(self.block_broker(self.link_node(other)))
            else:
                undos.append(
                    self.network.block(self.link_node(source), self.link_node(destination))
                )

        def heal() -> None:
            for undo in undos:
                undo()

        return heal

    def block_broker(self, node: str) -> Callable[[], None]:
        """Cut a node off the broker (patterns with a broker override this)."""
        return lambda: None

    def connector(self, name: str) -> Any | None:
        """The connector called ``name`` (patterns with connectors override this)."""
        return None

    def consumer_group(self, name: str) -> Any | None:
        """The consumer group called ``name`` (patterns with a broker override this)."""
        return None

    def lose_leader(self, fault: Any) -> Callable[[], None] | None:
        """Apply a ``broker-leader-loss`` (patterns with a broker override this)."""
        return None

    def gauges(self) -> dict[str, float]:
        """Measurements of the pattern's own components for the summary (none here)."""
        return {}

    def link_node(self, end: str) -> str:
        """The network node a ``link:`` end means in this pattern."""
        if end.startswith("db:"):
            found = self.database_named(end[3:])
            return end if found is None else f"db:{found.name}"
        return end
