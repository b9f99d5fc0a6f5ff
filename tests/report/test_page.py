"""The HTML page: self-contained, deterministic, in the agreed order, and escaped."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import plotly.offline
import pytest

import sim
from sim.report.page import render_report

EVIL = "<script>alert(1)</script>"
N_FIGURES = 5


def frames(patterns: tuple[str, ...] = ("shared_db", "sync_http"), seed: int = 1) -> dict:
    """Small synthetic inputs with every column the simulator produces."""
    rng = np.random.default_rng(seed)
    n = 3_000
    requests = pd.DataFrame(
        {
            "pattern": rng.choice(patterns, n),
            "replication": rng.integers(0, 2, n),
            "op": rng.choice(["read", "write"], n),
            "key": rng.integers(0, 20, n),
            "service": "orders",
            "start": rng.uniform(30.0, 300.0, n),
            "latency": rng.lognormal(np.log(0.01), 0.5, n),
            "outcome": rng.choice(["ok"] * 18 + ["error", "timeout"], n),
        }
    )
    m = 400
    propagation = pd.DataFrame(
        {
            "pattern": rng.choice(patterns, m),
            "replication": 0,
            "replica": "search",
            "key": rng.integers(0, 20, m),
            "version": 1,
            "commit_time": rng.uniform(30.0, 300.0, m),
            "delay": rng.exponential(0.1, m),
        }
    )
    metrics = {"latency_p99": 0.0451, "error_rate": 0.0123, "throughput": 512.34}
    summary = pd.DataFrame(
        [
            {"pattern": p, "metric": k, "mean": v, "ci_low": v * 0.9, "ci_high": v * 1.1, "n": 2}
            for p in patterns
            for k, v in metrics.items()
        ]
    )
    return {
        "summary": summary,
        "requests": requests,
        "propagation": propagation,
        "fault_windows": pd.DataFrame(
            {
                "kind": ["latency"],
                "target": ["link:orders->billing"],
                "start": [120.0],
                "end": [150.0],
            }
        ),
        "meta": {
            "scenario": "quickstart",
            "seed": 42,
            "replications": 2,
            "patterns": list(patterns),
            "warmup": 30.0,
            "load_end": 300.0,
        },
    }


def summary_rows(rows: list[tuple[str, str, float, float, float, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["pattern", "metric", "mean", "ci_low", "ci_high", "n"])


def without_plotlyjs(page: str) -> str:
    bundle = plotly.offline.get_plotlyjs()
    assert page.count(bundle) == 1
    return page.replace(bundle, "")


@pytest.fixture(scope="module")
def page() -> str:
    return render_report(title="Quickstart run", **frames())


def test_page_is_one_document_with_plotlyjs_inlined_once_and_one_div_per_figure(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    rest = without_plotlyjs(page)
    assert rest.count('class="plotly-graph-div"') == N_FIGURES
    assert rest.count("Plotly.newPlot(") == N_FIGURES
    assert rest.count("<script") == 2 + N_FIGURES  # config, plotly.js, one per figure


def test_page_refers_to_nothing_outside_itself(page: str) -> None:
    rest = without_plotlyjs(page).lower()
    assert "http://" not in rest and "https://" not in rest
    assert "src=" not in rest and "<link" not in rest and "@import" not in rest
    assert "mathjax.js" not in rest
    assert "default-src 'none'" in rest  # and the browser is told to refuse any load


def test_identical_inputs_give_a_byte_identical_page() -> None:
    first = render_report(title="t", **frames())
    second = render_report(title="t", **frames())
    assert first == second
    ids = re.findall(r'<div id="([^"]+)" class="plotly-graph-div"', first)
    assert ids == [
        "fig-latency-cdf",
        "fig-latency-over-time",
        "fig-throughput-errors",
        "fig-outcomes",
        "fig-staleness",
    ]


def test_header_shows_the_run_facts_and_version(page: str) -> None:
    header = page[page.index("<header>") : page.index("</header>")]
    for fact in ("Quickstart run", "quickstart", "42", "shared_db", "sync_http", "load_end"):
        assert fact in header
    assert f"patternsim {sim.__version__}" in header


def test_sections_come_in_order_verdict_summary_then_figures() -> None:
    verdicts = pd.DataFrame(
        {
            "pattern": ["sync_http", "shared_db"],
            "slo": ["p99(latency) < 250ms", "p99(latency) < 250ms"],
            "value": [0.3, 0.05],
            "passed": [False, True],
        }
    )
    page = without_plotlyjs(render_report(title="t", verdicts=verdicts, **frames()))
    positions = [
        page.index(marker)
        for marker in ("<header>", 'id="verdicts"', 'id="summary"', 'id="fig-latency-cdf"')
    ]
    assert positions == sorted(positions)
    verdict = page[page.index('id="verdicts"') : page.index('id="summary"')]
    rows = re.findall(r"<tr><td>(\w+)</td>.*?<td class=\"(pass|fail)\">([✓✗])", verdict)
    assert rows == [("shared_db", "pass", "✓"), ("sync_http", "fail", "✗")]
    assert "1 of 2 SLO checks failed" in verdict


def test_no_verdict_section_without_verdicts(page: str) -> None:
    assert 'id="verdicts"' not in page


def summary_cells(page: str) -> dict[str, list[str]]:
    table = page[page.index('id="summary"') :]
    table = table[: table.index("</table>")]
    return {
        metric: re.findall(r'<td class="num"[^>]*>([^<]*)</td>', row)
        for metric, row in re.findall(r"<tr><th><code>([^<]+)</code></th>(.*?)</tr>", table)
    }


def test_summary_formats_each_metric_with_its_unit_and_ci() -> None:
    summary = summary_rows(
        [
            ("a", "latency_p99", 0.0123, 0.0111, 0.0135, 3),
            ("a", "staleness_max", 2.5, np.nan, np.nan, 1),
            ("a", "error_rate", 0.0012, 0.0010, 0.0014, 3),
            ("a", "throughput", 512.34, 500.1, 524.9, 3),
            ("a", "divergent_keys", 3.0, np.nan, np.nan, 1),
            ("a", "lost_updates", 2.0, 1.6, 2.4, 3),
            ("a", "queue_depth_peak", 12345.678, 12000.0, 12700.0, 3),
            ("b", "latency_p99", 0.250, 0.2, 0.3, 3),
        ]
    )
    page = render_report(title="t", **{**frames(("a", "b")), "summary": summary})
    cells = summary_cells(page)
    assert list(cells) == [  # known metrics in their order, then the unknown one
        "latency_p99",
        "throughput",
        "error_rate",
        "staleness_max",
        "divergent_keys",
        "lost_updates",
        "queue_depth_peak",
    ]
    assert cells["latency_p99"] == ["12.3 [11.1, 13.5] ms", "250 [200, 300] ms"]
    assert cells["staleness_max"] == ["2,500 ms", "—"]  # n == 1: no interval; missing: dash
    assert cells["error_rate"] == ["0.120 [0.100, 0.140] %", "—"]
    assert cells["throughput"] == ["512 [500, 525] /s", "—"]
    assert cells["divergent_keys"] == ["3", "—"]
    assert cells["lost_updates"] == ["2.0 [1.6, 2.4]", "—"]
    assert cells["queue_depth_peak"] == ["12,346 [12,000, 12,700]", "—"]


def test_names_from_user_data_never_reach_the_page_unescaped() -> None:
    inputs = frames(patterns=(EVIL, "sync_http"))
    inputs["meta"] = {**inputs["meta"], "scenario": EVIL, "note": '"><img src=x onerror=alert(2)>'}
    inputs["fault_windows"] = inputs["fault_windows"].assign(target=EVIL, kind="<b>crash</b>")
    verdicts = pd.DataFrame(
        {"pattern": [EVIL], "slo": ["error_rate < 1%"], "value": [EVIL], "passed": [False]}
    )
    page = without_plotlyjs(render_report(title=EVIL, verdicts=verdicts, **inputs))
    assert "alert(1)</script>" not in page and "<script>alert" not in page
    assert "<img" not in page and "<b>crash" not in page
    # plotly's JSON spells "<" as \u003c: legends and labels would still render the tags
    assert "\\u003cscript" not in page and "\\u003cb\\u003ecrash" not in page
    assert page.count("<script") == 2 + N_FIGURES
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;</span>" in page  # pattern chip in the header
