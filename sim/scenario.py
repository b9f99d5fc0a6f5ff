"""Loading scenario files: safe YAML with positions, ``--set`` overrides, and errors that point.

The file is read with ruamel.yaml's round-trip loader (YAML 1.2: ``no`` stays a string, no
sexagesimal numbers; it builds only plain mappings, sequences and scalars, never Python objects)
so every key and value keeps its line and column. Overrides ``key.path=value`` are parsed as
YAML values and merged before validation. Validation errors from pydantic and from
:func:`sim.config.model.cross_check` are collected together and reported all at once, each as
``file:line:col path: message (got X)``. Importing this module registers the built-in pattern
and fault kinds (:mod:`sim.patterns`, :mod:`sim.faults`) the scenario model's unions are built
from.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.config.model import Location, Scenario, cross_check, ensure_current

__all__ = [
    "ScenarioError",
    "ScenarioIssue",
    "apply_overrides",
    "load_scenario",
    "parse_scenario",
    "resolved_dict",
    "resolved_yaml",
]

_TAG_KEYS = ("kind", "dist")


@dataclass(frozen=True)
class ScenarioIssue:
    """One problem in a scenario file."""

    file: str
    line: int
    column: int
    path: str
    message: str
    got: object = None
    has_got: bool = False

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        path = f" {self.path}:" if self.path else ""
        got = f" (got {_show(self.got)})" if self.has_got else ""
        return f"{where}{path} {self.message}{got}"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def _show(value: object) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    return repr(value)


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def load_scenario(path: str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """Read, override and validate a scenario file; raise :class:`ScenarioError` if it is bad."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ScenarioError(
            [ScenarioIssue(str(path), 0, 0, "", f"cannot read the file: {error.strerror}")]
        ) from None
    return parse_scenario(text, str(path), overrides)


def parse_scenario(
    text: str, filename: str = "<scenario>", overrides: Iterable[str] = ()
) -> Scenario:
    """Validate scenario ``text``; ``filename`` is only used in messages."""
    try:
        data = _yaml().load(io.StringIO(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        message = f"invalid YAML: {error.problem or error.context}"
        raise ScenarioError([ScenarioIssue(filename, line, column, "", message)]) from None
    except YAMLError as error:
        raise ScenarioError([ScenarioIssue(filename, 0, 0, "", f"invalid YAML: {error}")]) from None
    if not isinstance(data, dict):
        raise ScenarioError(
            [ScenarioIssue(filename, 1, 1, "", "a scenario must be a mapping of keys", data, True)]
        )
    overridden = apply_overrides(data, overrides, filename)
    ensure_current()
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        issues = [_issue_from_pydantic(item, data, filename, overridden) for item in error.errors()]
        raise ScenarioError(sorted(issues, key=lambda i: (i.line, i.column))) from None
    problems = cross_check(scenario)
    if problems:
        issues = [
            _issue(filename, data, loc, message, got, True, overridden)
            for loc, message, got in problems
        ]
        raise ScenarioError(sorted(issues, key=lambda i: (i.line, i.column)))
    return scenario


def apply_overrides(data: Any, overrides: Iterable[str], filename: str = "--set") -> set[Location]:
    """Merge ``key.path=value`` overrides into ``data`` in place; return the paths touched."""
    touched: set[Location] = set()
    problems: list[ScenarioIssue] = []
    for text in overrides:
        key, sep, raw = text.partition("=")
        if not sep or not key.strip():
            problems.append(ScenarioIssue("--set", 0, 0, text, "expected key.path=value"))
            continue
        try:
            value = YAML(typ="safe", pure=True).load(io.StringIO(raw))
        except YAMLError:
            problems.append(
                ScenarioIssue("--set", 0, 0, key, "the value is not valid YAML", raw, True)
            )
            continue
        loc = tuple(int(p) if p.isdigit() else p for p in key.strip().split("."))
        problem = _set_path(data, loc, value)
        if problem:
            problems.append(ScenarioIssue("--set", 0, 0, key, problem))
        else:
            touched.add(loc)
    if problems:
        raise ScenarioError(problems)
    return touched


def _set_path(data: Any, loc: Location, value: Any) -> str | None:
    node = data
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict):
            if last:
                node[part] = value
                return None
            if part not in node or not isinstance(node[part], dict | list):
                node[part] = CommentedMap()
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int):
            if not 0 <= part < len(node):
                return f"index {part} is past the end of a list of {len(node)}"
            if last:
                node[part] = value
                return None
            node = node[part]
        else:
            return f"{'.'.join(map(str, loc[:i]))} is not a mapping or list"
    return None


def _issue_from_pydantic(
    item: Any, data: Any, filename: str, overridden: set[Location]
) -> ScenarioIssue:
    loc: Location = tuple(item["loc"])
    kind = item["type"]
    message = _message(item)
    if kind == "extra_forbidden":
        return _issue(filename, data, loc, "unknown key", loc[-1], True, overridden, key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = item.get("ctx", {}).get("discriminator", "'kind'").strip("'")
        node, _ = _walk(data, loc)
        value = node.get(tag) if isinstance(node, dict) else None
        return _issue(filename, data, (*loc, tag), message, value, value is not None, overridden)
    if kind == "missing":
        return _issue(filename, data, loc, message, None, False, overridden)
    return _issue(filename, data, loc, message, item.get("input"), True, overridden)


def _message(item: Any) -> str:
    message = str(item["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    ctx = item.get("ctx") or {}
    kind = item["type"]
    if kind == "greater_than_equal":
        message = (
            "must not be negative" if ctx.get("ge") == 0 else f"must be at least {ctx.get('ge')}"
        )
    elif kind == "greater_than":
        message = (
            "must be positive" if ctx.get("gt") == 0 else f"must be greater than {ctx.get('gt')}"
        )
    elif kind == "less_than_equal":
        message = f"must be at most {ctx.get('le')}"
    elif kind == "union_tag_invalid":
        message = f"unknown {ctx.get('discriminator', 'kind')}: expected one of {ctx.get('expected_tags')}"
    return message


def _walk(data: Any, loc: Location) -> tuple[Any, Location]:
    """Follow ``loc`` through the data as far as it exists.

    Parts that are not in the data (the tags pydantic adds for unions, ``root``, a key that
    is missing) are skipped; the path actually followed is returned with the node reached.
    """
    node: Any = data
    real: list[str | int] = []
    for part in loc:
        found, child = _child(node, part)
        if found:
            node = child
            real.append(part)
        elif not isinstance(node, dict | list):
            break
    return node, tuple(real)


def _child(node: Any, part: str | int) -> tuple[bool, Any]:
    if isinstance(node, dict):
        return (True, node[part]) if part in node else (False, None)
    if isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
        return True, node[part]
    return False, None


def _issue(
    filename: str,
    data: Any,
    loc: Location,
    message: str,
    got: object,
    has_got: bool,
    overridden: set[Location],
    key: bool = False,
) -> ScenarioIssue:
    node, real = _walk(data, loc)
    shown = list(real)
    if loc and isinstance(loc[-1], str) and (not real or real[-1] != loc[-1]):
        if not isinstance(node, dict) or loc[-1] in _TAG_KEYS:
            pass  # the user wrote a shorthand (a bare duration): point at it as written
        else:
            shown.append(loc[-1])  # a missing key: name it, point at its parent
    if has_got and not key and not isinstance(node, dict | list) and tuple(real) != ():
        got = node  # show the value as the user wrote it, not as converted
    path = _format_path(shown)
    for touched in overridden:
        if real and (real[: len(touched)] == touched or touched[: len(real)] == real):
            return ScenarioIssue("--set", 0, 0, path, message, got, has_got)
    line, column = _position(data, real, key)
    return ScenarioIssue(filename, line, column, path, message, got, has_got)


def _format_path(loc: Sequence[str | int]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _position(data: Any, loc: Location, key: bool) -> tuple[int, int]:
    """1-based line and column of the node at ``loc`` (of its key when ``key``)."""
    node: Any = data
    line, column = 1, 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        try:
            if isinstance(node, CommentedMap):
                position = node.lc.key(part) if last and key else node.lc.value(part)
            elif isinstance(node, CommentedSeq):
                position = node.lc.item(part)
            else:
                break
            line, column = position[0] + 1, position[1] + 1
        except (KeyError, IndexError, TypeError, AttributeError):
            break
        node = node[part]
    return line, column


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, in plain JSON-like types (seconds, per second)."""
    data = scenario.model_dump(mode="json")
    names = ["default", *(n for n in scenario.databases.root if n != "default")]
    data["databases"] = {n: scenario.databases.profile(n).model_dump(mode="json") for n in names}
    return data


def resolved_yaml(scenario: Scenario) -> str:
    """:func:`resolved_dict` as YAML, with a header saying the units."""
    stream = io.StringIO()
    stream.write(
        "# Resolved scenario: every default filled in. Durations are in seconds, rates per second.\n"
    )
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.dump(resolved_dict(scenario), stream)
    return stream.getvalue()
