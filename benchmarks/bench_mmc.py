"""Speed of a patternsim run against a naive SimPy model of the same M/M/c queue.

Both models run in this one process on the same machine, so the figure that matters is the
ratio, not the seconds. The naive model is the textbook SimPy program: one process per
customer and a ``simpy.Resource`` with c slots. patternsim runs the same queue as a scenario
(one instance with c slots, exponential service, Poisson arrivals, reads at the owner, zero
network and database time) through the whole pipeline of one run: request draws, the
callback-style service, the request log and the metrics.

Times are process CPU time (``time.process_time``), best of the repeats, the two models
interleaved, so a busy shared machine disturbs both alike.

Usage: ``python benchmarks/bench_mmc.py [--customers N] [--servers C] [--load RHO] [--repeat K]``
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import simpy

from sim.api import parse
from sim.runner import Task, run_one


def naive_simpy(arrival_rate: float, servers: int, customers: int, seed: int) -> tuple[float, int]:
    """The textbook SimPy M/M/c; returns (mean time in system, customers served)."""
    rng = np.random.default_rng(seed)
    env = simpy.Environment()
    desk = simpy.Resource(env, capacity=servers)
    waits: list[float] = []

    def customer(service: float):  # type: ignore[no-untyped-def]
        arrived = env.now
        with desk.request() as request:
            yield request
            yield env.timeout(service)
        waits.append(env.now - arrived)

    def source():  # type: ignore[no-untyped-def]
        for _ in range(customers):
            yield env.timeout(rng.exponential(1.0 / arrival_rate))
            env.process(customer(rng.exponential(1.0)))

    env.process(source())
    env.run()
    return statistics.fmean(waits), len(waits)


SCENARIO = """
name: bench-mmc
seed: {seed}
warmup: 0
drain: 1h
services:
  station: {{instances: 1, concurrency: {servers}, service_time: {{dist: exponential, mean: 1s}}}}
databases:
  default: {{read_time: 0, write_time: 0}}
network: {{latency: 0}}
data: {{owner: station, keys: 1}}
workload:
  timeout: 100h
  phases: [{{duration: {duration}, rate: {rate}}}]
  mix: {{read: 1, write: 0}}
patterns: [{{kind: shared_db}}]
"""


def patternsim_run(
    arrival_rate: float, servers: int, customers: int, seed: int
) -> tuple[float, int]:
    """The same queue through patternsim; returns (mean latency, requests)."""
    scenario = parse(
        SCENARIO.format(
            seed=seed, servers=servers, duration=customers / arrival_rate, rate=arrival_rate
        )
    )
    result = run_one(Task(scenario, 0, 0))
    return float(result.requests["latency"].mean()), len(result.requests)


def erlang_c_mean(arrival_rate: float, servers: int) -> float:
    """Mean time in system of M/M/c with service rate 1 (Erlang C)."""
    load = arrival_rate
    rho = load / servers
    total = sum(load**k / _factorial(k) for k in range(servers))
    top = load**servers / _factorial(servers) / (1 - rho)
    waiting = top / (total + top)
    return waiting / (servers - load) + 1.0


def _factorial(n: int) -> float:
    out = 1.0
    for k in range(2, n + 1):
        out *= k
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--servers", type=int, default=4)
    parser.add_argument("--load", type=float, default=0.8, help="utilisation rho")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    rate = args.load * args.servers
    naive_times, ours_times = [], []
    for k in range(args.repeat):
        start = time.process_time()
        naive_w, naive_n = naive_simpy(rate, args.servers, args.customers, seed=k)
        naive_times.append(time.process_time() - start)
        start = time.process_time()
        ours_w, ours_n = patternsim_run(rate, args.servers, args.customers, seed=k)
        ours_times.append(time.process_time() - start)
    naive, ours = min(naive_times), min(ours_times)
    print(f"M/M/{args.servers}, rho={args.load}, {args.customers} customers, best of {args.repeat}")
    print(f"  analytic mean time in system   {erlang_c_mean(rate, args.servers):.4f}")
    print(f"  naive SimPy   {naive:7.3f} s  mean {naive_w:.4f} ({naive_n} served)")
    print(f"  patternsim    {ours:7.3f} s  mean {ours_w:.4f} ({ours_n} requests)")
    print(
        f"  patternsim time / naive SimPy time = {ours / naive:.2f}  "
        f"(naive is {naive / ours:.2f}x the time of patternsim)"
    )


if __name__ == "__main__":
    main()
