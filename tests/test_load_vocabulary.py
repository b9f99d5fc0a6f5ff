"""The load vocabulary beyond plain phases: spikes and diurnal sinusoids follow their integral,
hotspot keys put their share of the traffic on their share of the keys, and inserts take
fresh keys that no request reuses.

Counts are checked against Poisson or binomial bounds of five standard deviations with a fixed
seed, as in ``test_workload.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim import api
from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.rng import Streams
from sim.workload import INSERT, arrival_times, draw_requests, phase_area


def workload(*phases: dict[str, Any], **extra: Any) -> WorkloadConfig:
    return WorkloadConfig(phases=list(phases), **extra)


def within_poisson(count: int, expected: float) -> bool:
    return abs(count - expected) < 5 * math.sqrt(expected)


def within_binomial(count: int, n: int, p: float) -> bool:
    return abs(count - n * p) < 5 * math.sqrt(n * p * (1 - p))


# -- spike and diurnal -------------------------------------------------------------------------


def test_a_spike_adds_its_rate_during_its_window_only() -> None:
    phase = {"duration": 100, "rate": 50, "spike": {"start": 40, "duration": 10, "rate": 450}}
    times = arrival_times(workload(phase), Streams(1))
    inside = (times > 40) & (times <= 50)
    assert within_poisson(int(inside.sum()), 500 * 10)
    assert within_poisson(int((~inside).sum()), 50 * 90)
    counts, _ = np.histogram(times[~inside], bins=[0, 20, 40, 50, 70, 100])
    for count, width in zip(counts, [20, 20, 0, 20, 30], strict=True):
        if width:
            assert within_poisson(int(count), 50 * width)


def test_a_diurnal_phase_follows_its_sinusoid() -> None:
    # r(t) = 100 (1 + 0.8 sin(2π t / 50)) over two periods
    phase = {"duration": 100, "rate": 100, "diurnal": {"period": 50, "amplitude": 0.8}}
    times = arrival_times(workload(phase), Streams(2))
    w = 2 * math.pi / 50

    def expected(a: float, b: float) -> float:
        return 100 * (b - a) + 100 * 0.8 * (math.cos(w * a) - math.cos(w * b)) / w

    counts, edges = np.histogram(times, bins=np.arange(0, 101, 5))
    for count, a, b in zip(counts, edges[:-1], edges[1:], strict=True):
        assert within_poisson(int(count), expected(a, b)), (a, b, count)
    peak, trough = counts[2], counts[7]  # around t = 12.5 and t = 37.5
    assert peak > 5 * trough


def test_uniform_arrivals_on_a_shaped_ramp_sit_at_whole_units_of_the_integral() -> None:
    phase = {
        "duration": 60,
        "rate": 10,
        "ramp_to": 30,
        "diurnal": {"period": 20, "amplitude": 0.5},
        "spike": {"start": 10, "duration": 5, "rate": 40},
    }
    times = arrival_times(workload(phase, arrivals="uniform"), Streams(3))
    k, w = (30 - 10) / 60, 2 * math.pi / 20
    s = times
    integral = (
        10 * s
        + k * s * s / 2
        + 0.5 * (10 * (1 - np.cos(w * s)) / w + k * (np.sin(w * s) / w**2 - s * np.cos(w * s) / w))
        + 40 * np.clip(s - 10, 0, 5)
    )
    np.testing.assert_allclose(integral, np.arange(1, len(times) + 1), rtol=1e-9)
    assert np.all(np.diff(times) > 0)


def test_a_shape_in_a_later_phase_leaves_the_earlier_arrivals_in_place() -> None:
    plain = workload({"duration": 10, "rate": 100}, {"duration": 10, "rate": 100})
    shaped = workload(
        {"duration": 10, "rate": 100},
        {"duration": 10, "rate": 100, "spike": {"start": 2, "duration": 3, "rate": 900}},
    )
    before, after = arrival_times(plain, Streams(4)), arrival_times(shaped, Streams(4))
    np.testing.assert_array_equal(before[before <= 10], after[after <= 10])


SHAPED = st.fixed_dictionaries(
    {
        "duration": st.floats(0.5, 20.0),
        "rate": st.floats(0.0, 100.0),
        "ramp_to": st.floats(0.0, 100.0),
        "amplitude": st.floats(0.0, 1.0),
        "period": st.floats(0.1, 30.0),
        "spike": st.floats(0.0, 300.0),
        "where": st.floats(0.0, 1.0),
    }
)


@settings(deadline=None)
@given(shape=SHAPED, arrivals=st.sampled_from(["poisson", "uniform"]), seed=st.integers(0, 99))
def test_shaped_times_are_sorted_within_the_phase_and_count_the_integral(
    shape: dict[str, float], arrivals: str, seed: int
) -> None:
    width = shape["duration"] / 4
    phase = {
        "duration": shape["duration"],
        "rate": shape["rate"],
        "ramp_to": shape["ramp_to"],
        "diurnal": {"period": shape["period"], "amplitude": shape["amplitude"]},
        "spike": {"start": shape["where"] * 3 * width, "duration": width, "rate": shape["spike"]},
    }
    config = workload({"duration": 1, "rate": 10}, phase, arrivals=arrivals)
    times = arrival_times(config, Streams(seed))
    assert np.all(np.diff(times) >= 0)
    assert len(times) == 0 or (times[0] >= 0 and times[-1] <= config.load_duration + 1e-9)
    area = 10 + phase_area(config.phases[1])
    if arrivals == "uniform":
        assert len(times) == math.floor(area)
    else:
        assert abs(len(times) - area) < 6 * math.sqrt(area) + 6


@pytest.mark.parametrize(
    ("phase", "message"),
    [
        ({"duration": 10, "rate": 1, "spike": {"start": 8, "duration": 5, "rate": 1}}, "after"),
        ({"duration": 10, "spike": {"start": 0, "duration": 1, "rate": 1}}, "exactly one"),
        ({"duration": 10, "closed": {"users": 2, "think_time": 1}, "ramp_to": 3}, "open phase"),
        ({"duration": 10, "rate": 1, "diurnal": {"period": 5, "amplitude": 1.5}}, "less than"),
        ({"duration": 10, "closed": {"users": 2, "think_time": 0}}, "cannot be zero"),
    ],
)
def test_bad_shapes_are_refused_with_the_reason(phase: dict[str, Any], message: str) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match=message):
        workload(phase)


# -- hotspot keys ------------------------------------------------------------------------------

LOAD = workload({"duration": 50, "rate": 2000})


def test_hotspot_keys_take_their_share_of_the_traffic() -> None:
    spread = {"hotspot": {"share_of_traffic": "90%", "share_of_keys": "10%"}}
    data = DataConfig(owner="orders", keys=500, key_distribution=spread)
    requests = draw_requests(LOAD, data, Streams(5))
    n = len(requests)
    hot = requests.keys < 50
    assert within_binomial(int(hot.sum()), n, 0.9)
    assert requests.keys.min() >= 0 and requests.keys.max() <= 499
    counts = np.bincount(requests.keys, minlength=500)
    assert all(within_binomial(int(c), n, 0.9 / 50) for c in counts[:50])  # even within a set
    assert all(within_binomial(int(c), n, 0.1 / 450) for c in counts[50:])


def test_a_hotspot_of_all_the_traffic_stays_on_its_keys() -> None:
    spread = {"hotspot": {"share_of_traffic": 1, "share_of_keys": 0.02}}
    requests = draw_requests(
        LOAD, DataConfig(owner="o", keys=100, key_distribution=spread), Streams(6)
    )
    assert set(np.unique(requests.keys).tolist()) == {0, 1}


# -- inserts -----------------------------------------------------------------------------------


def test_open_inserts_take_fresh_keys_beyond_the_key_range() -> None:
    mix = {"write": 0.2, "read": 0.5, "insert": 0.3}
    requests = draw_requests(
        workload({"duration": 20, "rate": 500}, mix=mix),
        DataConfig(owner="o", keys=100),
        Streams(7),
    )
    inserted = requests.keys[requests.ops == INSERT]
    assert within_binomial(len(inserted), len(requests), 0.3)
    np.testing.assert_array_equal(inserted, 100 + np.arange(len(inserted)))
    assert requests.keys[requests.ops != INSERT].max() < 100


@pytest.mark.parametrize("model", ["open", "closed"])
def test_inserts_are_new_rows_everywhere(scenario_factory, model: str) -> None:
    phase = (
        {"duration": 10, "rate": 100}
        if model == "open"
        else {"duration": 10, "closed": {"users": 5, "think_time": "20ms"}}
    )
    scenario = scenario_factory(
        workload={"phases": [phase], "mix": {"write": 0.3, "read": 0.4, "insert": 0.3}},
        patterns=[
            {"kind": "shared_db"},
            {"kind": "sync_http", "timeout": "200ms"},
            {"kind": "cdc"},
        ],
    )
    results = api.run(scenario, workers=1)
    requests = results.requests
    inserts = requests[requests["op"] == "insert"]
    assert len(inserts) > 100
    for _pattern, rows in inserts.groupby("pattern"):
        assert rows["key"].is_unique, "an insert never reuses a key"
        assert rows["key"].min() >= 100
        ok = rows[rows["outcome"] == "ok"]
        assert (ok["version"] == 1).all(), "an insert writes the first version of its key"
    others = requests[requests["op"] != "insert"]
    assert others["key"].max() < 100, "reads and updates stay in the key range"
    for pattern in ("shared_db", "sync_http", "cdc"):
        assert results.metric(pattern, "divergent_keys") == 0
        assert results.metric(pattern, "lost_updates") == 0
        assert results.metric(pattern, "never_propagated") == 0


def test_the_report_says_what_each_phase_is(scenario_factory) -> None:
    from sim.report.words import describe_scenario

    scenario = scenario_factory(
        workload={
            "phases": [
                {"duration": 10, "rate": 50, "spike": {"start": 1, "duration": 2, "rate": 200}},
                {"duration": 60, "rate": 50, "diurnal": {"period": 30, "amplitude": 0.4}},
                {"duration": 10, "closed": {"users": 7, "think_time": "250ms"}},
            ],
            "mix": {"write": 0.5, "read": 0.4, "insert": 0.1},
        }
    )
    load = describe_scenario(scenario)[1]
    assert "with a spike of 200/s more for 2s" in load
    assert "swinging 40% over a 30s cycle" in load
    assert "7 closed users thinking 250ms on average" in load
    assert "10% inserts" in load
