"""Open-loop load: arrival counts follow the rate profile, operations and keys follow the mix.

Counts are checked against Poisson or binomial bounds of five standard deviations around the
value the profile implies, with a fixed seed.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.rng import Streams
from sim.workload import READ, WRITE, arrival_times, draw_requests


def workload(*phases: dict[str, Any], arrivals: str = "poisson", **extra: Any) -> WorkloadConfig:
    return WorkloadConfig(arrivals=arrivals, phases=list(phases), **extra)


def within_poisson(count: int, expected: float) -> bool:
    return abs(count - expected) < 5 * math.sqrt(expected)


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p))


# -- arrival times -----------------------------------------------------------------------------


def test_poisson_count_over_a_constant_phase_is_rate_times_duration() -> None:
    times = arrival_times(workload({"duration": "100s", "rate": "50/s"}), Streams(1))
    assert within_poisson(len(times), 50 * 100)


def test_poisson_gaps_are_exponential_with_mean_one_over_rate() -> None:
    times = arrival_times(workload({"duration": "100s", "rate": "50/s"}), Streams(2))
    gaps = np.diff(times)
    # exponential gaps: mean and standard deviation 1/rate; the sample mean's standard error
    # is sigma/sqrt(n), the sample standard deviation's sigma*sqrt(2/n) (fourth moment 9 sigma^4)
    n, sigma = len(gaps), 1 / 50
    assert abs(gaps.mean() - sigma) < 5 * sigma / math.sqrt(n)
    assert abs(gaps.std() - sigma) < 5 * sigma * math.sqrt(2 / n)


def test_ramp_density_follows_the_integral_of_the_rate() -> None:
    # rate 10/s rising linearly to 90/s over 100 s: r(t) = 10 + 0.8 t
    times = arrival_times(workload({"duration": 100, "rate": 10, "ramp_to": 90}), Streams(3))

    def expected(a: float, b: float) -> float:
        return 10 * (b - a) + 0.4 * (b * b - a * a)

    first, second = np.sum(times <= 50), np.sum(times > 50)
    assert within_poisson(int(first), expected(0, 50))  # 1500
    assert within_poisson(int(second), expected(50, 100))  # 3500
    counts, _ = np.histogram(times, bins=np.arange(0, 101, 10))
    for i, count in enumerate(counts):
        assert within_poisson(int(count), expected(10 * i, 10 * (i + 1)))


def test_phases_follow_one_another() -> None:
    times = arrival_times(
        workload(
            {"duration": 20, "rate": 100},
            {"duration": 20, "rate": 100, "ramp_to": 0},
            {"duration": 10, "rate": 0},
            {"duration": 10, "rate": 0, "ramp_to": 200},
        ),
        Streams(4),
    )
    assert within_poisson(int(np.sum(times <= 20)), 2000)
    assert within_poisson(int(np.sum((times > 20) & (times <= 40))), 1000)
    assert not np.any((times > 40) & (times <= 50)), "a silent phase has no arrivals"
    assert within_poisson(int(np.sum(times > 50)), 1000)
    assert times.max() <= 60


def test_uniform_arrivals_are_evenly_spaced_at_one_over_rate() -> None:
    times = arrival_times(workload({"duration": 10, "rate": 20}, arrivals="uniform"), Streams(5))
    assert len(times) == 200
    np.testing.assert_allclose(times, np.arange(1, 201) / 20, rtol=1e-12)


def test_uniform_arrivals_change_spacing_with_the_phase() -> None:
    times = arrival_times(
        workload({"duration": 1, "rate": 10}, {"duration": 1, "rate": 20}, arrivals="uniform"),
        Streams(5),
    )
    np.testing.assert_allclose(
        np.diff(times), [0.1] * 9 + [0.05] * 20, rtol=1e-9, err_msg="gaps of 1/rate per phase"
    )


def test_uniform_arrivals_on_a_ramp_are_at_whole_units_of_the_integral() -> None:
    # r(t) = 2t over 10 s: the integral t^2 reaches k at t = sqrt(k)
    times = arrival_times(
        workload({"duration": 10, "rate": 0, "ramp_to": 20}, arrivals="uniform"), Streams(5)
    )
    np.testing.assert_allclose(times, np.sqrt(np.arange(1, 101)), rtol=1e-12)


PHASES = st.lists(
    st.fixed_dictionaries(
        {
            "duration": st.floats(0.1, 5.0),
            "rate": st.floats(0.0, 200.0),
            "ramp_to": st.one_of(st.none(), st.floats(0.0, 200.0)),
        }
    ),
    min_size=1,
    max_size=4,
)


@settings(deadline=None)
@given(phases=PHASES, arrivals=st.sampled_from(["poisson", "uniform"]), seed=st.integers(0, 99))
def test_times_are_sorted_and_within_the_load(
    phases: list[dict[str, Any]], arrivals: str, seed: int
) -> None:
    config = workload(*phases, arrivals=arrivals)
    times = arrival_times(config, Streams(seed))
    assert np.all(np.diff(times) >= 0)
    if len(times):
        assert times[0] >= 0
        assert times[-1] <= config.load_duration + 1e-9
    if arrivals == "uniform":
        total = sum(
            (p["rate"] + (p["ramp_to"] if p["ramp_to"] is not None else p["rate"]))
            * p["duration"]
            / 2
            for p in phases
        )
        assert len(times) == math.floor(total)


# -- requests ----------------------------------------------------------------------------------

LOAD = workload({"duration": 50, "rate": 2000}, mix={"write": 0.3, "read": 0.7})


def test_write_fraction_follows_the_mix() -> None:
    requests = draw_requests(LOAD, DataConfig(owner="orders"), Streams(6))
    n = len(requests)
    assert within_poisson(n, 100_000)
    assert set(np.unique(requests.ops)) == {READ, WRITE}
    assert within_binomial(int(np.sum(requests.ops == WRITE)), n, 0.3)


def test_zipf_keys_favour_low_ranks_in_proportion() -> None:
    keys_count, exponent = 50, 1.0
    data = DataConfig(owner="orders", keys=keys_count, key_distribution={"zipf": exponent})
    requests = draw_requests(LOAD, data, Streams(7))
    n = len(requests)
    counts = np.bincount(requests.keys, minlength=keys_count)
    assert len(counts) == keys_count, "keys stay in 0 .. keys-1"
    assert int(np.argmax(counts)) == 0
    weights = 1.0 / np.arange(1, keys_count + 1) ** exponent
    probabilities = weights / weights.sum()
    for rank in range(10):
        assert within_binomial(int(counts[rank]), n, float(probabilities[rank])), rank
    by_decile = counts.reshape(5, 10).sum(axis=1)
    assert np.all(np.diff(by_decile) < 0), by_decile


def test_uniform_keys_cover_the_key_space_evenly() -> None:
    requests = draw_requests(LOAD, DataConfig(owner="orders", keys=20), Streams(8))
    counts = np.bincount(requests.keys, minlength=20)
    assert len(counts) == 20
    assert all(within_binomial(int(c), len(requests), 1 / 20) for c in counts)


def test_read_targets_pick_among_the_replicas_or_the_owner() -> None:
    with_copies = draw_requests(
        LOAD, DataConfig(owner="orders", replicas=["search", "billing", "audit"]), Streams(9)
    )
    counts = np.bincount(with_copies.targets)
    assert len(counts) == 3
    assert all(within_binomial(int(c), len(with_copies), 1 / 3) for c in counts)
    owner_only = draw_requests(LOAD, DataConfig(owner="orders"), Streams(9))
    assert set(owner_only.targets.tolist()) == {0}


def test_same_seed_gives_identical_requests_and_another_replication_does_not() -> None:
    data = DataConfig(owner="orders", replicas=["search"], key_distribution={"zipf": 1.2})
    small = workload({"duration": 5, "rate": 300, "ramp_to": 100})
    first = draw_requests(small, data, Streams(10, replication=1))
    again = draw_requests(small, data, Streams(10, replication=1))
    for field in ("times", "ops", "keys", "targets"):
        np.testing.assert_array_equal(getattr(first, field), getattr(again, field))
    other = draw_requests(small, data, Streams(10, replication=2))
    assert len(other) != len(first) or not np.array_equal(other.times, first.times)


def test_keys_do_not_depend_on_the_mix() -> None:
    # each purpose has its own stream: changing the mix must not move the keys or the times
    data = DataConfig(owner="orders", keys=100)
    mostly_reads = draw_requests(
        workload({"duration": 5, "rate": 300}, mix={"write": 0.1, "read": 0.9}), data, Streams(11)
    )
    mostly_writes = draw_requests(
        workload({"duration": 5, "rate": 300}, mix={"write": 0.9, "read": 0.1}), data, Streams(11)
    )
    np.testing.assert_array_equal(mostly_reads.times, mostly_writes.times)
    np.testing.assert_array_equal(mostly_reads.keys, mostly_writes.keys)


@pytest.mark.parametrize("s", [0.7, 1.0, 1.3])
def test_rejection_inversion_zipf_follows_the_zipf_law(s: float) -> None:
    from scipy import stats

    from sim.workload import zipf_ranks

    n, count = 40, 200_000
    ranks = zipf_ranks(n, s, count, np.random.default_rng(7))
    assert ranks.min() >= 1 and ranks.max() <= n
    weights = np.arange(1, n + 1, dtype=float) ** -s
    expected = weights / weights.sum() * count
    observed = np.bincount(ranks, minlength=n + 1)[1:]
    assert stats.chisquare(observed, expected).pvalue > 1e-3


def test_a_huge_key_space_needs_no_table_of_weights() -> None:
    import tracemalloc

    from sim.workload import zipf_ranks

    tracemalloc.start()
    ranks = zipf_ranks(1_000_000_000, 1.1, 10_000, np.random.default_rng(3))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert ranks.max() <= 1_000_000_000
    assert peak < 10_000_000  # a table of 1e9 weights would be 8 GB
