"""Validation cases from queueing theory: M/M/1, M/M/c, M/D/1, M/G/1, finite queues (Erlang B,
M/M/1/K) and Jackson networks (a tandem, a station with feedback).

Each is one service configured as a textbook station (Poisson arrivals, no network, database or
client time) by a scenario file in ``validation/scenarios/``. The checks that read the scope-1
gauges (:mod:`validation.gauges`) and the networks, which need call graphs, are pending until
the model has them.

Left out: percentiles without a closed form (M/M/c, M/G/1).
"""

from __future__ import annotations

from sim import api
from validation import theory
from validation.cases import Case, Check, Feature, Length, Runs
from validation.gauges import QUEUE_WAIT, WAIT_PROBABILITY, utilisation

__all__ = ["QUEUEING_CASES"]

CALL_GRAPHS = Feature("calls", "call graphs (issue 14, scope 2)")
CALL_GRAPH_LENGTH = (
    "The full length is 10 × 200,000 requests, not 10 × 1,000,000 as for the single "
    "stations: every visit is an HTTP call through the call-graph path (about 0.26 ms of CPU "
    "per request in the tandem), so a million requests per replication would cost more CPU "
    "than the rest of the full suite together. At 200,000 the 95 % interval is already "
    "within about 1 % of the mean."
)


def _above(t: float):
    def share(run: api.RunResult, runs: Runs) -> float:
        latencies = runs.measured(run)
        return float((latencies > t).mean())

    return share


def _mm1() -> Case:
    lam, mu = 0.7, 1.0
    tails = tuple(
        Check(
            f"P(T > {t:g} s)",
            theory.mm1_tail(lam, mu, t),
            value=_above(t),
            unit="fraction",
            tolerance=0.02,
        )
        for t in (1.0, 5.0, 10.0)
    )
    return Case(
        "mm1",
        "M/M/1",
        "Poisson arrivals (λ = 0.7/s) at one slot with exponential service (μ = 1/s), ρ = 0.7. "
        "The time in system is exponential with rate μ − λ: W = 1/(μ − λ), the q-quantile "
        "−ln(1 − q)/(μ − λ) (p99 = ln 100/(μ − λ)), P(T > t) = exp(−(μ − λ) t); "
        "Wq = ρ/(μ − λ); the utilisation is ρ.",
        "mm1.yaml",
        lam,
        {
            "smoke": Length(5, 20_000),
            "default": Length(10, 200_000),
            "full": Length(10, 1_000_000),
        },
        (
            Check("W (mean time in system)", theory.mm1_sojourn(lam, mu), "latency_mean", unit="s"),
            Check("Wq (mean wait in queue)", theory.mm1_wait(lam, mu), QUEUE_WAIT, unit="s"),
            Check(
                "p50", theory.mm1_quantile(lam, mu, 0.5), "latency_p50", unit="s", tolerance=0.02
            ),
            Check(
                "p95", theory.mm1_quantile(lam, mu, 0.95), "latency_p95", unit="s", tolerance=0.02
            ),
            Check(
                "p99", theory.mm1_quantile(lam, mu, 0.99), "latency_p99", unit="s", tolerance=0.02
            ),
            *tails,
            Check("ρ (utilisation)", lam / mu, utilisation("station"), unit="fraction"),
        ),
    )


def _mmc() -> Case:
    lam, mu, c = 3.2, 1.0, 4
    return Case(
        "mmc",
        "M/M/c (c = 4)",
        "Poisson arrivals (λ = 3.2/s) at one instance with 4 slots, exponential service "
        "(μ = 1/s), ρ = λ/(cμ) = 0.8. Erlang C gives the probability of waiting C(c, λ/μ); "
        "Wq = C/(cμ − λ) and W = Wq + 1/μ.",
        "mmc.yaml",
        lam,
        {
            "smoke": Length(5, 20_000),
            "default": Length(10, 200_000),
            "full": Length(10, 1_000_000),
        },
        (
            Check(
                "W (mean time in system)", theory.mmc_sojourn(lam, mu, c), "latency_mean", unit="s"
            ),
            Check("Wq (mean wait in queue)", theory.mmc_wait(lam, mu, c), QUEUE_WAIT, unit="s"),
            Check(
                "P(wait) (Erlang C)", theory.erlang_c(lam, mu, c), WAIT_PROBABILITY, unit="fraction"
            ),
            Check("ρ (utilisation)", lam / (c * mu), utilisation("station"), unit="fraction"),
        ),
    )


def _md1() -> Case:
    lam, s = 0.6, 1.0
    return Case(
        "md1",
        "M/D/1",
        "Poisson arrivals (λ = 0.6/s) at one slot with a constant service time of 1 s, ρ = 0.6. "
        "Pollaczek–Khinchine: W = E[S] + λE[S²]/(2(1 − ρ)), with E[S²] = 1 s².",
        "md1.yaml",
        lam,
        {
            "smoke": Length(5, 20_000),
            "default": Length(10, 100_000),
            "full": Length(10, 1_000_000),
        },
        (
            Check(
                "W (mean time in system)",
                theory.pollaczek_khinchine(lam, s, s * s),
                "latency_mean",
                unit="s",
            ),
            Check(
                "Wq (mean wait in queue)",
                theory.pollaczek_khinchine(lam, s, s * s) - s,
                QUEUE_WAIT,
                unit="s",
            ),
        ),
    )


def _mg1() -> Case:
    lam = 0.7
    mean, second = 1.0, 4.0 / 3.0
    return Case(
        "mg1",
        "M/G/1 (uniform service)",
        "Poisson arrivals (λ = 0.7/s) at one slot with a service time uniform on [0, 2 s]: "
        "E[S] = 1 s, E[S²] = 4/3 s², ρ = 0.7. Pollaczek–Khinchine: W = E[S] + λE[S²]/(2(1 − ρ)).",
        "mg1.yaml",
        lam,
        {"default": Length(10, 100_000), "full": Length(10, 1_000_000)},
        (
            Check(
                "W (mean time in system)",
                theory.pollaczek_khinchine(lam, mean, second),
                "latency_mean",
                unit="s",
            ),
        ),
    )


def _erlang_b() -> Case:
    lam, mu, c = 3.0, 1.0, 4
    return Case(
        "erlang-b",
        "Erlang B (M/M/c/c, c = 4)",
        "Poisson arrivals (λ = 3/s) at one instance with 4 slots and no room to wait (a "
        "bounded queue of limit 0 that rejects), exponential service (μ = 1/s): offered load "
        "a = 3 erlangs. The share of arrivals refused (each a 503, counted in `error_rate`) is "
        "Erlang B, B(c, a); the admitted ones are served at once, W = 1/μ.",
        "erlang-b.yaml",
        lam,
        {
            "smoke": Length(5, 20_000),
            "default": Length(10, 100_000),
            "full": Length(10, 1_000_000),
        },
        (
            Check(
                "B(c, a) (share refused)",
                theory.erlang_b(lam, mu, c),
                "error_rate",
                unit="fraction",
            ),
            Check("W (admitted)", 1.0 / mu, "latency_mean", unit="s"),
        ),
    )


def _mm1k() -> Case:
    lam, mu, k = 0.7, 1.0, 5
    return Case(
        "mm1k",
        "M/M/1/K (K = 5)",
        "Poisson arrivals (λ = 0.7/s) at one slot with room for 4 waiting requests (a bounded "
        "queue of limit 4 that rejects), exponential service (μ = 1/s), ρ = 0.7. The share "
        "refused (`error_rate`) is P_K = (1 − ρ)ρ^K/(1 − ρ^(K+1)); the admitted requests' mean "
        "time in system is L/(λ(1 − P_K)), with L = ρ/(1 − ρ) − (K + 1)ρ^(K+1)/(1 − ρ^(K+1)).",
        "mm1k.yaml",
        lam,
        {"default": Length(10, 100_000), "full": Length(10, 1_000_000)},
        (
            Check(
                "P_K (share refused)",
                theory.mm1k_blocking(lam, mu, k),
                "error_rate",
                unit="fraction",
            ),
            Check("W (admitted)", theory.mm1k_sojourn(lam, mu, k), "latency_mean", unit="s"),
        ),
    )


def _tandem() -> Case:
    lam, mu = 0.5, 1.0
    return Case(
        "tandem",
        "Tandem Jackson network (3 stations)",
        "Poisson arrivals (λ = 0.5/s) at station a, which calls b, which calls c (each with "
        "probability 1); each is one slot with exponential service (μ = 1/s). Product form: "
        "W = Σ 1/(μᵢ − λ) = 3/(μ − λ).",
        "tandem.yaml",
        lam,
        {
            "smoke": Length(5, 5_000),
            "default": Length(10, 20_000),
            "full": Length(10, 200_000),
        },
        (
            Check(
                "W (mean time through)",
                theory.jackson_tandem_sojourn(lam, [mu, mu, mu]),
                "latency_mean",
                unit="s",
            ),
        ),
        feature=CALL_GRAPHS,
        notes=CALL_GRAPH_LENGTH,
    )


def _feedback() -> Case:
    lam, mu, p = 0.5, 1.0, 0.3
    return Case(
        "feedback",
        "Jackson network with feedback",
        "Poisson arrivals (λ = 0.5/s) at one station (one slot, μ = 1/s) that calls itself "
        "again with probability p = 0.3: 1/(1 − p) visits, each an M/M/1 sojourn at the "
        "effective rate λ/(1 − p): W = 1/(μ − λ/(1 − p))/(1 − p).",
        "feedback.yaml",
        lam,
        {
            "smoke": Length(5, 5_000),
            "default": Length(10, 20_000),
            "full": Length(10, 200_000),
        },
        (
            Check(
                "W (mean time in system)",
                theory.jackson_feedback_sojourn(lam, mu, p),
                "latency_mean",
                unit="s",
            ),
        ),
        feature=CALL_GRAPHS,
        notes=CALL_GRAPH_LENGTH,
    )


QUEUEING_CASES: tuple[Case, ...] = (
    _mm1(),
    _mmc(),
    _md1(),
    _mg1(),
    _erlang_b(),
    _mm1k(),
    _tandem(),
    _feedback(),
)
