"""The scenario contract: defaults, cross-file checks, overrides, the resolved scenario."""

from __future__ import annotations

import json

import pytest
from ruamel.yaml import YAML

from sim.config.distributions import Exponential
from sim.scenario import ScenarioError, parse_scenario, resolved_dict, resolved_yaml

GOOD = """\
name: t
services:
  users: {service_time: 2ms}
  orders: {}
data: {owner: users, replicas: [orders]}
workload:
  phases: [{duration: 1m, rate: 10/s, ramp_to: 20/s}]
patterns: [{kind: shared_db}, {kind: sync_http}]
"""


def _with(change: str) -> str:
    """GOOD with the top-level keys of ``change`` replaced (as JSON, which is YAML)."""
    base = YAML(typ="safe", pure=True).load(GOOD)
    base.update(YAML(typ="safe", pure=True).load(change))
    return json.dumps(base)


def _errors(text: str, overrides=()) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "f.yaml", overrides)
    return [str(issue) for issue in caught.value.issues]


def test_defaults_come_from_the_domain_notes():
    scenario = parse_scenario(GOOD)
    assert scenario.databases.profile("users").pool == 10  # HikariCP maximumPoolSize
    assert scenario.databases.profile("users").connection_timeout == 30.0
    sync = scenario.patterns[1]
    assert sync.retries == 2 and sync.backoff.base == 0.025 and sync.backoff.cap == 0.25
    assert scenario.services["users"].service_time == Exponential(mean=0.002)
    assert scenario.workload.load_duration == 60.0
    assert scenario.workload.phases[0].ramp_to == 20.0


def test_database_overrides_merge_with_the_default():
    text = GOOD + "databases:\n  default: {pool: 4, write_time: 9ms}\n  users: {pool: 20}\n"
    databases = parse_scenario(text).databases
    assert databases.profile("users").pool == 20
    assert databases.profile("users").write_time == Exponential(mean=0.009)
    assert databases.profile("orders").pool == 4


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ("data: {owner: nobody}", "data.owner: must name a service (got 'nobody')"),
        ("data: {owner: users, replicas: [users]}", "the owner cannot also be a replica"),
        (
            "faults: [{kind: crash, target: service:ghost, start: 1s, duration: 1s}]",
            "faults[0].target: no service called 'ghost'",
        ),
        (
            "faults: [{kind: crash, target: link:users->orders, start: 1s, duration: 1s}]",
            "faults[0].target: expected service:X, instance:X/N, db:X",
        ),
        (
            "faults: [{kind: latency, target: link:users->mars, start: 1s, duration: 1s, delay: 1ms}]",
            "unknown link end 'mars'",
        ),
        (
            "faults: [{kind: error, target: instance:users/3, start: 1s, duration: 1s, probability: 5%}]",
            "users has instances 0 to 0",
        ),
        (
            "faults: [{kind: crash, target: pod:users, start: 1s, duration: 1s}]",
            "expected service:X",
        ),
        ("databases: {payments: {pool: 3}}", "must be default, shared or a service name"),
        ("patterns: [{kind: sync_http}, {kind: sync_http}]", "two patterns with the same name"),
        ("workload: {phases: [{duration: 0s, rate: 1/s}]}", "must be positive"),
        ("workload: {phases: [{duration: 1s, rate: fast}]}", "expected a rate"),
        (
            "workload: {phases: [{duration: 1s, rate: 1}], mix: {write: 0.5, read: 0.6}}",
            "must be 1",
        ),
        (
            "services: {users: {service_time: {dist: lognormal, mean: 3ms, p99: 1ms}}}",
            "p99 must be above",
        ),
        ("seed: -1", "must not be negative"),
    ],
)
def test_cross_file_and_value_errors(change, expected):
    errors = _errors(_with(change))
    assert any(expected in error for error in errors), errors


def test_errors_carry_file_line_and_column():
    errors = _errors(
        GOOD + "faults: [{kind: crash, target: service:ghost, start: 1s, duration: 1s}]\n"
    )
    assert errors == [
        "f.yaml:9:32 faults[0].target: no service called 'ghost' (got 'service:ghost')"
    ]


def test_yaml_12_keeps_no_as_a_string_and_017_decimal():
    scenario = parse_scenario(GOOD.replace("name: t", "name: no\nseed: 017"))
    assert scenario.name == "no"
    assert scenario.seed == 17


def test_overrides_are_parsed_as_yaml_and_merged_before_validation():
    scenario = parse_scenario(
        GOOD, overrides=["seed=9", "services.orders.instances=3", "patterns.1.fanout=parallel"]
    )
    assert scenario.seed == 9
    assert scenario.services["orders"].instances == 3
    assert scenario.patterns[1].fanout == "parallel"


def test_bad_override_syntax_is_reported():
    errors = _errors(GOOD, overrides=["no-equals-sign"])
    assert errors == ["--set no-equals-sign: expected key.path=value"]


def test_resolved_scenario_round_trips():
    scenario = parse_scenario(GOOD)
    again = parse_scenario(resolved_yaml(scenario))
    assert resolved_dict(again) == resolved_dict(scenario)
    assert again.patterns == scenario.patterns and again.workload == scenario.workload


def test_unsafe_yaml_tags_are_rejected_not_executed():
    errors = _errors(GOOD.replace("name: t", "name: !!python/object/apply:os.system ['true']"))
    assert errors
