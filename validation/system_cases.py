"""Validation cases beyond a single queue: a fork-join of two copies, the availability of a
chain of calls, retry amplification, Little's law on a broker pattern, and the coverage of the
reported intervals over many experiments.

Each is configured by a scenario file in ``validation/scenarios/``: the fork-join, the chain and
the retries as synchronous calls from an owner to its copies (sync_http), Little's law on a dual
write, the coverage as many seeds of an M/M/1 queue.

Left out: fork-join with more than two branches (only approximations are known).
"""

from __future__ import annotations

from validation import theory
from validation.cases import Case, Check, Coverage, Length, Runs
from validation.gauges import in_system

__all__ = ["SYSTEM_CASES"]


def _fork_join() -> Case:
    lam, mu = 0.5, 1.0
    return Case(
        "fork-join",
        "Fork-join, k = 2",
        "Each write is forked by the owner (no time of its own) to two copies at once "
        "(sync_http, parallel fan-out) and answered when both have answered; each copy is an "
        "M/M/1 queue (μ = 1/s) fed by the same Poisson stream (λ = 0.5/s). Nelson and "
        "Tantawi's exact mean response time: E[T] = (12 − ρ)/8 · 1/(μ − λ).",
        "fork-join.yaml",
        lam,
        {"default": Length(10, 30_000), "full": Length(10, 200_000)},
        (
            Check(
                "E[T] (mean response time)", theory.fork_join_two(lam, mu), "latency_mean", unit="s"
            ),
        ),
    )


def _chain() -> Case:
    a, k = 0.95, 3
    return Case(
        "chain-availability",
        "Availability of a chain of k = 3 calls",
        "Every write commits at the owner and calls three copies in turn (sync_http, "
        "sequential, no retries); each copy fails a request with probability 0.05, "
        "independently. The write succeeds only when every call does: availability a^k with "
        "a = 0.95 (1 − error_rate in the outputs).",
        "chain-availability.yaml",
        10.0,
        {
            "smoke": Length(5, 2_000),
            "default": Length(10, 5_000),
            "full": Length(10, 50_000),
        },
        (
            Check(
                "availability a^k",
                theory.chain_availability(a, k),
                value=lambda run, _runs: 1.0 - run.metrics["error_rate"],
                unit="fraction",
                needs=("error_rate",),
            ),
        ),
    )


def _retries() -> Case:
    p, r = 0.3, 2
    return Case(
        "retry-amplification",
        "Retry amplification",
        "Every write calls one copy (sync_http) with up to r = 2 retries of a 503; the copy "
        "fails each attempt with probability p = 0.3, independently. Attempts per call "
        "(`attempts_per_call`): (1 − p^(r+1))/(1 − p); calls failing after every retry "
        "(`error_rate`): p^(r+1).",
        "retry-amplification.yaml",
        10.0,
        {
            "smoke": Length(5, 2_000),
            "default": Length(10, 5_000),
            "full": Length(10, 50_000),
        },
        (
            Check("attempts per call", theory.retry_amplification(p, r), "attempts_per_call"),
            Check(
                "calls failing after r retries",
                theory.retry_failure(p, r),
                "error_rate",
                unit="fraction",
            ),
        ),
    )


def _little_lambda_w(runs: Runs) -> float:
    values = runs.per_replication(
        lambda run: run.metrics["throughput"] * run.metrics["latency_mean"]
    )
    return sum(values) / len(values)


def _little() -> Case:
    return Case(
        "little-broker",
        "Little's law on a broker pattern",
        "Writes (Poisson, 20/s) at an owner with 4 slots that commits and publishes each "
        "change to the broker (dual write) while it holds the slot; a copy consumes them. "
        "L = λW at the owner: its time-average number in system against throughput × mean "
        "latency, each replication's own (no analytic value: both sides are outputs).",
        "little-broker.yaml",
        20.0,
        {
            "smoke": Length(3, 4_000),
            "default": Length(10, 20_000),
            "full": Length(10, 200_000),
        },
        (
            Check(
                "L (time-average in system at the owner)",
                _little_lambda_w,
                in_system("owner"),
                needs=("throughput", "latency_mean"),
            ),
        ),
        probe=True,
    )


def _coverage() -> Case:
    lam, mu = 50.0, 100.0
    return Case(
        "coverage",
        "Coverage of the reported 95 % interval",
        "Many independent experiments (seeds 0, 1, …) of an M/M/1 queue at ρ = 0.5 (λ = 50/s, "
        "μ = 100/s), each with its replications: the share of experiments whose 95 % "
        "Student-t interval on `latency_mean` holds W = 1/(μ − λ) = 20 ms should be 95 %. "
        "(`make interval-coverage` runs the same check from `benchmarks/coverage_mm1.py`.)",
        "coverage.yaml",
        lam,
        {
            "smoke": Length(5, 2_500, experiments=20),
            "default": Length(10, 5_000, experiments=100),
            "full": Length(10, 5_000, experiments=400),
        },
        (Coverage("intervals holding W", "latency_mean", theory.mm1_sojourn(lam, mu)),),
    )


SYSTEM_CASES: tuple[Case, ...] = (_fork_join(), _little(), _chain(), _retries(), _coverage())
