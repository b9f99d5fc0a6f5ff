"""SLOs by phase and slice: the grammar, what the scenario must have for them, the values they
judge (checked against the run's own requests and propagation), margins and the roll-up."""

from __future__ import annotations

import math

import numpy as np
import pytest

from sim import api
from sim.metrics.slo import SloError, parse_slo
from sim.scenario import ScenarioError


@pytest.mark.parametrize(
    ("text", "key", "during", "recovery"),
    [
        ("p99(latency{op:write}) < 250ms", "latency_p99{op:write}", None, 30.0),
        (
            "p99(staleness{copy:billing}) < 5s during fault",
            "staleness_p99{copy:billing}@fault",
            "fault",
            30.0,
        ),
        (
            "error_rate{service:orders, op:read} < 1%",
            "error_rate{service:orders,op:read}",
            None,
            30.0,
        ),
        ("error_rate < 1% during recovery(1m)", "error_rate@recovery(60s)", "recovery", 60.0),
        ("mean(latency) < 1s during peak", "latency_mean@peak", "peak", 30.0),
        ("never_propagated == 0 during steady", "never_propagated@steady", "steady", 30.0),
    ],
)
def test_slices_and_windows_parse(text: str, key: str, during: str | None, recovery: float) -> None:
    slo = parse_slo(text)
    assert slo.key == key
    assert slo.during == during
    assert slo.recovery == recovery


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("lost_updates == 0 during fault", "counts the whole run"),
        ("p99(latency{copy:orders}) < 1s", "copy: slices copies"),
        ("p99(staleness{op:write}) < 1s", "op: slices requests"),
        ("p99(latency{op:upsert}) < 1s", "expected read, write or delete"),
        ("p99(latency{colour:blue}) < 1s", "unknown slice key 'colour'"),
        ("p99(latency) < 1s during fault(5s)", "only 'during recovery' takes a duration"),
    ],
)
def test_bad_slices_and_windows_say_why(text: str, says: str) -> None:
    with pytest.raises(SloError, match=says):
        parse_slo(text)


def test_the_scenario_must_have_what_an_slo_names(scenario_factory) -> None:
    for slo, says in [
        ("p99(staleness{copy:users}) < 1s", "copy:users is not a copy"),
        ("p99(latency{service:nobody}) < 1s", "service:nobody is not a service"),
        ("p99(latency) < 1s during fault", "'during fault' needs faults"),
        ("p99(latency) < 1s during peak", "no window called 'peak'"),
    ]:
        with pytest.raises(ScenarioError, match=says):
            scenario_factory(slo=[slo])
    named = scenario_factory(
        workload={"phases": [{"duration": 10, "rate": 20, "name": "peak"}]},
        slo=["p99(latency) < 1s during peak"],
    )
    assert named.slo[0].during == "peak"
    with pytest.raises(ScenarioError, match="cannot be called 'fault'"):
        scenario_factory(workload={"phases": [{"duration": 10, "rate": 20, "name": "fault"}]})


def test_a_window_judges_the_requests_that_started_in_it(scenario_factory) -> None:
    crash = [{"kind": "crash", "target": "service:billing", "start": 8, "duration": 6}]
    slos = [
        "p99(latency{op:write}) < 1s during fault",
        "error_rate < 50% during steady",
        "throughput > 1/s during recovery(4s)",
        "p99(staleness{copy:billing}) < 10s during fault",
        "mean(latency) < 1s during calm",
    ]
    scenario = scenario_factory(
        warmup=2,
        faults=crash,
        slo=slos,
        workload={
            "phases": [{"duration": 20, "rate": 60}, {"duration": 5, "rate": 20, "name": "calm"}],
            "mix": {"write": 0.5, "read": 0.5},
        },
    )
    results = api.run(scenario, patterns=["sync_http"], workers=1)
    run = results.runs[0]
    requests, pairs = run.requests, run.propagation
    value = {row["slo"]: row["value"] for row in results.verdicts.to_dict("records")}

    writes = requests[(requests["op"] == "write") & (requests["outcome"] == "ok")]
    in_fault = writes[(writes["start"] >= 8) & (writes["start"] < 14)]
    assert value[slos[0]] == pytest.approx(np.percentile(in_fault["latency"], 99))

    measured = requests[requests["start"] >= 2]
    steady = measured[(measured["start"] < 8) | (measured["start"] >= 14 + 30)]
    assert value[slos[1]] == pytest.approx((steady["outcome"] != "ok").mean())

    after = measured[(measured["start"] >= 14) & (measured["start"] < 18)]
    assert value[slos[2]] == pytest.approx((after["outcome"] == "ok").sum() / 4)

    billing = pairs[(pairs["replica"] == "billing") & (pairs["commit_time"] >= 8)]
    billing = billing[billing["commit_time"] < 14]
    delays = np.sort(np.where(np.isnan(billing["delay"]), np.inf, billing["delay"]))
    position = 0.99 * (len(delays) - 1)  # linear interpolation; "never" is infinitely stale
    reaches_never = np.isinf(delays[math.floor(position)]) or np.isinf(delays[math.ceil(position)])
    if reaches_never:
        assert value[slos[3]] == math.inf
    else:
        assert value[slos[3]] == pytest.approx(np.percentile(delays, 99))

    calm = measured[(measured["start"] >= 20) & (measured["outcome"] == "ok")]
    assert value[slos[4]] == pytest.approx(calm["latency"].mean())


def test_margins_are_signed_by_the_verdict_and_the_rollup_names_the_first_failure(
    scenario_factory,
) -> None:
    slos = ["p99(latency) < 1ms", "error_rate < 100%", "throughput > 1000/s"]
    results = api.run(scenario_factory(slo=slos), workers=1)
    verdicts = results.verdicts
    for row in verdicts.to_dict("records"):
        assert (row["margin"] > 0) == bool(row["passed"]) or not math.isfinite(row["margin"])
    p99 = verdicts[(verdicts["pattern"] == "shared_db") & (verdicts["slo"] == slos[0])].iloc[0]
    assert p99["margin"] == pytest.approx(0.001 - p99["value"])
    rollup = results.rollup.set_index("pattern")
    assert rollup.loc["shared_db", "checks"] == 3
    assert rollup.loc["shared_db", "failed"] == 2
    assert rollup.loc["shared_db", "first_failed"] == slos[0]
    assert not rollup.loc["shared_db", "passes"]
