"""Scale-out on one machine: one 16-replication job on one local worker and on two.

The job is ``scenarios/quickstart.yaml`` with 16 replications of both patterns (32 runs),
run through ``sim.api.run`` in this process with ``executor="local:1"`` (the runs in this
process), ``"local:2"`` (two worker processes) and, with ``--dask``, ``"dask:local:2"`` (a Dask
LocalCluster of two worker processes, started and stopped inside the timing). Each is timed
from the call to the results: wall time (``time.perf_counter``) and the CPU time of this
process and of the worker processes it waited for (``resource.getrusage``, self plus
children). The speed-up is one worker's wall time over two workers'; the repeats are
interleaved and the best wall time of each is kept. The summaries must be identical (the same
seed gives the same figures on every executor): the benchmark stops if they are not.

Wall time is what a speed-up is about, so the figure only means something on an otherwise
idle machine: on a busy one the CPU times still show the work is the same, and the speed-up
is whatever share of the cores the job got.

Usage: ``python benchmarks/bench_scale.py [--replications N] [--repeat K] [--dask]``
"""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path

import pandas as pd

from sim import api

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "quickstart.yaml"


def cpu_seconds() -> float:
    """CPU time (user + system) of this process and of its waited-for children so far."""
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def timed(scenario: api.Scenario, executor: str) -> tuple[float, float, pd.DataFrame]:
    """(wall seconds, CPU seconds, summary) of the job on ``executor``."""
    cpu, wall = cpu_seconds(), time.perf_counter()
    results = api.run(scenario, executor=executor)
    return time.perf_counter() - wall, cpu_seconds() - cpu, results.summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--dask", action="store_true", help="also time dask:local:2")
    args = parser.parse_args()
    scenario = api.load(SCENARIO, [f"replications={args.replications}"])
    executors = ["local:1", "local:2"] + (["dask:local:2"] if args.dask else [])
    best: dict[str, tuple[float, float]] = {}
    reference: pd.DataFrame | None = None
    for _ in range(args.repeat):
        for executor in executors:
            wall, cpu, summary = timed(scenario, executor)
            if reference is None:
                reference = summary
            pd.testing.assert_frame_equal(summary, reference, check_exact=True)
            if executor not in best or wall < best[executor][0]:
                best[executor] = (wall, cpu)
    runs = args.replications * len(scenario.patterns)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{SCENARIO.name}: {args.replications} replications × {len(scenario.patterns)} patterns "
        f"= {runs} runs; {cores} cores, load average {load:.1f} at the end; best of "
        f"{args.repeat}, interleaved"
    )
    print()
    print("| executor | wall (s) | CPU, process + workers (s) | speed-up over local:1 |")
    print("|---|---:|---:|---:|")
    one = best["local:1"][0]
    for executor in executors:
        wall, cpu = best[executor]
        print(f"| {executor} | {wall:.2f} | {cpu:.2f} | {one / wall:.2f}× |")
    print()
    print("summaries identical on every executor: yes")


if __name__ == "__main__":
    main()
