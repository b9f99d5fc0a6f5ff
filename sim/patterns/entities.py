"""Several entities in one run: one pattern model per entity, over the run's shared components.

A scenario whose ``data:`` names ``entities`` (:mod:`sim.config.data`) runs one model of the
pattern per entity, each built on the entity's own view of the data (its owner, its copies
``ENTITY.REPLICA``, its key range). The models share what the run has once
(:meth:`~sim.kernel.context.SimContext.once`): the network, the services with their
instances, slots and queues, the databases with their pools and row locks, the request
draws, the call graph and, in the broker patterns, the one broker and the producers (one per
process). So a service that owns one entity and keeps a copy of another is one set of
instances under the load of both, and a database one pool. Each entity has its own change
topic on the broker (``ENTITY.changes``, with the broker's partition count), its own consumer
groups (``consumer:ENTITY.REPLICA``) and, in the relay patterns, its own connector
(``connector:OWNER``, so two entities of a relay pattern need two owners).

:class:`EntityModels` stands for the models where the runner expects one: it routes each
request to the model of its key's entity, describes every model into one topology (what they
share is hosted, started and cut once; the broker's outage cuts every group), and merges what
the models report: the copies in entity order, the changes still on their way, the gauges
(:meth:`~sim.patterns.model.PatternModel.merged_gauges`: counts added up, every other gauge
the largest of the models', unless the pattern measures shared components once).

Left out: requests that touch several entities at once (a join, a write to two entities in
one transaction).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping
from typing import Any

from sim.config.data import EntitiesConfig
from sim.config.model import Scenario
from sim.faults.topology import Topology
from sim.infra.database import Database
from sim.infra.network import NetworkLink
from sim.infra.service import Instance, Leak, Service
from sim.kernel.context import SimContext
from sim.metrics.pairs import PairsLike
from sim.metrics.requests import RequestLog
from sim.patterns import model_class
from sim.patterns.messaging import BrokerOutage, MessagingModel
from sim.patterns.model import PatternModel

__all__ = ["EntityModels", "build_model"]


def build_model(
    ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog
) -> PatternModel | EntityModels:
    """The model of pattern ``spec`` for one run: the pattern's own model for the
    single-entity form of ``data:``, one per entity (:class:`EntityModels`) with ``entities``."""
    if isinstance(scenario.data, EntitiesConfig):
        return EntityModels(ctx, scenario, spec, log)
    return model_class(spec.kind)(ctx, scenario, spec, log)


class EntityModels:
    """One pattern model per entity of the scenario, run as one."""

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        data = scenario.data
        assert isinstance(data, EntitiesConfig)
        cls = model_class(spec.kind)
        entities = data.entity_list()
        self.ctx = ctx
        self.kind = cls.kind
        self.declares: type[PatternModel] = cls
        self.models = [
            cls(ctx, scenario.model_copy(update={"data": entity.data}), spec, log)
            for entity in entities
        ]
        self.replicas = data.copies
        """Every copy of every entity, ``ENTITY.REPLICA``, in entity order."""
        self.copy_keys: list[tuple[int, int]] | None = data.copy_scopes()
        """The keys each copy holds: its entity's range."""
        self._firsts = [entity.first_key for entity in entities]
        self._keys = log.keys
        first = self.models[0]
        self.services = first.services
        self.databases: dict[str, Database] = first.databases
        self.network = first.network
        self.topology: Topology | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    def elaborate(self) -> Topology:
        """Every model's components in one topology; links and the broker's outage over all."""
        topology = Topology()
        for model in self.models:
            model.describe(topology)
        topology.links(self.links)
        groups = [
            group
            for model in self.models
            if isinstance(model, MessagingModel)
            for group in model.groups.values()
        ]
        first = self.models[0]
        if isinstance(first, MessagingModel):
            topology.set_broker(first.broker, BrokerOutage(self.network, groups))
        topology.check()
        for model in self.models:
            model.topology = topology
        self.topology = topology
        return topology

    def start(self) -> None:
        (self.topology if self.topology is not None else self.elaborate()).start()

    def links(self, source: str, destination: str) -> list[Any]:
        """A link's components in every model, each once (a network link by its two ends)."""
        if "broker" not in (source, destination):
            return self.models[0].links(source, destination)
        found: dict[Any, Any] = {}
        for model in self.models:
            for part in model.links(source, destination):
                same = (
                    (part.source, part.destination) if isinstance(part, NetworkLink) else id(part)
                )
                found.setdefault(same, part)
        return list(found.values())

    # -- requests ----------------------------------------------------------------------------
    def arrive(self, index: int) -> None:
        """Request ``index`` goes to the model of its key's entity."""
        self.models[bisect_right(self._firsts, int(self._keys[index])) - 1].arrive(index)

    # -- what the runner reads ---------------------------------------------------------------
    def all_services(self) -> list[Service]:
        found: dict[int, Service] = {}
        for model in self.models:
            for service in model.all_services():
                found.setdefault(id(service), service)
        return list(found.values())

    def leaks(self) -> list[Leak]:
        return [leak for service in self.all_services() for leak in service.leaks]

    def occupied(self) -> tuple[dict[str, list[Instance]], dict[str, list[Database]]]:
        return self.models[0].occupied()

    def quiet(self) -> bool:
        return all(model.quiet() for model in self.models)

    def pending_versions(self) -> Mapping[int, PairsLike]:
        """Each model's changes on their way, by the run's copy numbers."""
        found: dict[int, PairsLike] = {}
        for model in self.models:
            for copy, pairs in model.pending_versions().items():
                found[model.data.first_copy + copy] = pairs
        return found

    def gauges(self) -> dict[str, float]:
        """The models' gauges, merged as the pattern says (:meth:`PatternModel.merged_gauges`)."""
        return self.declares.merged_gauges(self.models)
