"""Cost of writing a run's record files: CSV (pandas ``to_csv``) against Parquet.

Runs the M/M/c queue of ``bench_mmc.py`` once (1M requests by default), then writes its
request and propagation records into a fresh folder in each format, interleaved, best of the
repeats in process CPU time (``time.process_time``), and prints the ratio and the sizes. With
``--sample`` also the sampled Parquet files of a sweep's default; with ``--folder`` also the
whole run folder (summary, report and all) with CSV records, as before Parquet, against the
default.

Usage: ``python benchmarks/bench_records.py [--customers N] [--repeat K] [--sample] [--folder]``
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bench_mmc import SCENARIO

from sim.api import parse
from sim.outputs.folder import write_run_folder
from sim.outputs.records import write_records
from sim.results import Results
from sim.runner import Task, run_one


def results_of(customers: int, servers: int = 4, load: float = 0.8) -> Results:
    rate = load * servers
    scenario = parse(SCENARIO.format(seed=1, servers=servers, duration=customers / rate, rate=rate))
    run = run_one(Task(scenario, 0, 0))
    return Results.build(scenario, ["shared_db"], [run])


def timed(results: Results, fmt: str, mode: str) -> tuple[float, int]:
    """CPU seconds to write the records, and their size in bytes."""
    folder = Path(tempfile.mkdtemp(prefix="bench-records-"))
    try:
        start = time.process_time()
        entries = write_records(results, folder, fmt, mode)
        spent = time.process_time() - start
        size = sum((folder / e["name"]).stat().st_size for e in entries)
    finally:
        shutil.rmtree(folder)
    return spent, size


def timed_folder(results: Results, fmt: str) -> float:
    """CPU seconds to write the whole run folder with every record in ``fmt``."""
    folder = Path(tempfile.mkdtemp(prefix="bench-folder-"))
    try:
        start = time.process_time()
        write_run_folder(results, folder / "run", records="all", fmt=fmt)
        return time.process_time() - start
    finally:
        shutil.rmtree(folder)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sample", action="store_true", help="also time --records sample")
    parser.add_argument("--folder", action="store_true", help="also time the whole run folder")
    args = parser.parse_args()
    results = results_of(args.customers)
    ways = [("csv", "all"), ("parquet", "all")] + ([("parquet", "sample")] if args.sample else [])
    times: dict[tuple[str, str], list[float]] = {way: [] for way in ways}
    sizes: dict[tuple[str, str], int] = {}
    for _ in range(args.repeat):
        for way in ways:
            spent, sizes[way] = timed(results, *way)
            times[way].append(spent)
    rows = len(results.runs[0].requests)
    print(f"writing the records of M/M/4, {rows} requests, best of {args.repeat} (CPU time)")
    for way in ways:
        print(f"  {way[0]:8} {way[1]:7} {min(times[way]):7.3f} s  {sizes[way] / 1e6:7.1f} MB")
    csv, parquet = min(times[("csv", "all")]), min(times[("parquet", "all")])
    print(f"  csv time / parquet time = {csv / parquet:.1f}")
    print(f"  parquet size / csv size = {sizes[('parquet', 'all')] / sizes[('csv', 'all')]:.2f}")
    if args.folder:
        whole: dict[str, list[float]] = {"csv": [], "parquet": []}
        for _ in range(args.repeat):
            for fmt in whole:
                whole[fmt].append(timed_folder(results, fmt))
        before, after = min(whole["csv"]), min(whole["parquet"])
        print(f"the whole run folder (report included), best of {args.repeat} (CPU time)")
        print(f"  csv records      {before:7.3f} s")
        print(f"  parquet records  {after:7.3f} s")
        print(f"  csv time / parquet time = {before / after:.2f}")


if __name__ == "__main__":
    main()
