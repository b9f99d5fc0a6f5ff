"""The report in a real browser: decision first, every figure drawn, offline, no script error.

Debian's chromium is driven through Playwright's Python package (never ``playwright install``).
Without ``/usr/bin/chromium`` the tests are skipped locally but fail under ``CI=true``, so CI
cannot pass by not running them. Screenshots go to ``reports/browser/`` (or
``$PATTERNSIM_ARTIFACTS``), kept as CI artefacts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sim import api
from sim.report.page import render_report
from sim.results import Results
from tests.report.small_run import TRICKY

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1400, "height": 900}


def _require_browser() -> None:
    missing = None
    if not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            missing = "the playwright Python package is not installed"
    if missing is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI must run the browser test, but {missing}")
    pytest.skip(missing)


def artefacts() -> Path:
    folder = Path(os.environ.get("PATTERNSIM_ARTIFACTS", ROOT / "reports" / "browser"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass
class Visit:
    """What the browser saw while loading a report."""

    html: str
    legend_texts: list[str]
    plots: list[int]
    """Traces drawn in each figure, in page order."""
    boxes: dict[str, dict[str, float]]
    first_section: str
    question_text: str
    problems: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


def visit(path: Path, screenshot: Path | None = None) -> Visit:
    from playwright.sync_api import ConsoleMessage, Dialog, Route, sync_playwright

    problems: list[str] = []
    blocked: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type in ("error", "assert"):
            problems.append(f"console {message.type}: {message.text}")

    def on_dialog(dialog: Dialog) -> None:  # an injected alert() would land here
        problems.append(f"dialog: {dialog.message}")
        dialog.dismiss()

    def guard(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            blocked.append(url)
            route.abort()

    html = path.read_text(encoding="utf-8")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("dialog", on_dialog)
            page.route("**/*", guard)
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=html.count('class="plotly-graph-div"'),
            )
            if screenshot is not None:
                page.screenshot(path=str(screenshot))
            boxes = {
                name: page.locator(selector).bounding_box() or {}
                for name, selector in (
                    ("question", "#question"),
                    ("grid", "#slo-grid"),
                    ("last_row", "#slo-grid tbody tr:last-child"),
                    ("decision", "#decision"),
                )
                if page.locator(selector).count()
            }
            return Visit(
                html=html,
                legend_texts=page.locator(".legendtext").all_text_contents(),
                plots=page.evaluate(
                    "[...document.querySelectorAll('.js-plotly-plot')].map(d => d.data.length)"
                ),
                boxes=boxes,
                first_section=page.evaluate("document.querySelector('main section').id"),
                question_text=page.locator("#question").inner_text(),
                problems=problems,
                blocked=blocked,
            )
        finally:
            browser.close()


@pytest.fixture(scope="module")
def small_visit(
    small_results: Results, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Visit]:
    _require_browser()
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(render_report(small_results), encoding="utf-8")
    yield visit(path, artefacts() / "small-report.png")


def test_page_loads_without_console_or_script_errors(small_visit: Visit) -> None:
    assert small_visit.problems == []


def test_page_makes_no_request_outside_the_file(small_visit: Visit) -> None:
    assert small_visit.blocked == []


def test_every_figure_is_rendered_with_at_least_one_trace(small_visit: Visit) -> None:
    assert len(small_visit.plots) == small_visit.html.count('class="plotly-graph-div"') >= 8
    assert all(count >= 1 for count in small_visit.plots)


def test_the_decision_block_comes_first(small_visit: Visit) -> None:
    assert small_visit.first_section == "decision"


def test_user_text_shows_as_literal_text(small_visit: Visit) -> None:
    assert small_visit.question_text == TRICKY
    assert all("&lt;" not in text and "&amp;" not in text for text in small_visit.legend_texts)


@pytest.fixture(scope="module")
def all_patterns_visit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visit]:
    _require_browser()
    scenario = api.load(ROOT / "scenarios" / "all-patterns.yaml", ["replications=1"])
    folder = tmp_path_factory.mktemp("all-patterns")
    api.write(api.run(scenario, out=folder), folder)
    yield visit(folder / "report.html", artefacts() / "all-patterns-first-screen.png")


def test_all_patterns_first_screen_shows_question_grid_and_roll_up(
    all_patterns_visit: Visit,
) -> None:
    boxes = all_patterns_visit.boxes
    assert boxes["question"]["y"] < boxes["grid"]["y"]
    bottom = boxes["last_row"]["y"] + boxes["last_row"]["height"]
    assert bottom <= VIEWPORT["height"], f"the grid ends at {bottom}px, below the first screen"
    assert all_patterns_visit.html.count('class="verdict ') == 8  # a roll-up per pattern
    assert all_patterns_visit.problems == [] and all_patterns_visit.blocked == []


def test_directory_mode_loads_plotly_from_beside_the_page(
    small_results: Results, tmp_path: Path
) -> None:
    _require_browser()
    from sim.report.page import plotly_js

    (tmp_path / "plotly.min.js").write_text(plotly_js(), encoding="utf-8")
    path = tmp_path / "report.html"
    path.write_text(render_report(small_results, plotlyjs="directory"), encoding="utf-8")
    seen = visit(path)
    assert seen.problems == [] and seen.blocked == []
    assert all(count >= 1 for count in seen.plots)
