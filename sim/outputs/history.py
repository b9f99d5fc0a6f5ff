"""A run's operations as a Jepsen history, for checkers such as Elle and Knossos.

Each request becomes two operations: an ``invoke`` when the client sends it and its completion
when the client hears back (or gives up):

==================  ==========================================================================
field               value
==================  ==========================================================================
``index``           position in the history (operations sorted by time)
``type``            ``invoke``; then ``ok`` (answered), ``fail`` (an error: it did not happen,
                    as far as the client knows) or ``info`` (a timeout: indeterminate)
``f``               ``read``, ``write``, ``insert`` or ``delete``
``value``           ``[key, version]``: for a read the version it returned, for a write the
                    version it committed; ``null`` in an invocation (the version is not known
                    before the commit) and in a ``fail`` or ``info``
``process``         the request's number: every request is its own client process, so a
                    process never has two operations in flight (open-loop clients have no
                    identity; a checker sees every client as independent)
``time``            nanoseconds since the start of the run
``node``            the service the request was sent to
``session``         the client session (with ``workload.sessions``)
==================  ==========================================================================

The key/version pairs follow Jepsen's independent-keys convention (``[k v]`` tuples), so a
per-key register checker applies; versions grow by one per committed write of a key.

Written as JSON lines (``history/<pattern>-<replication>.jsonl``) or EDN
(``history/<pattern>-<replication>.edn``, one map per line with keyword keys and values).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["HISTORY_FORMATS", "history_operations", "to_edn", "write_histories"]

HISTORY_FORMATS = ("json", "edn")

_COMPLETION = {"ok": "ok", "error": "fail", "timeout": "info"}


def history_operations(requests: pd.DataFrame) -> list[dict[str, Any]]:
    """The Jepsen operations of one run's requests (the frame of
    :meth:`sim.metrics.requests.RequestLog.frame`), in time order."""
    operations: list[tuple[float, int, int, dict[str, Any]]] = []
    columns = ("op", "key", "service", "start", "latency", "outcome", "version")
    rows = zip(*(requests[column].tolist() for column in columns), strict=True)
    sessions = requests["session"].tolist() if "session" in requests.columns else None
    for process, (op, key, service, start, latency, outcome, version) in enumerate(rows):
        where: dict[str, Any] = {"node": service}
        if sessions is not None:
            where["session"] = int(sessions[process])
        invoke = {"type": "invoke", "f": op, "value": [int(key), None], "process": process}
        operations.append((float(start), 0, process, invoke | where))
        kind = _COMPLETION[outcome]
        seen = int(version) if kind == "ok" and int(version) >= 0 else None
        done = {"type": kind, "f": op, "value": [int(key), seen], "process": process}
        end = float(start) + float(latency)
        operations.append((end if math.isfinite(end) else float(start), 1, process, done | where))
    operations.sort(key=lambda item: (item[0], item[1], item[2]))
    history = []
    for index, (time, _order, _process, operation) in enumerate(operations):
        history.append({"index": index, **operation, "time": round(time * 1e9)})
    return history


def _edn(value: Any, keyword: bool = False) -> str:
    if value is None:
        return "nil"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + " ".join(_edn(item) for item in value) + "]"
    text = str(value)
    return ":" + text if keyword else json.dumps(text)


def to_edn(operation: dict[str, Any]) -> str:
    """One operation as an EDN map (``{:index 0, :type :invoke, :f :read, ...}``)."""
    keywords = {"type", "f"}
    parts = [f":{name} {_edn(value, name in keywords)}" for name, value in operation.items()]
    return "{" + ", ".join(parts) + "}"


def write_histories(runs: Iterable[Any], folder: Path, form: str = "json") -> list[Path]:
    """Write each run's history under ``folder/history/`` in ``form`` (``json`` lines or
    ``edn``); returns the files written."""
    if form not in HISTORY_FORMATS:
        raise ValueError(f"history format {form!r}: use one of {', '.join(HISTORY_FORMATS)}")
    target = folder / "history"
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for run in runs:
        suffix = "jsonl" if form == "json" else "edn"
        point = f"-point{run.point}" if getattr(run, "point", 0) else ""
        path = target / f"{run.pattern}{point}-{run.replication}.{suffix}"
        operations = history_operations(run.requests)
        with path.open("w", encoding="utf-8") as stream:
            for operation in operations:
                line = json.dumps(operation) if form == "json" else to_edn(operation)
                stream.write(line + "\n")
        written.append(path)
    return written
