"""The ``patternsim`` command line: thin Typer commands over :mod:`sim.api`.

Data goes to stdout (the summary table, or one JSON document with ``--json``); messages and
progress go to stderr, progress only when stderr is a terminal. ``NO_COLOR`` is honoured.

Exit codes: 0 ok, 1 unexpected error, 2 usage, 3 invalid scenario (or rule), 4 an SLO failed
(or, for ``compare``, a watched metric regressed), 130 interrupted.
"""

from __future__ import annotations

import os
import sys

from sim.cli import capacity, compare, explore, report, run, validate
from sim.cli.shell import EXIT_UNEXPECTED, app

__all__ = ["app", "capacity", "compare", "explore", "main", "report", "run", "validate"]


def main() -> None:
    """Console entry point: Typer maps usage errors to 2 and Ctrl-C to 130; any other failure
    becomes exit code 1 with a one-line message instead of a traceback."""
    try:
        app()
    except Exception as error:  # the promise: never a traceback for the user
        if os.environ.get("PATTERNSIM_DEBUG"):
            raise
        sys.stderr.write(
            f"patternsim: unexpected error: {type(error).__name__}: {error}\n"
            "(set PATTERNSIM_DEBUG=1 to see the traceback)\n"
        )
        sys.exit(EXIT_UNEXPECTED)
