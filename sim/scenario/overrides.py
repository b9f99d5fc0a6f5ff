"""Setting values at key paths of a scenario's data before validation (``--set``, sweeps).

Paths are read by :func:`sim.config.paths.parse_path`. In a list of mappings a key part names
the items whose ``name`` is that key, or, when none is, those whose ``kind`` is (and that have
no name of their own): ``patterns.polling.poll_interval`` sets the poll interval of the pattern
called ``polling``, or of every unnamed polling pattern. A missing mapping on the way is
created; a list index past the end, or a name that matches nothing, is an error.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError

from sim.config.model import Location
from sim.config.paths import PathError, parse_path
from sim.scenario.reading import check_tags, check_text

__all__ = ["OverrideError", "apply_overrides", "parse_value", "parse_values", "set_path"]


class OverrideError(ValueError):
    """A path that cannot be set; ``path`` is the path as given."""

    def __init__(self, path: str, message: str, value: object = None, has_value: bool = False):
        super().__init__(message)
        self.path = path
        self.message = message
        self.value = value
        self.has_value = has_value


def parse_value(raw: str) -> Any:
    """A ``--set`` value: YAML (``5s``, ``[1, 2]``, ``{dist: constant, value: 1ms}``), with the
    checks of a scenario file (:mod:`sim.scenario.reading`); raises ValueError."""
    problems = check_text(raw, "--set")
    if problems:
        raise ValueError(problems[0].message)
    try:
        value = YAML(typ="rt").load(io.StringIO(raw))
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except YAMLError as error:
        raise ValueError(f"not valid YAML: {_first_line(error)}") from None
    tagged = check_tags(value)
    if tagged:
        raise ValueError(f"a YAML tag ({tagged[0][1]}): values are plain")
    return YAML(typ="safe", pure=True).load(io.StringIO(raw))  # plain Python values


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__


def parse_values(raw: str) -> list[Any]:
    """``--sweep`` values: ``1s,5s,30s`` or ``[1s, 5s, 30s]`` (YAML flow sequence), each value
    read as YAML; raises ValueError when it is not valid YAML."""
    text = raw.strip()
    if not text.startswith("["):
        text = f"[{text}]"
    try:
        found = parse_value(text)
    except ValueError as error:
        raise ValueError(
            f"cannot read {raw!r} as values ({error}): expected a,b,c or [a, b, c]"
        ) from None
    if not isinstance(found, list) or not found:
        raise ValueError(f"cannot read {raw!r} as values: expected a,b,c or [a, b, c]")
    return found


def apply_overrides(
    data: Any, overrides: Iterable[str]
) -> tuple[set[Location], list[OverrideError]]:
    """Merge ``key.path=value`` overrides into ``data`` in place; return the locations set and
    the overrides that could not be applied."""
    touched: set[Location] = set()
    problems: list[OverrideError] = []
    for text in overrides:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            problems.append(OverrideError(text, "expected key.path=value"))
            continue
        try:
            value = parse_value(raw)
        except ValueError as error:
            problems.append(OverrideError(key, f"the value: {error}", raw, True))
            continue
        try:
            touched.update(set_path(data, key, value))
        except OverrideError as error:
            problems.append(error)
    return touched, problems


def set_path(data: Any, path: str, value: Any) -> list[Location]:
    """Set ``value`` at ``path`` in ``data``; return every concrete location set."""
    try:
        parts = parse_path(path)
    except PathError as error:
        raise OverrideError(path, str(error)) from None
    found: list[Location] = []
    _set(data, parts, (), value, path, found)
    return found


def _set(
    node: Any,
    parts: tuple[str | int, ...],
    done: Location,
    value: Any,
    path: str,
    found: list[Location],
) -> None:
    part, rest = parts[0], parts[1:]
    if isinstance(node, dict):
        if not rest:
            node[part] = value
            found.append((*done, part))
            return
        if part not in node or not isinstance(node[part], dict | list):
            node[part] = CommentedMap()
        _set(node[part], rest, (*done, part), value, path, found)
        return
    if isinstance(node, list):
        for index in _items(node, part, done, path):
            if rest:
                _set(node[index], rest, (*done, index), value, path, found)
            else:
                node[index] = value
                found.append((*done, index))
        return
    where = ".".join(map(str, done)) or "the scenario"
    raise OverrideError(path, f"{where} is not a mapping or list")


def _items(node: list[Any], part: str | int, done: Location, path: str) -> list[int]:
    if isinstance(part, int):
        if not 0 <= part < len(node):
            raise OverrideError(path, f"index {part} is past the end of a list of {len(node)}")
        return [part]
    named = [
        i for i, item in enumerate(node) if isinstance(item, dict) and item.get("name") == part
    ]
    if named:
        return named
    kinds = [
        i
        for i, item in enumerate(node)
        if isinstance(item, dict) and item.get("kind") == part and not item.get("name")
    ]
    if kinds:
        return kinds
    labels = [str(item.get("name") or item.get("kind")) for item in node if isinstance(item, dict)]
    where = ".".join(map(str, done))
    known = f" (it has {', '.join(labels)})" if labels else ""
    raise OverrideError(path, f"no item of {where} is named {part!r} or of kind {part!r}{known}")
