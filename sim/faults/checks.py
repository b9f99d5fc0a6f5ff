"""What fault targets must name to be valid in a scenario: a service, instance or database
that exists, a link between two different known ends, a consumer group of a service and a
member index within it. Each check returns the problem in words, or nothing."""

from __future__ import annotations

from typing import Any

from sim.config.data import EntitiesConfig
from sim.config.model import Problem, Scenario
from sim.faults.targets import (
    ConsumerTarget,
    DatabaseTarget,
    InstanceTarget,
    LinkTarget,
    ServiceTarget,
)

__all__ = ["component_problem", "group_problem", "group_size", "link_problem", "problems"]


def component_problem(target: Any, scenario: Scenario) -> str | None:
    services = scenario.services
    if isinstance(target, ServiceTarget) and target.service not in services:
        return f"no service called {target.service!r}"
    if isinstance(target, InstanceTarget):
        if target.service not in services:
            return f"no service called {target.service!r}"
        count = services[target.service].instances
        if target.index >= count:
            return f"{target.service} has instances 0 to {count - 1}"
    if (
        isinstance(target, DatabaseTarget)
        and target.name not in services
        and target.name != "shared"
    ):
        return f"no database called {target.name!r}: use a service name or shared"
    return None


def link_problem(target: LinkTarget, scenario: Scenario, connectors: bool) -> str | None:
    services = set(scenario.services)
    if target.source == target.destination:
        return f"a link joins two different ends (both are {target.source!r})"
    for end in (target.source, target.destination):
        known = end in ("client", "broker") or end in services
        if end.startswith("db:"):
            known = end[3:] in services or end[3:] == "shared"
        if end.startswith("connector:"):
            known = connectors
        if not known:
            return (
                f"unknown link end {end!r}: use a service, client, broker, db:SERVICE "
                "or (for a partition) connector:OWNER"
            )
    return None


def problems(message: str | None, target: Any) -> list[Problem]:
    return [] if message is None else [(("target",), message, str(target))]


def group_problem(target: ConsumerTarget, scenario: Scenario) -> list[Problem]:
    if isinstance(scenario.data, EntitiesConfig):
        copies = scenario.data.copies
        if target.group in copies:
            return []
        return problems(
            f"no consumer group {target.group!r}: with data.entities a group is named after "
            f"its copy ({', '.join(copies) or 'none'})",
            target,
        )
    if target.group in scenario.services:
        return []
    return problems(f"no consumer group {target.group!r}: use a service name", target)


def group_size(group: str, scenario: Scenario) -> int:
    """The most members the group has in any pattern: one per instance of its service (with
    several entities, of the copy's replica), or an event-sourced projection's
    ``listeners``."""
    if isinstance(scenario.data, EntitiesConfig):
        service = dict(scenario.data.copy_services())[group]
        return scenario.services[service].instances
    sizes = [scenario.services[group].instances]
    sizes += [int(getattr(p, "listeners", 0) or 0) for p in scenario.patterns]
    return max(sizes)
