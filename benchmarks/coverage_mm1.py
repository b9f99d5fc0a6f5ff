"""Interval coverage: how often the reported 95 % interval on ``latency_mean`` holds the truth.

Runs ``--experiments`` independent experiments (seeds 0, 1, ...) of an M/M/1 queue through
patternsim — Poisson arrivals at rate λ, one slot, exponential service of mean 1/μ, no network
or database time — each with ``--replications`` replications, and counts the experiments whose
95 % Student-t interval on ``latency_mean`` contains the analytic mean time in system,
W = 1 / (μ − λ). A faithful simulator with honest intervals covers W about 95 % of the time
(within the binomial noise of the count: ±4.3 % at 100 experiments). The warm-up drops the
start from an empty queue, whose relaxation time at ρ = 0.5 is a fraction of a second.

Usage: ``python benchmarks/coverage_mm1.py [--experiments 100] [--replications 10]``
"""

from __future__ import annotations

import argparse
import math

from sim import api

SCENARIO = """
name: coverage-mm1
seed: {seed}
warmup: 10s
drain: 1m
replications: {replications}
services:
  station: {{instances: 1, concurrency: 1, service_time: {{dist: exponential, mean: {service}s}}}}
databases:
  default: {{read_time: 0, write_time: 0}}
network: {{latency: 0}}
data: {{owner: station, keys: 1}}
workload:
  timeout: 1h
  phases: [{{duration: {duration}s, rate: {rate}}}]
  mix: {{read: 1, write: 0}}
patterns: [{{kind: shared_db}}]
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=int, default=100)
    parser.add_argument("--replications", type=int, default=10)
    parser.add_argument("--load", type=float, default=0.5, help="utilisation rho")
    parser.add_argument("--duration", type=float, default=100.0, help="seconds of load")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()
    service = 0.010
    rate = args.load / service
    truth = 1.0 / (1.0 / service - rate)
    covered = 0
    for seed in range(args.experiments):
        text = SCENARIO.format(
            seed=seed,
            replications=args.replications,
            service=service,
            duration=args.duration,
            rate=rate,
        )
        results = api.run(api.parse(text), workers=args.workers)
        row = results.summary[results.summary["metric"] == "latency_mean"].iloc[0]
        covered += int(row["ci_low"] <= truth <= row["ci_high"])
    share = covered / args.experiments
    noise = 1.96 * math.sqrt(0.95 * 0.05 / args.experiments)
    print(
        f"M/M/1, rho={args.load}, {args.experiments} experiments x {args.replications} "
        f"replications of {args.duration:g} s"
    )
    print(f"  analytic mean time in system   {truth * 1000:.3f} ms")
    print(f"  95% intervals containing it    {covered}/{args.experiments} = {share:.1%}")
    print(f"  expected                       95.0% ± {noise:.1%} (binomial, 95%)")


if __name__ == "__main__":
    main()
