"""Integer codes shared by every layer: how a call ended, and what a request asks for.

Kept in this leaf module so that the components that produce them and the metrics that read
them depend on the codes, not on each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = [
    "DELETE",
    "ERROR",
    "INSERT",
    "OK",
    "OP_NAMES",
    "OUTCOME_NAMES",
    "READ",
    "TIMEOUT",
    "WRITE",
    "Done",
]

OK = 0
"""The call succeeded."""
ERROR = 1
"""The call failed (refused, crashed, injected error, pool wait timed out)."""
TIMEOUT = 2
"""The caller gave up waiting."""
OUTCOME_NAMES = ("ok", "error", "timeout")

READ = 0
"""A request that reads a key at a service that keeps a copy."""
WRITE = 1
"""A request that writes a key at its owner."""
DELETE = 2
"""A request that deletes a key at its owner (a tombstone version)."""
INSERT = 3
"""A request that writes a key never written before at its owner (a fresh key, beyond the
key range)."""
OP_NAMES = ("read", "write", "delete", "insert")

Done = Callable[[int, Any], None]
"""Continuation of a call: ``done(outcome, value)``."""
