"""Loading scenario files: safe YAML with positions, ``--set`` overrides, and errors that point.

The file is read with ruamel.yaml's round-trip loader (YAML 1.2: ``no`` stays a string, no
sexagesimal numbers; it builds only plain mappings, sequences and scalars, never Python objects)
so every key and value keeps its line and column. Overrides ``key.path=value`` are parsed as
YAML values and merged before validation. Validation errors from pydantic and from
:func:`sim.config.model.cross_check` are collected together and reported all at once, each as
``file:line:col path: message (got X)``. A scenario with a ``sweep:`` block is validated at
every point as well (:mod:`sim.scenario.points`); a point's error points at the swept value
that caused it. Importing this module registers the built-in pattern and fault kinds
(:mod:`sim.patterns`, :mod:`sim.faults`) the scenario model's unions are built from.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from sim.config.experiments import plain
from sim.config.model import Location, Scenario, cross_check, ensure_current
from sim.config.types import MAX_RATE, MAX_SECONDS
from sim.scenario.issues import ScenarioError, ScenarioIssue
from sim.scenario.overrides import OverrideError, apply_overrides
from sim.scenario.points import Origin, expand
from sim.scenario.reading import MAX_DEPTH, check_tags, check_text, read_text
from sim.scenario.suggest import unknown_key_message
from sim.scenario.traces import anchored_traces, check_traces

__all__ = [
    "Origin",
    "ScenarioError",
    "ScenarioIssue",
    "load_scenario",
    "parse_scenario",
    "validate_data",
    "with_sweep",
]

_TAG_KEYS = ("kind", "dist")


def _yaml() -> YAML:
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = False
    return yaml


def load_scenario(
    path: str | Path,
    overrides: Iterable[str] = (),
    sweep: Mapping[str, Sequence[Any]] | None = None,
    sweep_mode: str | None = None,
) -> Scenario:
    """Read, override and validate a scenario file; raise :class:`ScenarioError` if it is bad.
    ``sweep`` adds (or replaces) paths of the ``sweep:`` block, ``sweep_mode`` sets its mode."""
    path = Path(path)
    return parse_scenario(read_text(path), str(path), overrides, sweep, sweep_mode)


def parse_scenario(
    text: str,
    filename: str = "<scenario>",
    overrides: Iterable[str] = (),
    sweep: Mapping[str, Sequence[Any]] | None = None,
    sweep_mode: str | None = None,
) -> Scenario:
    """Validate scenario ``text``; ``filename`` is only used in messages."""
    try:
        return _parse(text, filename, overrides, sweep, sweep_mode)
    except RecursionError:  # a last line of defence: check_text refuses deep nesting first
        raise ScenarioError(
            [ScenarioIssue(filename, 1, 1, "", f"nested more than {MAX_DEPTH} levels deep")]
        ) from None


def _parse(
    text: str,
    filename: str,
    overrides: Iterable[str],
    sweep: Mapping[str, Sequence[Any]] | None,
    sweep_mode: str | None,
) -> Scenario:
    found = check_text(text, filename)
    if found:
        raise ScenarioError(found)
    try:
        data = _yaml().load(io.StringIO(text))
    except MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark is not None else (0, 0)
        message = f"invalid YAML: {error.problem or error.context}"
        raise ScenarioError([ScenarioIssue(filename, line, column, "", message)]) from None
    except YAMLError as error:
        raise ScenarioError([ScenarioIssue(filename, 0, 0, "", f"invalid YAML: {error}")]) from None
    tagged = check_tags(data)
    if tagged:
        raise ScenarioError(
            [
                ScenarioIssue(
                    filename,
                    *_position(data, path, False),
                    _format_path(path),
                    f"a YAML tag ({tag}): a scenario holds plain values, lists and mappings",
                )
                for path, tag in tagged
            ]
        )
    if not isinstance(data, dict):
        raise ScenarioError(
            [ScenarioIssue(filename, 1, 1, "", "a scenario must be a mapping of keys", data, True)]
        )
    touched, problems = apply_overrides(data, overrides)
    if problems:
        raise ScenarioError([_override_issue("--set", error) for error in problems])
    origins: dict[Location, Origin] = dict.fromkeys(touched, ("--set", 0, 0))
    if sweep or sweep_mode:
        _merge_sweep(data, sweep or {}, sweep_mode, origins)
    scenario = validate_data(data, filename, data, origins)
    if scenario.sweep is not None:
        scenario._points = expand(scenario, data, filename, origins, validate_data)
    return scenario


def with_sweep(
    scenario: Scenario,
    over: Mapping[str, Sequence[Any]],
    mode: str | None = None,
    overrides: Iterable[str] = (),
) -> Scenario:
    """``scenario`` (as written) with ``overrides`` set and ``over`` added to its sweep,
    validated again at every point."""
    source = scenario._source
    if source is None:
        raise ValueError("a scenario built without load_scenario or parse_scenario cannot be swept")
    return parse_scenario(
        json.dumps(anchored_traces(scenario, source)), f"<{scenario.name}>", overrides, over, mode
    )


def _merge_sweep(
    data: Any,
    sweep: Mapping[str, Sequence[Any]],
    mode: str | None,
    origins: dict[Location, Origin],
) -> None:
    block = data.get("sweep")
    if not isinstance(block, dict):
        block = data["sweep"] = CommentedMap()
    over = block.get("over")
    if not isinstance(over, dict):
        over = block["over"] = CommentedMap()
    for key, values in sweep.items():
        over[key] = list(values)
        origins[("sweep", "over", key)] = ("--sweep", 0, 0)
    if mode:
        block["mode"] = mode
        origins[("sweep", "mode")] = ("--zip", 0, 0)


def validate_data(
    data: Any,
    filename: str,
    positions: Any,
    origins: Mapping[Location, Origin],
    prefix: str = "",
) -> Scenario:
    """Validate ``data`` (a scenario's keys); problems point into ``positions`` (the file as
    read), or at the origin of a value set from outside it, and start with ``prefix``."""
    ensure_current()
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as error:
        issues = [
            _issue_from_pydantic(item, data, filename, positions, origins, prefix)
            for item in error.errors()
        ]
        raise ScenarioError(sorted(issues, key=lambda i: (i.line, i.column))) from None
    problems = cross_check(scenario)
    if not problems:
        problems = check_traces(scenario, filename)
    if problems:
        issues = [
            _issue(filename, data, positions, loc, prefix + message, got, True, origins)
            for loc, message, got in problems
        ]
        raise ScenarioError(sorted(issues, key=lambda i: (i.line, i.column)))
    scenario._source = plain(data)
    return scenario


def _override_issue(option: str, error: OverrideError) -> ScenarioIssue:
    return ScenarioIssue(option, 0, 0, error.path, error.message, error.value, error.has_value)


def _issue_from_pydantic(
    item: Any,
    data: Any,
    filename: str,
    positions: Any,
    origins: Mapping[Location, Origin],
    prefix: str,
) -> ScenarioIssue:
    loc: Location = tuple(item["loc"])
    kind = item["type"]
    message = prefix + _message(item)
    where = (filename, data, positions)
    if kind == "bool_for_value":
        key = item["ctx"]["key"]
        return _issue(*where, (*loc, key), message, None, False, origins)
    if kind == "extra_forbidden":
        text = unknown_key_message(loc[:-1], str(loc[-1]))
        return _issue(*where, loc, prefix + text, loc[-1], True, origins, key=True)
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = item.get("ctx", {}).get("discriminator", "'kind'").strip("'")
        node, _ = _walk(data, loc)
        value = node.get(tag) if isinstance(node, dict) else None
        return _issue(*where, (*loc, tag), message, value, value is not None, origins)
    if kind == "missing":
        return _issue(*where, loc, message, None, False, origins)
    return _issue(*where, loc, message, item.get("input"), True, origins)


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
        bound = ctx.get("le")
        named = {MAX_SECONDS: "30 days (2,592,000 s)", MAX_RATE: "10,000,000 per second"}
        shown = bound
        if isinstance(bound, int | float):  # a named bound, else an integer one in full
            plain = f"{bound:,}" if isinstance(bound, int) else f"{bound:,g}"
            shown = named.get(float(bound), plain)
        message = f"must be at most {shown}"
    elif kind == "union_tag_not_found":
        tag = str(ctx.get("discriminator", "'kind'")).strip("'")
        message = f"missing {tag!r}: say which kind this is"
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
    positions: Any,
    loc: Location,
    message: str,
    got: object,
    has_got: bool,
    origins: Mapping[Location, Origin],
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
    for touched, (source, line, column) in origins.items():
        if real and (real[: len(touched)] == touched or touched[: len(real)] == real):
            return ScenarioIssue(source, line, column, path, message, got, has_got)
    line, column = _position(positions, real, key)
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
