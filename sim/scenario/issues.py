"""Problems found in a scenario: each with its file, line, column and path."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml.comments import CommentedMap, CommentedSeq

__all__ = ["ScenarioError", "ScenarioIssue"]


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
