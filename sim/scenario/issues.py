"""Problems found in a scenario: each with its file, line, column and path, shown safely (no
control characters reach the terminal, long values are cut)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = ["ScenarioError", "ScenarioIssue", "printable"]


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
        file = printable(self.file, 200)
        where = f"{file}:{self.line}:{self.column}" if self.line else file
        path = f" {printable(self.path, 120)}:" if self.path else ""
        got = f" (got {_show(self.got)})" if self.has_got else ""
        return f"{where}{path} {printable(self.message, 400)}{got}"


class ScenarioError(Exception):
    """A scenario that cannot be used; ``issues`` lists every problem found."""

    def __init__(self, issues: Sequence[ScenarioIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def printable(text: str, limit: int) -> str:
    """``text`` safe for a terminal: control characters (escape sequences, NUL, a carriage
    return) written as ``\\xNN``, and cut to ``limit`` characters with an ellipsis."""
    shown = "".join(
        char
        if char.isprintable() or char == " "
        else f"\\x{ord(char):02x}"
        if ord(char) < 0x100
        else f"\\u{ord(char):04x}"
        for char in text
    )
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"


def _show(value: object) -> str:
    if isinstance(value, CommentedMap | dict):
        return "a mapping"
    if isinstance(value, CommentedSeq | list):
        return "a list"
    if isinstance(value, bool | int | float) and not isinstance(value, str):
        text = repr(value) if not isinstance(value, int) or abs(value) < 10**60 else "a huge number"
        return printable(text, 80)
    return printable(repr(value), 80)
