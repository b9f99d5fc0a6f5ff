"""The HTML page: decision first, self-contained, deterministic, escaped, and re-renderable
from its run folder."""

from __future__ import annotations

import html
import re
from pathlib import Path

import plotly.offline
import pytest

import sim
from sim import api
from sim.report.page import render_report
from sim.report.view import report_view
from sim.results import Results
from tests.report.small_run import TRICKY


@pytest.fixture(scope="module")
def page(small_results: Results) -> str:
    return render_report(small_results)


def without_plotlyjs(page: str) -> str:
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


def test_page_is_one_document_with_plotlyjs_inlined_once(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<html") == 1 and page.rstrip().endswith("</html>")
    body = without_plotlyjs(page)
    assert body.count('class="plotly-graph-div"') >= 8


def test_page_refers_to_nothing_outside_itself(page: str) -> None:
    body = without_plotlyjs(page)
    assert not re.search(r"""(src|href)=["']?https?:""", body)
    assert "default-src 'none'" in html.unescape(body)


def test_identical_results_give_a_byte_identical_page(small_results: Results) -> None:
    assert render_report(small_results) == render_report(small_results)


def test_the_decision_comes_first_then_the_trade_off_summary_and_figures(page: str) -> None:
    body = without_plotlyjs(page)
    order = [
        body.index('id="question"'),
        body.index('id="decision"'),
        body.index('id="slo-grid"'),
        body.index('id="tradeoff"'),
        body.index('id="summary"'),
        body.index('id="staleness-over-time"'),
        body.index('id="latency-cdf"'),
        body.index('id="outcomes"'),
    ]
    assert order == sorted(order)


def test_grid_has_a_row_per_pattern_with_a_roll_up_and_margins(small_results: Results) -> None:
    view = report_view(small_results)
    assert [row.name for row in view.grid] == ["sync_http", "cdc"]
    assert view.slos == ["p99(latency) < 50ms", "p99(staleness) < 100ms"]
    for row, rolled in zip(view.grid, small_results.rollup.to_dict("records"), strict=True):
        assert row.passes == bool(rolled["passes"])
        assert row.verdict.startswith("passes all" if row.passes else "fails")
        assert all(cell.interval.startswith(("room ", "misses by ")) for cell in row.cells)
        if not row.passes:
            assert row.why.startswith(str(rolled["first_failed"]))


def test_ranking_margin_and_what_would_change_it_are_shown(small_results: Results) -> None:
    (decision,) = report_view(small_results).decisions
    assert decision.winner == small_results.decisions[0].winner
    assert decision.margin.startswith("margin ")
    assert decision.changes


def test_fewer_than_five_replications_warn(small_results: Results) -> None:
    view = report_view(small_results)
    assert view.few
    assert any("Only 3 replications" in w for w in view.warnings)


def test_no_interval_below_zero_for_a_non_negative_metric(small_results: Results) -> None:
    view = report_view(small_results)
    for row in view.table:
        for cell in row.cells:
            assert not re.search(r"\[-", cell.interval), (row.metric, cell.interval)


def test_values_are_in_human_units(small_results: Results) -> None:
    cells = {row.metric: row.cells[0].text for row in report_view(small_results).table}
    assert cells["latency_p99"].endswith(" ms")
    assert cells["error_rate"].endswith("%")
    assert cells["throughput"].endswith("/s")
    facts = dict(report_view(small_results).facts)
    assert facts["warm-up"] == "2s" and facts["load ends"] == "20s"


def test_names_from_user_data_never_reach_the_page_unescaped(page: str) -> None:
    body = without_plotlyjs(page)
    assert TRICKY not in body
    assert "<script>alert(1)" not in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body


def test_generator_version_is_on_the_page(page: str) -> None:
    assert f"patternsim {sim.__version__}" in page


def test_report_command_reproduces_the_page_run_wrote(
    tmp_path: Path, small_results: Results
) -> None:
    folder = tmp_path / "run"
    results = api.run(small_results.scenario, workers=1, out=folder)
    api.write(results, folder)
    written = (folder / "report.html").read_bytes()
    (folder / "report.html").unlink()
    api.report(folder)
    assert (folder / "report.html").read_bytes() == written


def test_directory_mode_puts_plotly_beside_a_page_under_one_megabyte(
    tmp_path: Path, small_results: Results
) -> None:
    folder = tmp_path / "run"
    results = api.run(small_results.scenario, workers=1, out=folder)
    api.write(results, folder, plotlyjs="directory")
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert '<script src="plotly.min.js"></script>' in page
    assert plotly.offline.get_plotlyjs() not in page
    assert (folder / "plotly.min.js").read_text(encoding="utf-8") == plotly.offline.get_plotlyjs()
    assert len(page.encode("utf-8")) < 1_000_000


def test_an_unknown_plotlyjs_mode_is_refused(small_results: Results) -> None:
    with pytest.raises(ValueError, match="plotlyjs must be one of"):
        render_report(small_results, plotlyjs="somewhere")
