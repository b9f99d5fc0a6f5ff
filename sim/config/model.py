"""The scenario file as a pydantic model: every key, its meaning and its default.

A scenario names services, their databases, the network, the data, the workload (see
:mod:`sim.config.sections`), the broker (:mod:`sim.config.broker`), the patterns to compare,
the faults to inject and the SLOs to judge them by. Unknown keys are errors. ``patterns`` and
``faults`` are unions keyed on ``kind`` built from the registries of
:mod:`sim.kernel.registry`: each pattern and fault module contributes its own settings model,
so this module names none of them. :func:`ensure_current` rebuilds the model after a kind is
registered. Checks that need the whole file (a replica that is not a service, a fault target
that names a missing service) live in :func:`cross_check`, which returns errors with their path
so the loader can point at the file position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    Discriminator,
    Field,
    GetCoreSchemaHandler,
    PlainSerializer,
    PlainValidator,
    PrivateAttr,
    Tag,
    WithJsonSchema,
    model_validator,
)
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

from sim.config.broker import BrokerConfig
from sim.config.data import SINGLE_ENTITY_ONLY, Data, EntitiesConfig, data_problems
from sim.config.experiments import AdaptiveReplications, Decision, Sweep
from sim.config.graph import graph_problems
from sim.config.paths import PathError, parse_path
from sim.config.sections import (
    Databases,
    NetworkConfig,
    ServiceConfig,
    WorkloadConfig,
)
from sim.config.types import Name, NonNegativeDuration, PositiveDuration, Probability, StrictModel
from sim.kernel.registry import FAULTS, PATTERNS, Registry
from sim.kernel.rng import Streams
from sim.metrics.slo import Slo, SloError, parse_slo

__all__ = [
    "Capacity",
    "Drain",
    "FaultSettings",
    "Location",
    "PatternSettings",
    "Problem",
    "Scenario",
    "SloLine",
    "cross_check",
    "ensure_current",
]

Location = tuple[str | int, ...]
Problem = tuple[Location, str, object]
"""A whole-file problem: ``(path, message, value found)``."""


class Drain(StrictModel):
    """Run after the load until the system is quiet — every consumer caught up with its log,
    connectors idle, no work in flight, nothing held on a link — or until ``max``."""

    until: Literal["quiet"] = Field("quiet", description="what ends the drain")
    max: PositiveDuration = Field(600.0, description="the longest the drain runs (judgment)")
    check: PositiveDuration = Field(
        1.0, description="how often, in simulated time, quiet is checked (judgment)"
    )


class PatternSettings(StrictModel):
    """Base of a pattern's settings: its ``kind`` (a literal in each subclass) and a label."""

    kind: str
    name: Name | None = Field(None, description="label in reports; defaults to the kind")
    entities: ClassVar[bool] = False
    """Whether the pattern runs a scenario whose ``data:`` names ``entities``."""

    def problems(self, scenario: Scenario) -> list[Problem]:
        """Whole-file problems of this pattern's settings (a call edge to no replica, a key
        naming a service that is not a replica, ...)."""
        return []

    def entity_problems(self, scenario: Scenario) -> list[Problem]:
        """Why this pattern cannot run the scenario's entities (none for one entity)."""
        if not isinstance(scenario.data, EntitiesConfig) or self.entities:
            return []
        return [(("kind",), SINGLE_ENTITY_ONLY, self.kind)]


class FaultSettings(StrictModel):
    """Base of a fault's settings: its ``kind`` (a literal in each subclass) and its start.

    Fault classes (:mod:`sim.faults`) add their target, window and effect."""

    kind: str
    start: NonNegativeDuration = Field(description="simulated time the fault begins")

    def problems(self, scenario: Scenario) -> list[Problem]:
        """Whole-file problems of this fault (a target naming a missing service, ...)."""
        return []

    def window_problems(self, scenario: Scenario) -> list[Problem]:
        """Whole-file problems of the fault's windows (too many recurring windows)."""
        return []

    def window(self, heal_by: float) -> tuple[float, float]:
        """``(start, end)`` of the fault, ended at ``heal_by`` at the latest."""
        return self.start, self.start

    def windows(self, heal_by: float, streams: Streams, index: int) -> list[tuple[float, float]]:
        """Every window of the fault in the replication of ``streams`` (fault ``index`` of the
        scenario); the same for every pattern."""
        return [self.window(heal_by)]


@dataclass(frozen=True)
class _FromRegistry:
    """Annotation: a union on ``kind`` of the settings models registered in ``registry``."""

    registry: Registry[Any]
    settings: str | None
    """Attribute of an entry holding its settings model (None: the entry is the model)."""

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        choices: dict[str, CoreSchema] = {}
        for kind in self.registry.kinds():
            entry = self.registry.get(kind)
            model = entry if self.settings is None else getattr(entry, self.settings)
            choices[kind] = handler.generate_schema(model)
        if not choices:
            what = self.registry.what

            def refuse(value: Any) -> Any:
                raise PydanticCustomError("no_kinds", f"no {what} kinds are registered")

            return core_schema.no_info_plain_validator_function(refuse)
        return core_schema.tagged_union_schema(choices, discriminator="kind")


def _slo(value: Any) -> Slo:
    if isinstance(value, Slo):
        return value
    if not isinstance(value, str):
        raise ValueError("an SLO is a line of text such as 'p99(latency) < 250ms'")
    try:
        return parse_slo(value)
    except SloError as error:
        raise ValueError(str(error)) from None


SloLine = Annotated[
    Slo,
    PlainValidator(_slo),
    PlainSerializer(lambda slo: slo.text, return_type=str),
    WithJsonSchema({"type": "string", "examples": ["p99(latency) < 250ms"]}),
]
"""One SLO, written as text and held parsed (:func:`sim.metrics.slo.parse_slo`)."""

PatternSpec = Annotated[PatternSettings, _FromRegistry(PATTERNS, "settings")]
FaultSpec = Annotated[FaultSettings, _FromRegistry(FAULTS, None)]


class Capacity(StrictModel):
    """Where each pattern stops meeting its SLOs: the load is multiplied (every phase's rate,
    or the one rate at ``rate``) and the multiplier searched by bracketing, then bisection."""

    slo: list[SloLine] = Field(
        default_factory=list, description="the objectives to hold (default: the scenario's slo)"
    )
    rate: str | None = Field(
        None,
        description="a key path to the one rate to scale (workload.phases[1].rate); "
        "default: every phase's rate and ramp_to",
    )
    start: float = Field(1.0, gt=0, description="the first multiplier probed")
    low: float = Field(1 / 64, gt=0, description="the smallest multiplier probed")
    high: float = Field(64.0, gt=0, description="the largest multiplier probed")
    tolerance: Probability = Field(
        0.05, gt=0, description="stop when the answer's high end is within this of its low end"
    )
    replications: int | None = Field(
        None,
        ge=1,
        le=1000,
        description="replications per probe (default: the scenario's); an uncertain probe "
        "doubles them, up to max_replications",
    )
    max_replications: int = Field(
        12, ge=1, le=10_000, description="replications at most for an uncertain probe"
    )
    patterns: list[str] = Field(
        default_factory=list, description="the patterns to search (default: all)"
    )

    @model_validator(mode="after")
    def _order(self) -> Capacity:
        if not self.low <= self.start <= self.high:
            raise ValueError(
                f"start ({self.start:g}) must lie between low ({self.low:g}) and high ({self.high:g})"
            )
        return self


def _replications_kind(value: Any) -> str:
    return "adaptive" if isinstance(value, dict | AdaptiveReplications) else "count"


Replications = Annotated[
    Annotated[Annotated[int, Field(ge=1, le=10_000)], Tag("count")]
    | Annotated[AdaptiveReplications, Tag("adaptive")],
    Discriminator(_replications_kind),
]


class Scenario(StrictModel):
    """A whole scenario file."""

    name: Name = Field(description="names the default output folder reports/<name>/")
    seed: int = Field(0, ge=0, description="root of every random stream")
    warmup: NonNegativeDuration = Field(
        0.0, description="requests started before this are not measured"
    )
    drain: Drain | NonNegativeDuration = Field(
        default_factory=lambda: Drain.model_validate({}),
        description="after the load (no new requests, faults healed) until the system is "
        "quiet, at most max ({until: quiet, max: 10m}, the default); or a fixed duration",
    )
    replications: Replications = Field(
        1,
        description="independent runs per pattern; or {min, max, target, metrics}: run more "
        "until each named metric's 95% interval is within target of its mean",
    )
    services: dict[Name, ServiceConfig] = Field(min_length=1)
    databases: Databases = Field(default_factory=lambda: Databases({}))
    network: NetworkConfig = Field(default_factory=NetworkConfig)
    data: Data = Field(
        description="the shared data: {owner, replicas, keys, key_distribution} for one "
        "entity, or {entities: {NAME: {owner, replicas, keys, key_distribution, share}}}"
    )
    workload: WorkloadConfig
    broker: BrokerConfig = Field(
        default_factory=lambda: BrokerConfig.model_validate({}),
        description="the Kafka-like broker of the asynchronous patterns (see docs/broker.md)",
    )
    patterns: list[PatternSpec] = Field(min_length=1)
    faults: list[FaultSpec] = Field(default_factory=list)
    slo: list[SloLine] = Field(
        default_factory=list,
        description="objectives every pattern is judged against, k6-style: "
        "'p99(latency) < 250ms', 'error_rate < 1%', 'p99(staleness) < 5s', 'lost_updates == 0'",
        examples=[["p99(latency) < 250ms", "error_rate < 1%", "divergent_keys == 0"]],
    )
    sweep: Sweep | None = Field(
        None,
        description="run the scenario at several points: {over: {key.path: [values]}, "
        "mode: grid | zip}",
    )
    decision: Decision | None = Field(
        None,
        description="weighted criteria to rank the patterns by, written as decision.md (an "
        "architecture decision record)",
    )
    capacity: Capacity | None = Field(
        None,
        description="settings of `patternsim capacity`: the load at which each pattern "
        "stops meeting its SLOs",
    )
    _source: dict[str, Any] | None = PrivateAttr(None)
    """The keys as written (plain types), when the scenario was loaded from a file or text."""
    _points: list[Any] | None = PrivateAttr(None)
    """The validated sweep points (:mod:`sim.scenario.points`)."""

    @property
    def first_replications(self) -> int:
        """The replications every pattern runs (the minimum, when adaptive)."""
        return self.replications if isinstance(self.replications, int) else self.replications.min

    def pattern_names(self) -> list[str]:
        """Labels of the patterns, in file order."""
        return [pattern.name or pattern.kind for pattern in self.patterns]


_built_for: tuple[int, int] | None = None


def ensure_current() -> None:
    """Rebuild :class:`Scenario` if a pattern or fault kind was registered since it was built."""
    global _built_for
    versions = (PATTERNS.version, FAULTS.version)
    if _built_for != versions:
        Scenario.model_rebuild(force=True)
        _built_for = versions


def cross_check(scenario: Scenario) -> list[Problem]:
    """Errors that need the whole file: ``(path, message, value found)`` for each."""
    errors: list[Problem] = data_problems(scenario.data, scenario.services, scenario.workload)
    services = set(scenario.services)
    errors.extend(graph_problems(scenario.services))
    load = scenario.workload.load_duration
    if scenario.warmup >= load:
        errors.append(
            (
                ("warmup",),
                f"the warm-up must end before the load does ({load:g}s): nothing would be measured",
                scenario.warmup,
            )
        )
    for name in scenario.databases.root:
        if name not in services and name not in ("default", "shared"):
            errors.append((("databases", name), "must be default, shared or a service name", name))
    seen: set[str] = set()
    for i, label in enumerate(scenario.pattern_names()):
        if label in seen:
            errors.append((("patterns", i), "two patterns with the same name; set name:", label))
        seen.add(label)
    for i, pattern in enumerate(scenario.patterns):
        for where, message, got in [
            *pattern.entity_problems(scenario),
            *pattern.problems(scenario),
        ]:
            errors.append((("patterns", i, *where), message, got))
    for i, fault in enumerate(scenario.faults):
        for where, message, got in [*fault.problems(scenario), *fault.window_problems(scenario)]:
            errors.append((("faults", i, *where), message, got))
    for i, slo in enumerate(scenario.slo):
        errors.extend((("slo", i), message, slo.text) for message in _slo_problems(slo, scenario))
    capacity = scenario.capacity
    if capacity is not None:
        labels = scenario.pattern_names()
        for i, name in enumerate(capacity.patterns):
            if name not in labels:
                errors.append(
                    (
                        ("capacity", "patterns", i),
                        f"no pattern called {name!r} ({', '.join(labels)})",
                        name,
                    )
                )
        for i, slo in enumerate(capacity.slo):
            errors.extend(
                (("capacity", "slo", i), message, slo.text)
                for message in _slo_problems(slo, scenario)
            )
        if capacity.rate is not None and not _is_rate_path(capacity.rate):
            errors.append(
                (
                    ("capacity", "rate"),
                    "expected the path of a phase's rate or ramp_to: workload.phases[N].rate",
                    capacity.rate,
                )
            )
    return errors


def _is_rate_path(path: str) -> bool:
    try:
        parts = parse_path(path)
    except PathError:
        return False
    return (
        len(parts) == 4
        and parts[:2] == ("workload", "phases")
        and isinstance(parts[2], int)
        and parts[3] in ("rate", "ramp_to")
    )


def _slo_problems(slo: Slo, scenario: Scenario) -> list[str]:
    """What an SLO names that the scenario does not have."""
    found = []
    for key, value in slo.slice:
        if key == "copy" and value not in scenario.data.copies:
            copies = ", ".join(scenario.data.copies) or "none"
            found.append(f"copy:{value} is not a copy (the copies: {copies})")
        if key == "service" and value not in scenario.services:
            found.append(f"service:{value} is not a service ({', '.join(scenario.services)})")
    if slo.during in ("fault", "recovery") and not scenario.faults:
        found.append(f"'during {slo.during}' needs faults: the scenario has none")
    elif (
        slo.during not in (None, "steady", "fault", "recovery")
        and scenario.workload.phase_window(slo.during) is None
    ):
        names = [p.name for p in scenario.workload.phases if p.name]
        known = ", ".join(["steady", "fault", "recovery", *names])
        found.append(f"no window called {slo.during!r}: expected {known}")
    return found
