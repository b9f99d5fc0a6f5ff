"""The real-system validation cases (validation/real/): their smoke profile runs, each section
is Markdown with its tables, and every smoke case passes by its stated rule."""

from __future__ import annotations

import pytest

from validation.real import kafka, postgres_polling


@pytest.fixture(scope="module")
def polling():
    return postgres_polling.section("smoke", workers=1)


@pytest.fixture(scope="module")
def broker():
    return kafka.section("smoke", workers=1)


def _check_structure(text, cases):
    assert text.startswith("## ")
    assert cases
    for name, passed, note in cases:
        assert isinstance(name, str) and name
        assert isinstance(passed, bool)
        assert isinstance(note, str) and note
    assert len({name for name, _, _ in cases}) == len(cases)


def test_the_polling_section_tables_every_smoke_row_and_passes(polling):
    text, cases = polling
    _check_structure(text, cases)
    rows = [c for c in cases if c[0].startswith("postgres ") and "decoding" not in c[0]]
    assert len(rows) == len(postgres_polling.SMOKE)
    assert "| law | D | mode |" in text
    assert f"{len(rows)} of {len(rows)} points pass" in text
    assert [name for name, passed, _ in cases if not passed] == []


def test_logical_decoding_loses_nothing_on_the_same_streams(polling):
    _, cases = polling
    decoding = [c for c in cases if "logical decoding" in c[0]]
    assert len(decoding) == len({(d, m) for d, m, *_ in postgres_polling.SMOKE})
    assert all(passed and note.startswith("lost 0 of ") for _, passed, note in decoding)


def test_every_measured_point_becomes_a_valid_scenario():
    rows = postgres_polling.grid()
    assert len(rows) == 60
    for row in rows:
        from sim import api

        scenario = api.load(postgres_polling.TEMPLATE, postgres_polling.overrides(row, 1))
        polling = scenario.patterns[0]
        assert polling.poll_interval == pytest.approx(row.poll_ms / 1000)
        assert polling.timestamp_delay == pytest.approx(row.delay_ms / 1000)
        write = scenario.databases.profile("users").write_time
        assert write.mean == pytest.approx((row.mean_ms + postgres_polling.FLOOR_MS) / 1000)


def test_the_rule_is_thirty_percent_or_both_below_a_tenth_of_a_percent():
    assert postgres_polling.passes(0.0129, 0.01)
    assert not postgres_polling.passes(0.0131, 0.01)
    assert postgres_polling.passes(0.0009, 0.0)
    assert not postgres_polling.passes(0.0011, 0.0)


def test_the_kafka_section_compares_latency_and_the_crash_pause(broker):
    text, cases = broker
    _check_structure(text, cases)
    names = [name for name, _, _ in cases]
    assert names == [
        "kafka e2e p50 vs KREPS",
        "kafka e2e p99 vs KREPS",
        "kafka e2e p99.9 vs KREPS",
        "kafka e2e p99 vs CFLT-OMB",
        "kafka consumer crash pause vs session.timeout + rebalance",
    ]
    assert "### The pause after a consumer crash" in text
    assert [name for name, passed, _ in cases if not passed] == []
