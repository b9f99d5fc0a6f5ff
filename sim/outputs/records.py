"""The record files of a run folder: one row per request and one per (commit, copy), as
Parquet (the default) or CSV, all of them, a sample, or none.

**Formats.** ``parquet`` writes ``requests.parquet`` and ``propagation.parquet``: columnar,
typed (integers stay integers, every float keeps its bits), compressed (zstd), and every text
column (pattern, op, service, outcome, copy, and any text column a run adds) as a dictionary
column, which ``pandas.read_parquet`` gives back as a ``category`` (a swept column that
mixes numbers and text is written as its text, as the CSV has it). ``csv`` writes
``requests.csv`` and ``propagation.csv`` exactly as before (pandas ``to_csv``, floats at full
precision). Both carry the same values: :func:`read_records` reads either back to the same
frame. Every column a run's frame has is written as it is, so a column added to the records
needs nothing here.

**How many.** ``all`` writes every row. ``sample`` keeps, run by run, every k-th row in the
run's own order (requests by start time, propagation as the run lists its pairs), with k the smallest step
that leaves at most :data:`SAMPLE_ROWS` rows, starting at the first: a systematic sample that
spans the whole run, depends on nothing but the run's rows, and so is the same for the same
seed. ``none`` writes no record file. ``auto`` (the default) is ``all`` for a scenario of one
point and ``sample`` with a sweep, so a sweep of large runs does not write every request of
every point. The choice only shapes these files: the summary and every metric come from the
runs in memory, and the folder's store (``runs/``, :mod:`sim.outputs.store`) keeps each run
whole, which ``--resume`` and ``patternsim report`` read.

Left out: row-group tuning and partitioned datasets (one file per table is enough at the
sizes a run has).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.results import Results, as_text

__all__ = [
    "RECORD_FORMATS",
    "RECORD_MODES",
    "RECORD_TABLES",
    "SAMPLE_ROWS",
    "read_records",
    "record_mode",
    "sample_rows",
    "write_records",
]

RECORD_FORMATS = ("parquet", "csv")
"""How record files are written: ``parquet`` (the default) or ``csv``."""

RECORD_MODES = ("auto", "all", "sample", "none")
"""Which rows: ``auto`` (all without a sweep, a sample with one), ``all``, ``sample``, ``none``."""

RECORD_TABLES = ("requests", "propagation")
"""The record tables, each one file: ``<table>.parquet`` or ``<table>.csv``."""

SAMPLE_ROWS = 10_000
"""At most this many rows per run and table in a ``sample``."""

COMPRESSION = "zstd"

_SUFFIX = {"parquet": ".parquet", "csv": ".csv"}

_ROUND_TRIP: dict[str, Any] = (
    {"float_precision": "round_trip"} if int(pd.__version__.split(".")[0]) < 3 else {}
)
"""pandas before 3 reads a CSV's floats back exactly only when told to (3 always does)."""


def record_mode(mode: str, results: Results) -> str:
    """``mode`` with ``auto`` decided for ``results``: ``all`` without a sweep, else ``sample``."""
    if mode not in RECORD_MODES:
        raise ValueError(f"records {mode!r}: use one of {', '.join(RECORD_MODES)}")
    if mode == "auto":
        return "sample" if results.swept else "all"
    return mode


def sample_rows(frame: pd.DataFrame, limit: int = SAMPLE_ROWS) -> pd.DataFrame:
    """Every k-th row of ``frame`` from the first, with k the smallest step leaving at most
    ``limit`` rows (all of them when there are no more than ``limit``)."""
    if len(frame) <= limit:
        return frame
    step = math.ceil(len(frame) / limit)
    return frame.iloc[::step]


def write_records(
    results: Results, out: Path, fmt: str = "parquet", mode: str = "auto"
) -> list[dict[str, Any]]:
    """Write the record tables of ``results`` into ``out`` in ``fmt`` with the rows ``mode``
    chooses; return the manifest's entry of each file written (none with ``none``)."""
    if fmt not in RECORD_FORMATS:
        raise ValueError(f"format {fmt!r}: use one of {', '.join(RECORD_FORMATS)}")
    chosen = record_mode(mode, results)
    if chosen == "none":
        return []
    pick: Callable[[pd.DataFrame], pd.DataFrame] | None = (
        sample_rows if chosen == "sample" else None
    )
    entries = []
    for table in RECORD_TABLES:
        frame = results.stack(table, pick)
        name = table + _SUFFIX[fmt]
        if fmt == "csv":
            frame.to_csv(out / name, index=False)
        else:
            pq.write_table(_arrow(frame), out / name, compression=COMPRESSION)
        entry: dict[str, Any] = {"name": name, "format": fmt, "records": chosen, "rows": len(frame)}
        if chosen == "sample":
            entry["sample"] = f"every k-th row of each run, at most {SAMPLE_ROWS} per run"
        entries.append(entry)
    return entries


def _arrow(frame: pd.DataFrame) -> pa.Table:
    """``frame`` as an Arrow table: numbers as they are, text as dictionary columns."""
    columns = {}
    for name in frame.columns:
        column = frame[name]
        try:
            array = pa.Array.from_pandas(column)
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed values: a swept column
            array = pa.array([None if v is None else str(v) for v in column], pa.string())
        if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
            array = array.dictionary_encode()
        columns[str(name)] = array
    return pa.table(columns)


def read_records(folder: Path, table: str) -> pd.DataFrame:
    """The record table ``table`` (``requests`` or ``propagation``) of the run folder
    ``folder``, whichever format it was written in; text columns come back as plain text, so
    the frame is the same from Parquet and from CSV. ``FileNotFoundError`` when the folder
    has no such file (written with ``--records none``)."""
    if table not in RECORD_TABLES:
        raise ValueError(f"no record table {table!r}: use one of {', '.join(RECORD_TABLES)}")
    parquet, csv = folder / f"{table}.parquet", folder / f"{table}.csv"
    if parquet.exists():
        return as_text(pd.read_parquet(parquet))
    if csv.exists():
        return pd.read_csv(csv, **_ROUND_TRIP)
    raise FileNotFoundError(
        f"{folder} has no {table}.parquet nor {table}.csv (written with --records none?)"
    )
