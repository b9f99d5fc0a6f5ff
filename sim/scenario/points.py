"""The points of a scenario: itself, or one scenario per point of its ``sweep:`` block.

A point is the scenario as written with the point's values set at their key paths
(:mod:`sim.scenario.overrides`), validated like any scenario file; a point that is not valid
is reported at the swept value that made it so. Each point has a stream key: 0 for a scenario
without a sweep, otherwise a 64-bit hash of the point's values, so a point's random streams
(``(seed, point key, replication, stream)``, :mod:`sim.kernel.rng`) depend on what the point
is, not on where it stands in the list: adding, removing or moving a point changes no other.
With ``streams: common`` every point's key is 0: all points run on the same draws.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.config.experiments import plain
from sim.config.model import Location, Scenario
from sim.config.paths import format_path, parse_path
from sim.kernel.rng import name_key
from sim.scenario.issues import ScenarioError, ScenarioIssue
from sim.scenario.overrides import OverrideError, set_path

__all__ = ["Origin", "Point", "cell", "column_names", "expand", "points"]

Origin = tuple[str, int, int]
"""Where a value set from outside the file came from: ``(file or option, line, column)``."""

Validate = Callable[[Any, str, Any, Mapping[Location, Origin], str], Scenario]


@dataclass(frozen=True)
class Point:
    """One point of a scenario."""

    index: int
    """Its place in the order written."""
    key: int
    """The key of its random streams (0 without a sweep)."""
    values: dict[str, Any] = field(default_factory=dict)
    """Path → value as written (empty without a sweep)."""
    scenario: Scenario | None = None
    """The scenario at this point (without its ``sweep:`` block)."""

    @property
    def label(self) -> str:
        """``poll_interval=5s, rate=100`` (empty without a sweep)."""
        names = column_names(list(self.values))
        return ", ".join(f"{names[p]}={_text(v)}" for p, v in self.values.items())


def points(scenario: Scenario) -> list[Point]:
    """The points of ``scenario``: one per sweep point, or the scenario itself."""
    found = scenario._points
    if found is not None:
        return list(found)
    return [Point(0, 0, {}, scenario)]


RESERVED = frozenset(
    [
        "point",
        "label",
        "stream_key",
        "pattern",
        "replication",
        "metric",
        "mean",
        "ci_low",
        "ci_high",
        "n",
        "value",
        "op",
        "key",
        "service",
        "start",
        "latency",
        "outcome",
        "version",
        "work",
        "replica",
        "commit_time",
        "delay",
        "kind",
        "target",
        "end",
        "applied",
        "slo",
        "passed",
        "margin",
        "pattern_a",
        "pattern_b",
        "diff",
        "checks",
        "failed",
        "passes",
        "first_failed",
        "truncated",
        "warmup",
    ]
)
"""Column names of the tables a swept column sits beside."""


def column_names(paths: list[str]) -> dict[str, str]:
    """A column name per swept path: its last key (``poll_interval``, ``rate``), or the whole
    path where two paths end alike or the last key is a column of the tables already
    (``network.latency``, not ``latency``)."""
    last = {path: _last_key(path) for path in paths}
    counts: dict[str, int] = {}
    for name in last.values():
        counts[name] = counts.get(name, 0) + 1
    return {
        path: name if counts[name] == 1 and name not in RESERVED else path
        for path, name in last.items()
    }


def expand(
    scenario: Scenario,
    positions: Any,
    filename: str,
    origins: Mapping[Location, Origin],
    validate: Validate,
) -> list[Point]:
    """Build and validate every point of ``scenario``'s sweep. ``positions`` is the file as
    read (for line and column), ``origins`` what was set from outside it."""
    sweep = scenario.sweep
    assert sweep is not None
    base = plain(positions)
    base.pop("sweep", None)
    issues: list[ScenarioIssue] = []
    found: list[Point] = []
    for index, assignment in enumerate(sweep.assignments()):
        data = copy.deepcopy(base)
        label = Point(index, 0, assignment).label
        prefix = f"sweep point {index + 1} ({label}): "
        point_origins: dict[Location, Origin] = dict(origins)
        broken = False
        for path, value in assignment.items():
            where = _value_origin(positions, filename, origins, path, sweep.over[path], value)
            try:
                for loc in set_path(data, path, value):
                    point_origins[loc] = where
            except OverrideError as error:
                issues.append(ScenarioIssue(*where, f"sweep.over.{path}", prefix + error.message))
                broken = True
        if broken:
            continue
        try:
            point = validate(data, filename, positions, point_origins, prefix)
        except ScenarioError as error:
            issues.extend(error.issues)
            continue
        key = 0 if sweep.streams == "common" else _stream_key(assignment)
        found.append(Point(index, key, assignment, point))
    if issues:
        raise ScenarioError(_unique(issues))
    return found


def _stream_key(assignment: Mapping[str, Any]) -> int:
    canonical = json.dumps(
        [[format_path(parse_path(p)), v] for p, v in sorted(assignment.items())],
        sort_keys=True,
        default=str,
    )
    return name_key(f"point:{canonical}")


def _value_origin(
    positions: Any,
    filename: str,
    origins: Mapping[Location, Origin],
    path: str,
    values: list[Any],
    value: Any,
) -> Origin:
    """Where the swept ``value`` of ``path`` is written."""
    if ("sweep", "over", path) in origins:
        return origins[("sweep", "over", path)]
    index = values.index(value)
    try:
        seq = positions["sweep"]["over"][path]
        line, column = seq.lc.item(index)
        return filename, line + 1, column + 1
    except (KeyError, TypeError, AttributeError, IndexError):
        return filename, 0, 0


def _last_key(path: str) -> str:
    parts = [p for p in parse_path(path) if isinstance(p, str)]
    return parts[-1] if parts else path


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(", ", ": "), default=str)


def cell(value: Any) -> Any:
    """A swept value as a table cell: numbers, booleans and text as they are, anything else
    (a mapping, a list) as its JSON text."""
    if isinstance(value, bool | int | float | str) or value is None:
        return value
    return _text(value)


def _unique(issues: list[ScenarioIssue]) -> list[ScenarioIssue]:
    seen: set[str] = set()
    out = []
    for issue in issues:
        if str(issue) not in seen:
            seen.add(str(issue))
            out.append(issue)
    return out
