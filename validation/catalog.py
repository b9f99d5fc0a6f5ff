"""The validation cases: queueing theory, fork-join, availability and retries, Little's law and
the coverage of the reported intervals.

Each case's configuration is a shipped scenario file in ``validation/scenarios/``; the lengths
per profile say how many replications of how many requests it runs. Three kinds of case wait
for model features that are being added (issue 14): the gauges of scope 1 (utilisation, queue
wait, probability of waiting, number in system — their metric names below), and the call
graphs of scope 2 (``services.X.calls``). Until the model has them, their rows say "pending"
and what they need; once it does, they run with no change here (a metric named differently is
renamed in one place: the constants below).

Left out: M/M/c/K and Erlang B (the model has no finite queue of that form yet), percentiles
without a closed form (M/M/c, M/G/1), fork-join with more than two branches.
"""

from __future__ import annotations

from sim import api
from validation import theory
from validation.cases import Case, Check, Coverage, Feature, Length, Runs

__all__ = ["CASES"]

# The scope-1 gauges, as the summary names them.
QUEUE_WAIT = "queue_wait_mean"
WAIT_PROBABILITY = "wait_probability"


def utilisation(service: str) -> str:
    return f"utilisation{{service:{service}}}"


def in_system(service: str) -> str:
    return f"in_system{{service:{service}}}"


CALL_GRAPHS = Feature("calls", "call graphs (issue 14, scope 2)")


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
            "default": Length(10, 100_000),
            "full": Length(10, 1_000_000),
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
            "default": Length(10, 100_000),
            "full": Length(10, 1_000_000),
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


CASES: tuple[Case, ...] = (
    _mm1(),
    _mmc(),
    _md1(),
    _mg1(),
    _tandem(),
    _feedback(),
    _fork_join(),
    _little(),
    _chain(),
    _retries(),
    _coverage(),
)
