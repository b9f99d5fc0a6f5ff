"""The analytic values the validation cases are checked against, as plain functions.

Rates are per second, times in seconds. Each function is the textbook formula, named after it:
M/M/1 sojourn times are exponential with rate μ − λ; M/M/c waits follow Erlang C; M/G/1 means
follow Pollaczek–Khinchine; a fork-join of two M/M/1 queues fed by the same Poisson stream has
Nelson and Tantawi's exact mean; open Jackson networks have product form, so a station visited
V times on average by a request is an M/M/1 queue at rate V λ.

Finite queues: Erlang B is the share of arrivals an M/M/c/c system refuses; M/M/1/K's share
refused and the admitted requests' mean time in system follow from its geometric
distribution of the number in system.

Left out: anything that has no closed form (percentiles of M/M/c, fork-join with k > 2, which
only has approximations).
"""

from __future__ import annotations

import math

__all__ = [
    "chain_availability",
    "erlang_b",
    "erlang_c",
    "fork_join_two",
    "jackson_feedback_sojourn",
    "jackson_tandem_sojourn",
    "mm1_quantile",
    "mm1_sojourn",
    "mm1_tail",
    "mm1_wait",
    "mm1k_blocking",
    "mm1k_sojourn",
    "mmc_sojourn",
    "mmc_wait",
    "pollaczek_khinchine",
    "retry_amplification",
    "retry_failure",
]


def mm1_sojourn(arrival: float, service: float) -> float:
    """Mean time in system of M/M/1: W = 1 / (μ − λ)."""
    return 1.0 / (service - arrival)


def mm1_wait(arrival: float, service: float) -> float:
    """Mean wait in queue of M/M/1: Wq = ρ / (μ − λ)."""
    return (arrival / service) / (service - arrival)


def mm1_quantile(arrival: float, service: float, q: float) -> float:
    """The q-quantile of M/M/1's time in system: −ln(1 − q) / (μ − λ) (p99: ln 100 / (μ − λ))."""
    return -math.log(1.0 - q) / (service - arrival)


def mm1_tail(arrival: float, service: float, t: float) -> float:
    """P(T > t) for M/M/1's time in system: exp(−(μ − λ) t)."""
    return math.exp(-(service - arrival) * t)


def erlang_c(arrival: float, service: float, servers: int) -> float:
    """Erlang C: the probability that an arrival to M/M/c waits."""
    load = arrival / service
    rho = load / servers
    head = sum(load**k / math.factorial(k) for k in range(servers))
    tail = load**servers / math.factorial(servers) / (1.0 - rho)
    return tail / (head + tail)


def erlang_b(arrival: float, service: float, servers: int) -> float:
    """Erlang B: the share of arrivals an M/M/c/c system refuses, by the stable recursion
    B(0) = 1, B(k) = a B(k−1) / (k + a B(k−1))."""
    load = arrival / service
    blocking = 1.0
    for k in range(1, servers + 1):
        blocking = load * blocking / (k + load * blocking)
    return blocking


def mm1k_blocking(arrival: float, service: float, capacity: int) -> float:
    """M/M/1/K: the share of arrivals refused, (1 − ρ) ρ^K / (1 − ρ^(K+1)) (ρ ≠ 1)."""
    rho = arrival / service
    return (1.0 - rho) * rho**capacity / (1.0 - rho ** (capacity + 1))


def mm1k_sojourn(arrival: float, service: float, capacity: int) -> float:
    """M/M/1/K: the admitted requests' mean time in system, L / (λ (1 − P_K)), with
    L = ρ/(1 − ρ) − (K + 1) ρ^(K+1) / (1 − ρ^(K+1))."""
    rho = arrival / service
    inside = rho / (1.0 - rho) - (capacity + 1) * rho ** (capacity + 1) / (
        1.0 - rho ** (capacity + 1)
    )
    return inside / (arrival * (1.0 - mm1k_blocking(arrival, service, capacity)))


def mmc_wait(arrival: float, service: float, servers: int) -> float:
    """Mean wait in queue of M/M/c: C(c, a) / (c μ − λ)."""
    return erlang_c(arrival, service, servers) / (servers * service - arrival)


def mmc_sojourn(arrival: float, service: float, servers: int) -> float:
    """Mean time in system of M/M/c: Wq + 1/μ."""
    return mmc_wait(arrival, service, servers) + 1.0 / service


def pollaczek_khinchine(arrival: float, mean: float, second_moment: float) -> float:
    """Mean time in system of M/G/1: E[S] + λ E[S²] / (2 (1 − ρ))."""
    rho = arrival * mean
    return mean + arrival * second_moment / (2.0 * (1.0 - rho))


def fork_join_two(arrival: float, service: float) -> float:
    """Nelson–Tantawi: the exact mean response time of a fork-join of two M/M/1 queues fed by
    the same Poisson stream, E[T] = (12 − ρ) / 8 · 1 / (μ − λ)."""
    rho = arrival / service
    return (12.0 - rho) / 8.0 / (service - arrival)


def jackson_tandem_sojourn(arrival: float, services: list[float]) -> float:
    """Mean time through a tandem of M/M/1 stations (every request visits each once)."""
    return sum(1.0 / (mu - arrival) for mu in services)


def jackson_feedback_sojourn(arrival: float, service: float, again: float) -> float:
    """Mean time in system of an M/M/1 station whose requests return with probability
    ``again``: 1 / (1 − p) visits, each an M/M/1 sojourn at rate λ / (1 − p)."""
    effective = arrival / (1.0 - again)
    return 1.0 / (service - effective) / (1.0 - again)


def chain_availability(availability: float, links: int) -> float:
    """The availability of a chain of independent calls, each available with ``availability``."""
    return availability**links


def retry_amplification(failure: float, retries: int) -> float:
    """Expected attempts per call with up to ``retries`` retries of independent failures of
    probability p: (1 − p^(r+1)) / (1 − p)."""
    return (1.0 - failure ** (retries + 1)) / (1.0 - failure)


def retry_failure(failure: float, retries: int) -> float:
    """The share of calls that fail after every retry: p^(r+1)."""
    return failure ** (retries + 1)
