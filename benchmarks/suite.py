"""The benchmark suite: what a run costs, as ratios measured in one process on one machine.

Five tables, printed as Markdown (and written to ``--out`` when given):

1. **M/M/4 against bare SimPy** — patternsim end to end (request draws, the run, the request
   log, the metrics) against the textbook SimPy program of the same queue
   (:mod:`bench_mmc`), interleaved, best of ``--repeat``; the figure is bare / patternsim, so
   above 1 means patternsim is the faster.
2. **Requests per CPU-second per pattern** on ``scenarios/all-patterns.yaml`` scaled to
   ``--requests`` (one replication, its faults kept): the requests a pattern simulates per
   second of process CPU time, and each pattern against the fastest.
3. **Peak memory per million requests** for M/M/4 and cdc: each measured in ``--repeat``
   fresh Python processes as the growth of its own peak resident set (``VmHWM`` on Linux)
   from just before the run to its end (the imports and the parsed scenario excluded), scaled
   to a million requests; the median and the range (the same run varies by about 10 MiB
   from process to process).
4. **Cost against size**: CPU time per request as sync_http's copies (2 → 32), the key count
   (1e3 → 1e6, cdc) and the partition count (6 → 200, cdc) grow, against the smallest.
5. **Where a request's time goes**, for M/M/4 and for cdc: one run of each under
   ``cProfile``, its own time per layer of the code (a built-in function's time goes to the
   layer that called it), as shares of the whole, and Python calls per request (built-ins
   aside). The profiler's cost per call inflates the layers that
   make many small calls, so the shares say where the time is, not what removing it would buy.

Every time is process CPU time (``time.process_time``): the machines are shared and wall time
is noisy. Nothing here is a test: no figure is asserted.

Usage: ``python benchmarks/suite.py [--full] [--repeat K] [--out FILE]``
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_mmc import naive_simpy, patternsim_run

from sim.api import load
from sim.runner import Task, run_one

ROOT = Path(__file__).resolve().parent.parent
ALL_PATTERNS = ROOT / "scenarios" / "all-patterns.yaml"
RATE = 1000.0
"""Arrival rate of the scaled runs (requests per second)."""


def scaled(requests: int, extra: Iterable[str] = ()) -> list[str]:
    """Overrides that make all-patterns one replication of about ``requests`` requests."""
    duration = requests / RATE
    return [
        "replications=1",
        f"warmup={min(10.0, duration / 5):g}s",
        f"workload.phases=[{{duration: {duration:g}s, rate: {RATE:g}/s}}]",
        *extra,
    ]


def timed_pattern(kind: str, overrides: list[str]) -> tuple[float, int]:
    """(CPU seconds, requests) of one run of ``kind`` in the scaled all-patterns scenario."""
    scenario = load(ALL_PATTERNS, overrides=overrides)
    index = next(i for i, p in enumerate(scenario.patterns) if p.kind == kind)
    start = time.process_time()
    result = run_one(Task(scenario, index, 0))
    return time.process_time() - start, len(result.requests)


def table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def mmc_section(customers: int, repeat: int) -> str:
    rate = 0.8 * 4
    bare, ours = [], []
    for k in range(repeat):
        start = time.process_time()
        naive_simpy(rate, 4, customers, seed=k)
        bare.append(time.process_time() - start)
        start = time.process_time()
        patternsim_run(rate, 4, customers, seed=k)
        ours.append(time.process_time() - start)
    b, o = min(bare), min(ours)
    rows = [[f"{customers:,}", f"{b:.2f}", f"{o:.2f}", f"{b / o:.2f}"]]
    return f"### M/M/4 (ρ = 0.8) against bare SimPy, best of {repeat}, interleaved\n\n" + table(
        ["customers", "bare SimPy CPU s", "patternsim CPU s", "bare / patternsim"], rows
    )


def patterns_section(requests: int, repeat: int) -> str:
    kinds = [p.kind for p in load(ALL_PATTERNS).patterns]
    best: dict[str, tuple[float, int]] = {}
    for _ in range(repeat):
        for kind in kinds:
            cpu, n = timed_pattern(kind, scaled(requests))
            if kind not in best or cpu < best[kind][0]:
                best[kind] = (cpu, n)
    speed = {kind: n / cpu for kind, (cpu, n) in best.items()}
    top = max(speed.values())
    rows = [
        [
            kind,
            f"{best[kind][1]:,}",
            f"{best[kind][0]:.2f}",
            f"{speed[kind]:,.0f}",
            f"{speed[kind] / top:.2f}",
        ]
        for kind in kinds
    ]
    return (
        f"### Requests per CPU-second, all-patterns scaled to {requests:,} requests "
        f"(best of {repeat})\n\n"
        + table(["pattern", "requests", "CPU s", "requests / CPU s", "against the fastest"], rows)
    )


_MEMORY = """
import json, resource, sys
sys.path.insert(0, {bench!r})
from sim.api import load, parse
from sim.runner import Task, run_one
from bench_mmc import SCENARIO
kind, requests = {kind!r}, {requests}
if kind == "mmc":
    scenario = parse(SCENARIO.format(seed=1, servers=4, duration=requests / 3.2, rate=3.2))
    index = 0
else:
    scenario = load({path!r}, overrides={overrides!r})
    index = next(i for i, p in enumerate(scenario.patterns) if p.kind == kind)
def peak():
    # this process's own peak (VmHWM, Linux): the rusage maximum carries over from the
    # parent it was forked from, so a big parent would hide the run's growth
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
before = peak()
result = run_one(Task(scenario, index, 0))
after = peak()
print(json.dumps({{"kib": after - before, "requests": len(result.requests)}}))
"""


def peak_memory(kind: str, requests: int) -> tuple[float, int]:
    """(MiB of peak growth per million requests, requests) of one run in a fresh process."""
    code = _MEMORY.format(
        bench=str(Path(__file__).resolve().parent),
        kind=kind,
        requests=requests,
        path=str(ALL_PATTERNS),
        overrides=scaled(requests),
    )
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    return found["kib"] / 1024 / found["requests"] * 1e6, found["requests"]


def memory_section(requests: int, repeat: int) -> str:
    rows = []
    for kind, label in (("mmc", "M/M/4 (shared_db)"), ("cdc", "cdc (all-patterns)")):
        found = [peak_memory(kind, requests) for _ in range(repeat)]
        mib = sorted(m for m, _ in found)
        rows.append(
            [
                label,
                f"{found[0][1]:,}",
                f"{mib[len(mib) // 2]:,.0f}",
                f"{mib[0]:,.0f}–{mib[-1]:,.0f}",
            ]
        )
    return (
        "### Peak memory per million requests (growth of the peak resident set during the run,"
        f" {repeat} fresh processes: the median and the range)\n\n"
        + table(["model", "requests", "MiB per 1M requests", "range"], rows)
    )


def copies_overrides(copies: int) -> list[str]:
    names = [f"copy{k}" for k in range(copies)]
    services = ", ".join(
        f"{name}: {{instances: 1, concurrency: 8, service_time: 1ms}}" for name in names
    )
    return [
        f"services={{users: {{instances: 2, concurrency: 16, service_time: 1ms}}, {services}}}",
        f"data.replicas=[{', '.join(names)}]",
        "faults=[]",
    ]


def scaling_section(requests: int) -> str:
    cases: list[tuple[str, str, list[tuple[str, list[str]]]]] = [
        ("sync_http", "copies", [(str(c), copies_overrides(c)) for c in (2, 8, 32)]),
        ("cdc", "keys", [(f"1e{e}", [f"data.keys={10**e}"]) for e in (3, 4, 5, 6)]),
        ("cdc", "partitions", [(str(p), [f"broker.partitions={p}"]) for p in (6, 50, 200)]),
    ]
    rows = []
    for kind, what, points in cases:
        first = None
        for label, extra in points:
            cpu, n = timed_pattern(kind, scaled(requests, extra))
            per = cpu / n * 1e6
            first = first or per
            rows.append([kind, what, label, f"{per:.1f}", f"{per / first:.2f}"])
    return f"### Cost against size ({requests:,} requests a point)\n\n" + table(
        ["pattern", "grows", "value", "CPU µs per request", "against the smallest"], rows
    )


LAYERS = [
    ("simpy/", "SimPy's event loop"),
    ("sim/workload/", "arrivals"),
    ("sim/patterns/", "pattern model: requests, answers, copies"),
    ("sim/infra/service.py", "service instances: queues, slots"),
    ("sim/infra/occupancy.py", "service instances: queues, slots"),
    ("sim/infra/job.py", "jobs: a request's work at a service"),
    ("sim/infra/database.py", "databases and queries"),
    ("sim/infra/queries.py", "databases and queries"),
    ("sim/infra/network.py", "network hops"),
    ("sim/broker/", "broker, producers, consumers"),
    ("sim/connectors/", "connectors"),
    ("sim/infra/", "other components"),
    ("sim/kernel/", "draws, timers"),
    ("sim/config/", "draws, timers"),
    ("sim/metrics/", "request log and metrics"),
    ("sim/", "the rest of patternsim (the run, its tables)"),
]


def _layer(filename: str) -> str:
    for prefix, name in LAYERS:
        if f"/{prefix}" in filename:
            return name
    return "numpy, pandas and the rest"


def profiled(call: Callable[[], int]) -> tuple[dict[str, float], dict[str, float]]:
    """Shares of the time and Python calls per request, by layer, of ``call()`` (which returns
    its request count) under cProfile."""
    profile = cProfile.Profile()
    requests = profile.runcall(call)
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    own: dict[str, float] = {}
    calls: dict[str, float] = {}
    for (filename, _line, _name), (_cc, count, tottime, _ct, callers) in stats.items():
        if filename == "~" and callers:  # a built-in: its time goes to its callers' layers
            spent = sum(c[2] for c in callers.values()) or 1.0
            for (caller, _l, _n), c in callers.items():
                own[_layer(caller)] = own.get(_layer(caller), 0.0) + tottime * c[2] / spent
            continue
        layer = _layer(filename)
        own[layer] = own.get(layer, 0.0) + tottime
        calls[layer] = calls.get(layer, 0) + count / requests
    total = sum(own.values())
    return {layer: t / total for layer, t in own.items()}, calls


def profile_section(customers: int, requests: int) -> str:
    mmc = profiled(lambda: patternsim_run(0.8 * 4, 4, customers, 1)[1])
    cdc = profiled(lambda: timed_pattern("cdc", scaled(requests))[1])
    layers = sorted(
        {*mmc[0], *cdc[0]}, key=lambda layer: -(mmc[0].get(layer, 0.0) + cdc[0].get(layer, 0.0))
    )
    rows = [
        [
            layer,
            *(f"{shares.get(layer, 0.0):.0%}" for shares in (mmc[0], cdc[0])),
            *(f"{calls.get(layer, 0.0):.1f}" for calls in (mmc[1], cdc[1])),
        ]
        for layer in layers
    ]
    rows.append(["all", "100%", "100%", *(f"{sum(c.values()):.1f}" for c in (mmc[1], cdc[1]))])
    head = ["layer", "M/M/4 time", "cdc time", "M/M/4 calls / request", "cdc calls / request"]
    return (
        f"### Where a request's time goes, under cProfile: M/M/4 ({customers:,} requests) and "
        f"cdc (all-patterns scaled to {requests:,})\n\n" + table(head, rows)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the issue's sizes (1M M/M/4)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="also write the Markdown here")
    args = parser.parse_args()
    mmc = 1_000_000 if args.full else 200_000
    scaled_requests = 100_000 if args.full else 20_000
    sections = []
    for build in (
        lambda: mmc_section(mmc, args.repeat),
        lambda: patterns_section(scaled_requests, 1 if not args.full else args.repeat),
        lambda: memory_section(mmc, args.repeat),  # per million: at a million with --full
        lambda: scaling_section(scaled_requests // 2),
        lambda: profile_section(mmc // 5, scaled_requests // 2),
    ):
        text = build()
        print(text + "\n", flush=True)
        sections.append(text)
    if args.out:
        args.out.write_text("## patternsim benchmarks\n\n" + "\n\n".join(sections) + "\n")


if __name__ == "__main__":
    main()
