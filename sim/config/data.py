"""The ``data:`` section: the entities services share, who owns each, who keeps a copy.

Two forms. The single-entity form names one owner, its copies, its key count and how keys are
chosen (:class:`DataConfig`: ``{owner, replicas, keys, key_distribution}``). The form with
several entities (:class:`EntitiesConfig`: ``{entities: {NAME: {owner, replicas, keys,
key_distribution, share}}}``) gives each entity the same keys plus ``share``, its weight in
the workload: the shares are normalised (a request is about entity *i* with probability
``share_i / sum of shares``), so ``0.6`` and ``0.4`` or ``3`` and ``2`` say the same.

Keys are global integers: entity *i* (in file order) owns ``[first_i, first_i + keys_i)``,
where ``first_i`` is the sum of the key counts before it, so the consistency metrics work on
keys as they do for one entity. Its copies are named ``ENTITY.REPLICA`` (``orders.billing``:
billing's copy of orders), in file order; with the single form a copy is named after its
service. :meth:`DataConfig.entity_list` and :meth:`EntitiesConfig.entity_list` give both forms
as a list of :class:`Entity`, so code that runs per entity needs no second path.

Left out: entities that reference each other (a foreign key, a join), inserts, closed users
and replayed traces with several entities (refused by :func:`sim.config.model.cross_check`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, PrivateAttr, Tag, model_validator

from sim.config.load import WorkloadConfig
from sim.config.types import Name, Probability, StrictModel

__all__ = [
    "SINGLE_ENTITY_ONLY",
    "Data",
    "DataConfig",
    "EntitiesConfig",
    "Entity",
    "EntityConfig",
    "Hotspot",
    "HotspotKeys",
    "ZipfKeys",
    "data_problems",
]

SINGLE_ENTITY_ONLY = (
    "this pattern runs only the single-entity form of data: (owner, replicas, keys); with "
    "data.entities use cdc, dual_write, polling, shared_db or sync_http"
)
"""Why a pattern refuses ``data.entities``."""


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


KeySpread = Literal["uniform"] | ZipfKeys | HotspotKeys


def _hotspot_problem(spread: KeySpread, keys: int) -> None:
    if isinstance(spread, HotspotKeys) and spread.hotspot.share_of_traffic < 1 and keys < 2:
        raise ValueError("a hotspot with traffic off the hot keys needs 2 keys or more")


class _Entity(StrictModel):
    """The keys every entity has, in either form."""

    owner: str = Field(description="service that owns the entity; writes arrive here")
    replicas: list[str] = Field(
        default_factory=list,
        description="services that keep a copy; reads arrive here (at the owner when empty)",
    )
    keys: int = Field(1000, ge=1, le=1_000_000_000, description="number of entity keys")
    key_distribution: KeySpread = Field(
        "uniform",
        description="uniform, {zipf: S} or {hotspot: {share_of_traffic, share_of_keys}}",
    )

    @model_validator(mode="after")
    def _hotspot_needs_cold_keys(self) -> Any:
        _hotspot_problem(self.key_distribution, self.keys)
        return self


class DataConfig(_Entity):
    """The shared entity: who owns it, who keeps a copy, and how keys are chosen."""

    _entity: str | None = PrivateAttr(None)
    _first_copy: int = PrivateAttr(0)
    _first_key: int = PrivateAttr(0)

    @property
    def entity(self) -> str | None:
        """The entity's name when it is one of several (None in the single-entity form)."""
        return self._entity

    @property
    def first_copy(self) -> int:
        """The number of this entity's first copy among all the copies of the scenario."""
        return self._first_copy

    @property
    def key_range(self) -> tuple[int, int] | None:
        """The entity's global keys ``[first, end)`` when it is one of several (None: every
        key of the run is this entity's)."""
        if self._entity is None:
            return None
        return self._first_key, self._first_key + self.keys

    @property
    def copies(self) -> list[str]:
        """The names of the copies: the replicas' names, ``ENTITY.REPLICA`` for one of several."""
        if self._entity is None:
            return list(self.replicas)
        return [f"{self._entity}.{replica}" for replica in self.replicas]

    @property
    def total_keys(self) -> int:
        return self.keys

    def entity_list(self) -> list[Entity]:
        """This one entity, with every key and the whole workload."""
        return [Entity(None, self, 1.0, 0)]

    def copy_scopes(self) -> list[tuple[int, int]] | None:
        """The keys each copy holds: None, every copy holds every key."""
        return None

    def owners(self) -> list[str]:
        return [self.owner]

    def replica_services(self) -> list[str]:
        """The services that keep a copy of something."""
        return list(self.replicas)


class EntityConfig(_Entity):
    """One entity of several: its owner, its copies, its keys and its share of the workload."""

    share: float = Field(
        1.0,
        gt=0,
        le=1e9,
        description="weight of the entity in the workload; the shares are normalised (a "
        "request is about it with probability share / sum of shares)",
    )


@dataclass(frozen=True)
class Entity:
    """One entity of a scenario, resolved: its name (None in the single-entity form), its own
    single-entity view (``data``: the copies named as the scenario names them), its share of
    the requests (normalised) and its first global key."""

    name: str | None
    data: DataConfig
    share: float
    first_key: int

    @property
    def keys(self) -> int:
        return self.data.keys

    @property
    def key_range(self) -> tuple[int, int]:
        return self.first_key, self.first_key + self.data.keys


class EntitiesConfig(StrictModel):
    """Several entities, by name, each with its owner, copies, keys and share."""

    entities: dict[Name, EntityConfig] = Field(
        min_length=1, description="the entities by name: {owner, replicas, keys, share, ...}"
    )

    @property
    def total_keys(self) -> int:
        return sum(entity.keys for entity in self.entities.values())

    @property
    def copies(self) -> list[str]:
        """Every copy, ``ENTITY.REPLICA``, entity by entity in file order."""
        return [name for entity in self.entity_list() for name in entity.data.copies]

    def copy_services(self) -> list[tuple[str, str]]:
        """Each copy's name and the replica service that keeps it."""
        return [
            (name, replica)
            for entity in self.entity_list()
            for name, replica in zip(entity.data.copies, entity.data.replicas, strict=True)
        ]

    def copy_scopes(self) -> list[tuple[int, int]] | None:
        """The keys each copy holds, copy by copy (:attr:`copies`): its entity's range."""
        return [entity.key_range for entity in self.entity_list() for _ in entity.data.replicas]

    def entity_list(self) -> list[Entity]:
        """The entities in file order, each with its key range and normalised share."""
        total = sum(entity.share for entity in self.entities.values())
        found = []
        first_key = first_copy = 0
        for name, config in self.entities.items():
            view = DataConfig.model_validate(config.model_dump(exclude={"share"}))
            view._entity = name
            view._first_copy = first_copy
            view._first_key = first_key
            found.append(Entity(name, view, config.share / total, first_key))
            first_key += config.keys
            first_copy += len(config.replicas)
        return found

    def owners(self) -> list[str]:
        """The owners, each once, in file order."""
        return list(dict.fromkeys(entity.owner for entity in self.entities.values()))

    def replica_services(self) -> list[str]:
        """The services that keep a copy of some entity, each once, in file order."""
        return list(dict.fromkeys(r for entity in self.entities.values() for r in entity.replicas))


def _data_form(value: Any) -> str:
    if isinstance(value, EntitiesConfig) or (isinstance(value, dict) and "entities" in value):
        return "several"
    return "one"


Data = Annotated[
    Annotated[DataConfig, Tag("one")] | Annotated[EntitiesConfig, Tag("several")],
    Discriminator(_data_form),
]
"""The ``data:`` section in either form."""


def _entity_problems(
    where: tuple[str | int, ...], entity: _Entity, services: Collection[str]
) -> list[tuple[tuple[str | int, ...], str, object]]:
    errors: list[tuple[tuple[str | int, ...], str, object]] = []
    if entity.owner not in services:
        errors.append(((*where, "owner"), "must name a service", entity.owner))
    for i, replica in enumerate(entity.replicas):
        at = (*where, "replicas", i)
        if replica not in services:
            errors.append((at, "must name a service", replica))
        elif replica == entity.owner:
            errors.append((at, "the owner cannot also be a replica", replica))
        elif replica in entity.replicas[:i]:
            errors.append((at, "this service is already a replica", replica))
    return errors


def data_problems(
    data: DataConfig | EntitiesConfig, services: Collection[str], workload: WorkloadConfig
) -> list[tuple[tuple[str | int, ...], str, object]]:
    """Whole-file problems of ``data:`` (``(path, message, value found)`` each): an owner or a
    replica that is not a service, an owner that is its own replica, a replica named twice;
    with ``entities``, a workload the entities cannot share yet (inserts, closed users,
    replayed traces)."""
    if isinstance(data, DataConfig):
        return _entity_problems(("data",), data, services)
    errors = []
    for name, entity in data.entities.items():
        errors.extend(_entity_problems(("data", "entities", name), entity, services))
    if workload.mix.insert > 0:
        errors.append(
            (
                ("workload", "mix", "insert"),
                "inserts need the single-entity form of data: (which entity would a fresh "
                "key belong to?); set insert: 0 or use data: {owner, replicas, keys}",
                workload.mix.insert,
            )
        )
    for i, phase in enumerate(workload.phases):
        for key in ("closed", "trace"):
            if getattr(phase, key) is not None:
                errors.append(
                    (
                        ("workload", "phases", i, key),
                        f"a {key} phase needs the single-entity form of data: (its requests "
                        "draw no entity); use an open phase (rate) with data.entities",
                        key,
                    )
                )
    return errors
