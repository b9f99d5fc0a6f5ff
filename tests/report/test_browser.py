"""The report in a real browser: every figure renders, offline, without a script error.

Debian's chromium is driven through Playwright's Python package (never ``playwright install``).
Without ``/usr/bin/chromium`` the tests are skipped locally but fail under ``CI=true``, so CI
cannot pass by not running them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.report.page import render_report

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
TRICKY = '<b>bold</b> & "quoted"'  # must show as literal text, not as markup
PATTERNS = ("cdc", "shared_db", TRICKY)


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


def report_inputs() -> dict:
    rng = np.random.default_rng(11)
    n = 4_000
    pattern = rng.choice(PATTERNS, n)
    requests = pd.DataFrame(
        {
            "pattern": pattern,
            "replication": rng.integers(0, 2, n),
            "op": rng.choice(["read", "write"], n),
            "key": rng.integers(0, 20, n),
            "service": "orders",
            "start": rng.uniform(30.0, 300.0, n),
            "latency": rng.lognormal(np.log(0.01), 0.5, n),
            "outcome": rng.choice(["ok"] * 18 + ["error", "timeout"], n),
        }
    )
    m = 600
    prop_pattern = rng.choice(PATTERNS, m)
    delay = np.where(prop_pattern == "shared_db", 0.0, rng.exponential(0.2, m))
    delay[rng.random(m) < 0.05] = np.nan
    propagation = pd.DataFrame(
        {
            "pattern": prop_pattern,
            "replication": 0,
            "replica": "search",
            "key": rng.integers(0, 20, m),
            "version": 1,
            "commit_time": rng.uniform(30.0, 300.0, m),
            "delay": delay,
        }
    )
    summary = pd.DataFrame(
        [
            {"pattern": p, "metric": "latency_p99", "mean": 0.03, "ci_low": 0.02, "ci_high": 0.04}
            | {"n": 2}
            for p in PATTERNS
        ]
    )
    verdicts = pd.DataFrame(
        {"pattern": list(PATTERNS), "slo": "error_rate < 1%", "value": 0.1, "passed": False}
    )
    return {
        "title": f"Browser check {TRICKY}",
        "summary": summary,
        "requests": requests,
        "propagation": propagation,
        "fault_windows": pd.DataFrame(
            {"kind": ["crash"], "target": [f"db:{TRICKY}"], "start": [100.0], "end": [140.0]}
        ),
        "meta": {"scenario": TRICKY, "seed": 1, "replications": 2, "patterns": list(PATTERNS)},
        "verdicts": verdicts,
    }


@dataclass
class Visit:
    """What the browser saw while loading the report."""

    html: str
    legend_texts: list[str]
    plot_count: int
    problems: list[str] = field(default_factory=list)
    blocked: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def visit(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Visit]:
    _require_browser()
    from playwright.sync_api import ConsoleMessage, Dialog, Route, sync_playwright

    html = render_report(**report_inputs())
    path = tmp_path_factory.mktemp("report") / "report.html"
    path.write_text(html, encoding="utf-8")
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

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", on_console)
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("dialog", on_dialog)
            page.route("**/*", guard)
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_selector(".js-plotly-plot .main-svg")
            page.wait_for_function(
                "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n",
                arg=html.count('class="plotly-graph-div"'),
            )
            yield Visit(
                html=html,
                legend_texts=page.locator(".legendtext").all_text_contents(),
                plot_count=page.locator(".js-plotly-plot").count(),
                problems=problems,
                blocked=blocked,
            )
        finally:
            browser.close()


def test_page_loads_without_console_or_script_errors(visit: Visit) -> None:
    assert visit.problems == []


def test_page_makes_no_request_outside_the_file(visit: Visit) -> None:
    assert visit.blocked == []


def test_every_figure_is_rendered(visit: Visit) -> None:
    assert visit.plot_count == visit.html.count('class="plotly-graph-div"') == 5


def test_user_names_show_as_literal_text_in_legends(visit: Visit) -> None:
    assert any(text.startswith(TRICKY) for text in visit.legend_texts)
    assert all("&lt;" not in text and "&amp;" not in text for text in visit.legend_texts)
