"""Key paths into a scenario file: ``workload.phases[1].rate``, ``patterns.polling.poll_interval``.

A path is dot-separated keys; a list item is named by its index, in brackets (``phases[1]``) or
as a key (``phases.1``), or — in a list of named items such as ``patterns`` — by its name or
its kind (``patterns.polling``: the pattern called ``polling``, or, when none is, every
pattern of kind ``polling``). Paths are used by ``--set`` overrides and by ``sweep:``.
"""

from __future__ import annotations

import re

__all__ = ["PathError", "format_path", "parse_path"]

_PART = re.compile(r"^(?P<key>[^\[\]]*)(?P<indices>(?:\[\d+\])*)$")


class PathError(ValueError):
    """A key path that cannot be read."""


def parse_path(text: str) -> tuple[str | int, ...]:
    """``"workload.phases[1].rate"`` → ``("workload", "phases", 1, "rate")``."""
    stripped = text.strip()
    if not stripped:
        raise PathError("expected a key path such as workload.phases[0].rate")
    parts: list[str | int] = []
    for piece in stripped.split("."):
        match = _PART.match(piece)
        if match is None or (not match.group("key") and not match.group("indices")):
            raise PathError(
                f"cannot read {piece!r} in {text!r}: expected key, key[index] or an index"
            )
        key = match.group("key")
        if any(len(i) > 9 for i in re.findall(r"\d+", match.group("indices"))) or (
            key.isdigit() and len(key) > 9
        ):
            raise PathError(f"cannot read {piece!r} in {text!r}: the index is too large")
        if key:
            parts.append(int(key) if key.isdigit() else key)
        parts.extend(int(i) for i in re.findall(r"\[(\d+)\]", match.group("indices")))
    return tuple(parts)


def format_path(parts: tuple[str | int, ...]) -> str:
    """The inverse of :func:`parse_path`, with indices in brackets."""
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out
