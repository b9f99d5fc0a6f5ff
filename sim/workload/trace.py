"""Trace replay: a recorded CSV of requests, played back in a phase.

A trace phase (``{duration: 10m, trace: traffic.csv, time_scale: 1}``) reads a CSV whose first
line names its columns:

- ``time`` — when the request arrives, relative to the start of the trace (seconds, or a
  duration such as ``250ms``); times must not decrease. Each is multiplied by the phase's
  ``time_scale`` (0.5 plays the trace twice as fast) and added to the phase's start, and must
  fall within the phase;
- ``op`` — ``read``, ``write``, ``delete`` or ``insert``;
- ``key`` — an integer in ``0 .. data.keys - 1`` (an insert's key is ignored: it takes a
  fresh key, as every insert does);
- ``target`` (optional) — for a read, the service to read at (a replica, or the owner when
  there are none); a read without one picks a read target from its own stream
  (``trace:read-targets``).

The path is relative to the scenario file. Requests replayed are the same in every pattern,
at exactly the times written (scaled); a bad file is refused when the scenario is checked,
with the line of the CSV at fault.

Left out: per-request service times or payload sizes from the trace; looping a short trace.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.config.sections import DataConfig
from sim.kernel.codes import OP_NAMES
from sim.kernel.units import UnitError, parse_duration

__all__ = ["COLUMNS", "Trace", "TraceError", "read_trace"]

COLUMNS = ("time", "op", "key", "target")
"""The columns a trace may have; all but ``target`` are required."""


class TraceError(ValueError):
    """A trace that cannot be replayed, with the place in the CSV that says why."""


@dataclass(frozen=True)
class Trace:
    """A trace's requests, by time: ``keys`` is -1 for an insert, ``targets`` -1 where none
    was given."""

    times: np.ndarray
    ops: np.ndarray
    keys: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.times)


def _header(row: list[str], where: str) -> dict[str, int]:
    names = [cell.strip().lower() for cell in row]
    unknown = [name for name in names if name not in COLUMNS]
    missing = [name for name in COLUMNS[:3] if name not in names]
    if unknown or missing or len(set(names)) != len(names):
        raise TraceError(
            f"{where}:1: the first line must name the columns time, op, key and optionally "
            f"target (got {','.join(row)!r})"
        )
    return {name: names.index(name) for name in names}


def read_trace(
    path: Path, data: DataConfig, time_scale: float, duration: float, shown: str | None = None
) -> Trace:
    """Read and check the trace at ``path`` for a phase of ``duration``; messages name the
    file ``shown`` (the path as the scenario wrote it)."""
    where = shown if shown is not None else str(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except FileNotFoundError:
        raise TraceError(f"{where}: no such trace file (looked for {path})") from None
    except OSError as error:
        raise TraceError(f"{where}: cannot read the trace ({error.strerror})") from None
    targets = data.replicas or [data.owner]
    times: list[float] = []
    ops: list[int] = []
    keys: list[int] = []
    chosen: list[int] = []
    with handle:
        reader = csv.reader(handle)
        try:
            first = next(reader, None)
            if first is None:
                raise TraceError(f"{where}:1: the trace is empty (expected a header line)")
            columns = _header(first, where)
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                line = reader.line_num
                cells = [cell.strip() for cell in row] + [""] * (len(columns) - len(row))
                if len(row) > len(columns):
                    raise TraceError(f"{where}:{line}: {len(row)} cells for {len(columns)} columns")
                time, op, key = _row(cells, columns, data, f"{where}:{line}")
                if times and time < times[-1]:
                    raise TraceError(
                        f"{where}:{line}: times must not decrease ({cells[columns['time']]} "
                        f"after {times[-1]:g}s)"
                    )
                scaled = time * time_scale
                if scaled > duration:
                    raise TraceError(
                        f"{where}:{line}: at {scaled:g}s (time × time_scale) the trace runs "
                        f"past its phase's {duration:g}s: lengthen the phase or scale the times"
                    )
                target = cells[columns["target"]] if "target" in columns else ""
                if target and target not in targets:
                    raise TraceError(
                        f"{where}:{line}: target {target!r} is not a read target "
                        f"({', '.join(targets)})"
                    )
                times.append(time)
                ops.append(op)
                keys.append(key)
                chosen.append(targets.index(target) if target else -1)
        except UnicodeDecodeError:
            raise TraceError(f"{where}: not UTF-8 text") from None
        except csv.Error as error:
            raise TraceError(f"{where}:{reader.line_num}: {error}") from None
    return Trace(
        np.asarray(times, dtype=float) * time_scale,
        np.asarray(ops, dtype=np.int8),
        np.asarray(keys, dtype=np.int64),
        np.asarray(chosen, dtype=np.int64),
    )


def _row(
    cells: list[str], columns: dict[str, int], data: DataConfig, at: str
) -> tuple[float, int, int]:
    text = cells[columns["time"]]
    try:
        time = parse_duration(text)
    except UnitError:
        raise TraceError(
            f"{at}: {text!r} is not a time (seconds, or a duration such as 250ms)"
        ) from None
    if not time >= 0:
        raise TraceError(f"{at}: a time cannot be negative (got {text})")
    name = cells[columns["op"]].lower()
    if name not in OP_NAMES:
        raise TraceError(
            f"{at}: unknown op {cells[columns['op']]!r} (read, write, delete or insert)"
        )
    op = OP_NAMES.index(name)
    if name == "insert":
        return time, op, -1
    written = cells[columns["key"]]
    try:
        key = int(written)
    except ValueError:
        raise TraceError(f"{at}: key {written!r} is not an integer") from None
    if not 0 <= key < data.keys:
        raise TraceError(f"{at}: key {key} is outside the keys 0 to {data.keys - 1} (data.keys)")
    return time, op, key
