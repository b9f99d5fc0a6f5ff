"""Decisions: the ranking on weighted criteria, SLOs as constraints, the paired margin, the
weight change that flips the winner, and the decision record."""

from __future__ import annotations

import math

import pytest

from sim import api
from sim.metrics.decision import Criterion, decide

TRADE_OFF = [Criterion("latency_p99", "lower", 2.0), Criterion("staleness_p99", "lower", 1.0)]
MEANS = {
    ("fast", "latency_p99"): 0.010,
    ("fast", "staleness_p99"): 2.0,
    ("fresh", "latency_p99"): 0.050,
    ("fresh", "staleness_p99"): 0.1,
}


def _per(means: dict, noise: float = 0.0) -> dict:
    return {k: {r: v * (1 + noise * (r - 1)) for r in range(3)} for k, v in means.items()}


def test_the_weighted_best_wins_and_the_flip_weight_is_where_the_scores_tie() -> None:
    choice = decide(["fast", "fresh"], TRADE_OFF, MEANS, _per(MEANS, 0.01), {})
    assert choice.winner == "fast"
    ranking = choice.ranking.set_index("pattern")
    # scored against the worst: fast avoids 80 % of fresh's latency, fresh 95 % of fast's
    # staleness
    assert ranking.loc["fast", "score:latency_p99"] == pytest.approx(0.8)
    assert ranking.loc["fresh", "score:staleness_p99"] == pytest.approx(0.95)
    assert ranking.loc["fast", "score"] == pytest.approx(2 * 0.8 / 3)
    assert ranking.loc["fresh", "score"] == pytest.approx(0.95 / 3)
    flips = choice.sensitivity.set_index("metric")
    # the lead is 2*0.8 - 1*0.95 = 0.65: latency's weight down by 0.65/0.8, or staleness' up
    # by 0.65/0.95, ties them
    assert flips.loc["latency_p99", "flip_weight"] == pytest.approx(2 - 0.65 / 0.8)
    assert flips.loc["staleness_p99", "flip_weight"] == pytest.approx(1 + 0.65 / 0.95)
    assert set(flips["new_winner"]) == {"fresh"}
    winner, runner, diff, low, high, n = choice.margin
    assert (winner, runner, n) == ("fast", "fresh", 3)
    assert low < diff < high and diff == pytest.approx((1.6 - 0.95) / 3, abs=0.05)


def test_a_pattern_that_fails_an_slo_ranks_after_those_that_pass() -> None:
    choice = decide(
        ["fast", "fresh"], TRADE_OFF, MEANS, _per(MEANS), {"fast": False, "fresh": True}
    )
    assert list(choice.ranking["pattern"]) == ["fresh", "fast"]
    assert choice.sensitivity["new_winner"].eq("").all()  # only fresh meets the constraints


def test_never_scores_as_the_worst() -> None:
    means = dict(MEANS) | {("fresh", "staleness_p99"): math.inf}
    choice = decide(["fast", "fresh"], TRADE_OFF, means, _per(means), {})
    ranking = choice.ranking.set_index("pattern")
    assert ranking.loc["fresh", "score:staleness_p99"] == 0.0
    assert ranking.loc["fast", "score:staleness_p99"] == 0.0  # the worst finite one, too
    assert choice.winner == "fast"


RECORD = """
name: choose
seed: 8
warmup: 5s
drain: {{until: quiet, max: 1m}}
replications: 4
services:
  users:   {{instances: 1, concurrency: 8, service_time: 1ms}}
  orders:  {{instances: 1, concurrency: 2, service_time: 4ms}}
data: {{owner: users, replicas: [orders], keys: 500}}
workload:
  phases: [{{duration: 30s, rate: 80/s}}]
  mix: {{write: 0.6, read: 0.4}}
slo: ["error_rate < 5%"]
patterns:
  - {{kind: sync_http, timeout: 1s}}
  - {{kind: cdc}}
decision:
  question: "{question}"
  criteria:
    - {{metric: p99(latency{{op:write}}), weight: 1}}
    - {{metric: p99(staleness), weight: 1}}
"""


def test_the_decision_record_names_the_winner_the_margin_and_the_flip(tmp_path) -> None:
    question = "Calls | or a log <script>alert(1)</script>?"
    with pytest.raises(api.ScenarioError, match="criterion"):
        api.parse(
            RECORD.format(question=question).replace("p99(latency{op:write})", "p99(staleness)")
        )
    scenario = api.parse(
        RECORD.format(question=question).replace("p99(latency{op:write})", "p99(latency)")
    )
    results = api.run(scenario, workers=1)
    choice = results.decisions[0]
    record = (api.write(results, tmp_path / "run") / "decision.md").read_text()
    winner, runner, diff, low, high, _ = choice.margin
    assert {winner, runner} == {"sync_http", "cdc"}
    assert record.startswith("# Calls \\| or a log \\<script\\>alert(1)\\</script\\>?")
    assert "<script>" not in record
    assert f"Chosen: **{winner}**" in record
    assert f"the runner-up **{runner}**" in record
    assert f"The margin is {diff:.3f} [{low:.3f}, {high:.3f}]" in record
    flips = choice.sensitivity.dropna(subset=["flip_weight"])
    assert len(flips)  # a trade-off: latency against staleness
    row = flips.iloc[0]
    assert (
        f"The weight of `{row['metric']}` from {row['weight']:g} to {row['flip_weight']:.3g} "
        f"would make `{row['new_winner']}` tie" in record
    )
    for heading in (
        "## Context",
        "## Considered options",
        "## Decision",
        "## Consequences",
        "## What would change it",
    ):
        assert heading in record
