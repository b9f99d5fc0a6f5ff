"""Reading a scenario file safely: what is checked before and right after YAML parsing.

A scenario is data from a user who may be careless or hostile, so nothing in it may crash the
loader, exhaust the machine or write raw control sequences to a terminal. Before parsing:

- the path must be a **regular file** (a FIFO would block for ever, a directory cannot be
  read) of at most :data:`MAX_BYTES`, checked from its size before reading a byte;
- the bytes must be **UTF-8** (a UTF-8 byte-order mark is allowed): a UTF-16 or UTF-32 file is
  named as such, any other bad byte is reported at its line:col with its value;
- no **NUL** or other control character but tab, newline and carriage return;
- no **number of more than** :data:`MAX_DIGITS` digits (Python refuses to convert a
  5,000-digit integer; nothing in a scenario needs more than a few dozen);
- no **nesting deeper than** :data:`MAX_DEPTH` levels (flow brackets, or block indentation),
  which would exhaust the parser's recursion.

After parsing, **YAML tags** (``!foo 42``, ``!!str``) are refused: a scenario is plain
mappings, lists and scalars. ``--set`` and ``--sweep`` values go through the same checks
(:func:`check_text` on the value, :func:`check_tags` on what it parses to).

Every problem is a :class:`sim.scenario.issues.ScenarioIssue` with file, line and column.
"""

from __future__ import annotations

import re
import stat
from pathlib import Path
from typing import Any

from ruamel.yaml.comments import CommentedMap, CommentedSeq, TaggedScalar

from sim.scenario.issues import ScenarioError, ScenarioIssue

__all__ = ["MAX_BYTES", "MAX_DEPTH", "MAX_DIGITS", "check_tags", "check_text", "read_text"]

MAX_BYTES = 2_000_000
"""The largest scenario file read (2 MB: the shipped ones are under 5 KB)."""
MAX_DIGITS = 100
"""The most digits a number in a scenario may have."""
MAX_DEPTH = 64
"""The deepest nesting of mappings and lists (the shipped scenarios use 5)."""

_BOMS = (
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\xfe\xff", "UTF-16"),
    (b"\xff\xfe", "UTF-16"),
)
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SPECIAL = re.compile(r"[\[\]{}'\"#]")
_LONG_NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d_]{" + str(MAX_DIGITS) + ",}")


def _line_col(text: str, index: int) -> tuple[int, int]:
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1


def read_text(path: Path) -> str:
    """The text of the scenario file at ``path``, or :class:`ScenarioError`."""
    name = str(path)

    def refuse(message: str, line: int = 0, column: int = 0) -> ScenarioError:
        return ScenarioError([ScenarioIssue(name, line, column, "", message)])

    try:
        info = path.stat()
    except FileNotFoundError:
        raise refuse("no such file") from None
    except OSError as error:
        raise refuse(f"cannot read the file: {error.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        what = "a directory" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise refuse(f"{what}: a scenario is a YAML file")
    if info.st_size > MAX_BYTES:
        raise refuse(
            f"the file is {info.st_size / 1e6:.1f} MB; a scenario may be at most "
            f"{MAX_BYTES / 1e6:g} MB"
        )
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as error:
        raise refuse(f"cannot read the file: {error.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise refuse(f"the file is over {MAX_BYTES / 1e6:g} MB, the most a scenario may be")
    for mark, encoding in _BOMS:
        if raw.startswith(mark):
            raise refuse(f"the file is {encoding}: save it as UTF-8", 1, 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start].decode("utf-8", errors="replace")
        line, column = _line_col(before, len(before))
        raise refuse(
            f"not UTF-8: byte 0x{raw[error.start]:02X} at offset {error.start}; save the file "
            "as UTF-8",
            line,
            column,
        ) from None
    problems = check_text(text, name)
    if problems:
        raise ScenarioError(problems)
    return text


def check_text(text: str, name: str) -> list[ScenarioIssue]:
    """Control characters, over-long numbers and over-deep nesting in ``text``."""
    found = []
    control = _CONTROL.search(text)
    if control is not None:
        line, column = _line_col(text, control.start())
        char = control.group()
        what = "a NUL character" if char == "\x00" else f"a control character (0x{ord(char):02X})"
        found.append(ScenarioIssue(name, line, column, "", f"{what}: a scenario is plain text"))
    number = _LONG_NUMBER.search(text)
    if number is not None:
        line, column = _line_col(text, number.start())
        digits = sum(c.isdigit() for c in number.group())
        found.append(
            ScenarioIssue(
                name,
                line,
                column,
                "",
                f"a number of {digits:,} digits; numbers may have at most {MAX_DIGITS}",
            )
        )
    deep = _too_deep(text)
    if deep is not None:
        line, column = _line_col(text, deep)
        found.append(
            ScenarioIssue(name, line, column, "", f"nested more than {MAX_DEPTH} levels deep")
        )
    return found


def _too_deep(text: str) -> int | None:
    """Where nesting first exceeds :data:`MAX_DEPTH`: flow brackets (outside quotes) on top
    of block indentation levels; None when it never does."""
    indents: list[int] = []
    offset = 0
    for line in text.splitlines(keepends=True):
        body = line.lstrip(" ")
        stripped = body.strip()
        if stripped and not stripped.startswith("#"):
            indent = len(line) - len(body)
            while indents and indents[-1] >= indent:
                indents.pop()
            indents.append(indent)
            depth = len(indents) + body.count("- ", 0, len(body) - len(body.lstrip("- ")))
            quote = ""
            for found in _SPECIAL.finditer(body):  # only the characters that matter
                i, char = found.start(), found.group()
                if quote:
                    if char == quote:
                        quote = ""
                elif char in "'\"":
                    quote = char
                elif char == "#" and (i == 0 or body[i - 1] in " \t"):
                    break
                elif char in "[{":
                    depth += 1
                elif char in "]}":
                    depth -= 1
                if depth > MAX_DEPTH:
                    return offset + indent + i
            if depth > MAX_DEPTH:
                return offset + indent
        offset += len(line)
    return None


def check_tags(data: Any) -> list[tuple[tuple[str | int, ...], str]]:
    """``(path, tag)`` of every tagged node (``!foo``, ``!!str``) in parsed data."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:
        path, node = stack.pop()
        tag = getattr(getattr(node, "tag", None), "value", None)
        if isinstance(node, TaggedScalar) or (
            isinstance(node, CommentedMap | CommentedSeq) and tag is not None
        ):
            found.append((path, str(tag)))
            continue
        if isinstance(node, dict):
            stack.extend(((*path, key), value) for key, value in node.items())
        elif isinstance(node, list):
            stack.extend(((*path, i), value) for i, value in enumerate(node))
    return sorted(found, key=lambda item: [str(p) for p in item[0]])
