"""The validation suite's smoke profile: the page is built for the smoke subset of cases, has
its structure (summary, run lengths, one section per case with its scenario file and table) and
no check fails; a model feature or metric that is missing gives a pending row, a real-system
module that is missing a "not yet available" section, and the same command writes the same
page."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim import api
from validation.cases import SCENARIOS, Case, Check, Feature, Length
from validation.catalog import CASES
from validation.page import build

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def smoke():
    return build("smoke", workers=1, real=())


def test_smoke_page_has_every_smoke_case_and_none_fails(smoke):
    text = smoke.markdown
    assert text.startswith("# Validation")
    assert "## Summary" in text and "## Run lengths" in text
    chosen = [case for case in CASES if "smoke" in case.lengths]
    assert [outcome.case.slug for outcome in smoke.outcomes] == [case.slug for case in chosen]
    for case in chosen:
        assert f"## {case.title}" in text
        assert f"(../validation/scenarios/{case.scenario})" in text
        assert (SCENARIOS / case.scenario).is_file()
        assert (ROOT / "docs" / "../validation/scenarios" / case.scenario).resolve().is_file()
    passed, failed, pending = smoke.counts
    assert failed == 0, [r for o in smoke.outcomes for r in o.rows if r.passed is False]
    assert passed >= 10
    assert f"**{passed} checks pass, 0 fail, {pending} pending**" in text


def test_every_checked_row_has_figures_and_every_pending_row_says_what_it_needs(smoke):
    rows = [row for outcome in smoke.outcomes for row in outcome.rows]
    for row in rows:
        if row.passed is None:
            assert row.note and row.simulated is None
        else:
            assert row.simulated is not None and row.low is not None and row.high is not None
            assert row.low <= row.simulated <= row.high
    table_rows = [line for line in smoke.markdown.splitlines() if line.startswith("| ")]
    checks = [line for line in table_rows if line.endswith(("✓ pass |", "✗ FAIL |"))]
    waiting = [line for line in table_rows if "| pending: needs " in line]
    assert len(checks) == sum(1 for row in rows if row.passed is not None)
    assert len(waiting) == sum(1 for row in rows if row.passed is None)
    header = "| quantity | analytic | simulated | 95 % interval | rel. error | rule | result |"
    for line in checks + waiting:
        assert line.count(" | ") == header.count(" | "), line


def test_a_missing_feature_or_metric_is_pending_not_a_crash(tmp_path):
    mm1 = (SCENARIOS / "md1.yaml").read_text(encoding="utf-8")
    future = tmp_path / "future.yaml"
    future.write_text(mm1.replace("  station: {", "  station: {future_key: 1, "), encoding="utf-8")
    now = tmp_path / "now.yaml"
    now.write_text(mm1, encoding="utf-8")
    check = Check("W", 1.75, "latency_mean", unit="s")
    lacking = Check("L", 1.05, "no_such_metric")
    cases = (
        Case(
            "future",
            "Future",
            "needs a key",
            str(future),
            0.6,
            {"smoke": Length(2, 500)},
            (check,),
            feature=Feature("future_key", "a future feature"),
        ),
        Case(
            "lacking",
            "Lacking",
            "needs a metric",
            str(now),
            0.6,
            {"smoke": Length(2, 500)},
            (lacking,),
            probe=True,
        ),
    )
    page = build("smoke", workers=1, cases=cases, real=("validation.real.not_there",))
    assert page.counts == (0, 0, 2)
    assert "pending: needs a future feature: the scenario key `future_key`" in page.markdown
    assert "pending: needs the metric `no_such_metric`" in page.markdown
    assert "## Real system: not there" in page.markdown
    assert "Not yet available: `validation.real.not_there`" in page.markdown


def test_the_same_command_writes_the_same_page():
    case = next(case for case in CASES if case.slug == "md1")
    first = build("smoke", workers=1, cases=(case,), real=()).markdown
    second = build("smoke", workers=2, cases=(case,), real=()).markdown
    assert first == second
    assert not re.search(r"\d\d:\d\d:\d\d", first), "no time of day in the page"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.slug)
def test_every_case_scenario_is_valid_or_refused_only_for_its_missing_feature(case):
    for profile, length in case.lengths.items():
        assert length.replications >= 2 and length.requests > 0, profile
    try:
        scenario = api.load(case.path, case.overrides(case.lengths["default"]))
    except api.ScenarioError as error:
        assert case.feature is not None and case.feature.refused(error), str(error)
        return
    assert scenario.replications == case.lengths["default"].replications
    assert api.budget(scenario).errors == []
