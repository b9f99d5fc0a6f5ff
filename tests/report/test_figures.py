"""Figures are pure functions of the frames: right numbers, right units, escaped names."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import pytest

from sim.report import figures, freshness, panels, style

REQUEST_COLUMNS = ["pattern", "replication", "op", "key", "service", "start", "latency", "outcome"]
EVIL = "<script>alert(1)</script>"


def requests_frame(rows: list[tuple[str, int, float, float, str]]) -> pd.DataFrame:
    """Requests from (pattern, replication, start, latency, outcome) tuples."""
    frame = pd.DataFrame(rows, columns=["pattern", "replication", "start", "latency", "outcome"])
    frame["op"] = "read"
    frame["key"] = 1
    frame["service"] = "orders"
    return frame[REQUEST_COLUMNS]


def random_requests(n: int, patterns: tuple[str, ...], seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "pattern": rng.choice(patterns, n),
            "replication": rng.integers(0, 3, n),
            "op": rng.choice(["read", "write"], n),
            "key": rng.integers(0, 50, n),
            "service": "orders",
            "start": rng.uniform(0.0, 100.0, n),
            "latency": rng.lognormal(np.log(0.01), 0.6, n),
            "outcome": rng.choice(["ok", "ok", "ok", "error", "timeout"], n),
        }
    )


def propagation_frame(rows: list[tuple[str, float]]) -> pd.DataFrame:
    """Propagation rows from (pattern, delay) pairs."""
    frame = pd.DataFrame(rows, columns=["pattern", "delay"])
    frame["replication"] = 0
    frame["replica"] = "search"
    frame["key"] = np.arange(len(frame))
    frame["version"] = 1
    frame["commit_time"] = 10.0
    return frame[["pattern", "replication", "replica", "key", "version", "commit_time", "delay"]]


NO_FAULTS = pd.DataFrame(columns=["kind", "target", "start", "end"])


def strings_in(node: object) -> Iterator[str]:
    """Every string anywhere in a decoded JSON document."""
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from strings_in(value)
    elif isinstance(node, list):
        for value in node:
            yield from strings_in(value)


def traces_named(fig: go.Figure, prefix: str) -> list[go.Scatter]:
    return [t for t in fig.data if t.name and t.name.startswith(prefix)]


def test_colours_follow_the_kind_not_the_order_or_the_name() -> None:
    one = style.looks_for([("sync_http", "sync_http"), ("cdc", "cdc")])
    other = style.looks_for([("fast", "cdc"), ("shared_db", "shared_db"), ("x", "sync_http")])
    assert one["cdc"].color == other["fast"].color == style.KIND_COLORS["cdc"]
    assert one["sync_http"].color == other["x"].color == style.KIND_COLORS["sync_http"]
    assert list(one) == ["sync_http", "cdc"]  # the order written


def test_variants_of_one_kind_get_shades_of_its_colour_and_other_dashes() -> None:
    looks = style.looks_for(
        [("poll_1s", "polling"), ("poll_5s", "polling"), ("poll_30s", "polling")]
    )
    colors = [look.color for look in looks.values()]
    assert colors[0] == style.KIND_COLORS["polling"] and len(set(colors)) == 3
    assert len({look.dash for look in looks.values()}) == 3


def test_palette_has_no_faint_yellow_and_outcome_greys_are_no_pattern_colour() -> None:
    assert "#F0E442" not in style.KIND_COLORS.values()
    assert not set(style.OUTCOME_COLORS.values()) & set(style.KIND_COLORS.values())


def test_a_pattern_keeps_its_colour_in_every_figure_even_when_missing_from_a_frame() -> None:
    looks = style.looks_for([("a_db", "shared_db"), ("b_http", "sync_http"), ("c_cdc", "cdc")])
    requests = random_requests(600, ("b_http", "c_cdc"))  # no a_db requests at all
    propagation = propagation_frame([("c_cdc", 0.2), ("c_cdc", 0.4)])
    figs = [
        figures.latency_cdf(requests, looks=looks),
        figures.latency_over_time(requests, NO_FAULTS, looks=looks),
        figures.throughput_errors(requests, looks=looks),
        freshness.staleness_distribution(propagation, looks=looks),
    ]
    for fig in figs:
        for trace in fig.data:
            if (
                trace.meta in ("b_http", "c_cdc")
                and trace.line.color not in style.OUTCOME_COLORS.values()
            ):
                assert trace.line.color == looks[trace.meta].color


def test_log_ticks_are_1_2_5_per_decade_in_human_units() -> None:
    ticks, text = style.log_ticks([0.004, 0.9])
    assert text == [
        "1 ms",
        "2 ms",
        "5 ms",
        "10 ms",
        "20 ms",
        "50 ms",
        "100 ms",
        "200 ms",
        "500 ms",
        "1 s",
    ]
    assert ticks == sorted(ticks)
    assert style.log_ticks([]) == ([], [])
    assert style.seconds_text(51.985) == "52 s" and style.seconds_text(300) == "5 min"


def test_latency_cdf_is_the_exact_ecdf_of_successful_requests() -> None:
    requests = requests_frame(
        [
            ("p", 0, 1.0, 0.004, "ok"),
            ("p", 0, 2.0, 0.001, "ok"),
            ("p", 0, 3.0, 0.003, "ok"),
            ("p", 0, 4.0, 0.002, "ok"),
            ("p", 0, 5.0, 9.0, "timeout"),
            ("p", 0, 6.0, 5.0, "error"),
        ]
    )
    fig = figures.latency_cdf(requests)
    (trace,) = fig.data
    np.testing.assert_allclose(trace.x, [0.001, 0.002, 0.003, 0.004])
    np.testing.assert_allclose(trace.y, [0.25, 0.5, 0.75, 1.0])
    assert fig.layout.xaxis.type == "log"


def test_latency_cdf_is_thinned_to_at_most_max_points_keeping_both_ends() -> None:
    requests = random_requests(30_000, ("p",))
    ok = requests.loc[requests["outcome"] == "ok", "latency"]
    (trace,) = figures.latency_cdf(requests).data
    assert len(trace.x) <= figures.MAX_CURVE_POINTS
    assert trace.x[0] == pytest.approx(ok.min())
    assert trace.x[-1] == pytest.approx(ok.max())
    assert trace.y[-1] == pytest.approx(1.0)
    assert np.all(np.diff(trace.x) >= 0) and np.all(np.diff(trace.y) > 0)


@pytest.mark.parametrize("span", [0.5, 7.0, 60.0, 99.0, 270.0, 3600.0, 86_400.0, 12_345.6])
def test_auto_bin_is_a_round_width_giving_60_to_120_bins(span: float) -> None:
    width = panels.auto_bin_seconds(span)
    assert 60 <= span / width <= 120
    mantissa = width / 10 ** math.floor(math.log10(width))
    assert round(mantissa, 9) in (1.0, 2.0, 2.5, 5.0)


def test_latency_over_time_gives_p50_and_p99_per_bin_with_gaps_where_nothing_succeeded() -> None:
    rows = [("p", 0, float(t) + 0.5, 0.010, "ok") for t in range(10)]
    rows += [("p", 0, float(t) + 0.5, 0.200, "ok") for t in range(20, 30)]
    rows += [("p", 0, float(t) + 0.5, 1.0, "timeout") for t in range(10, 20)]
    fig = figures.latency_over_time(requests_frame(rows), NO_FAULTS, bin_seconds=10.0)
    p50, p99 = traces_named(fig, "p50")[0], traces_named(fig, "p99")[0]
    np.testing.assert_allclose(p50.x, [5.0, 15.0, 25.0])
    np.testing.assert_allclose(p50.y, [0.010, np.nan, 0.200])
    np.testing.assert_allclose(p99.y, [0.010, np.nan, 0.200])
    assert p50.line.dash == "solid" and p99.line.dash == "dash"


def test_fault_windows_are_shaded_and_labelled_with_kind_and_escaped_target() -> None:
    requests = random_requests(2_000, ("p",))
    faults = pd.DataFrame(
        {
            "kind": ["latency", "crash"],
            "target": ["link:a->b", EVIL],
            "start": [20.0, 50.0],
            "end": [30.0, np.nan],  # an open-ended fault runs to the end of the data
        }
    )
    fig = figures.latency_over_time(requests, faults)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(r.x0, r.x1) for r in rects] == [
        (20.0, 30.0),
        (50.0, pytest.approx(requests["start"].max())),
    ]
    labels = [a.text for a in fig.layout.annotations]
    assert "latency link:a-&gt;b" in labels
    assert "crash &lt;script&gt;alert(1)&lt;/script&gt;" in labels


def test_each_window_of_a_recurring_fault_is_shaded_and_the_fault_labelled_once() -> None:
    requests = random_requests(2_000, ("p",))
    starts = [10.0, 40.0, 70.0]
    faults = pd.DataFrame(
        {
            "kind": ["crash"] * 3,
            "target": ["service:a"] * 3,
            "start": starts,
            "end": [s + 5.0 for s in starts],
        }
    )
    fig = figures.latency_over_time(requests, faults)
    rects = [(s.x0, s.x1) for s in fig.layout.shapes if s.type == "rect"]
    assert rects == [(10.0, 15.0), (40.0, 45.0), (70.0, 75.0)]
    assert [a.text for a in fig.layout.annotations].count("crash service:a") == 1


def test_throughput_is_per_second_per_run_and_empty_bins_are_zero() -> None:
    # Two replications, each with 4 ok completions per second during [0, 10) and [20, 30),
    # nothing in [10, 20), and one error per second during [20, 30).
    rows = [
        (rep, t + k / 4, "ok")
        for rep in (0, 1)
        for t in [*range(10), *range(20, 30)]
        for k in range(4)
    ]
    rows += [(rep, t + 0.5, "error") for rep in (0, 1) for t in range(20, 30)]
    requests = requests_frame([("p", rep, start, 0.0, outcome) for rep, start, outcome in rows])
    fig = figures.throughput_errors(requests, bin_seconds=5.0)
    ok, failed = fig.data
    np.testing.assert_allclose(ok.x, [2.5, 7.5, 12.5, 17.5, 22.5, 27.5])
    np.testing.assert_allclose(ok.y, [4, 4, 0, 0, 4, 4])
    np.testing.assert_allclose(failed.y, [0, 0, 0, 0, 1, 1])
    assert failed.line.color == style.OUTCOME_COLORS["error"]


def test_staleness_curve_counts_zero_delays_and_never_propagated_copies() -> None:
    rows = [("cdc", 0.0), ("cdc", 0.010), ("cdc", 0.020), ("cdc", np.nan)]
    rows += [("shared_db", 0.0)] * 5
    fig = freshness.staleness_distribution(propagation_frame(rows))
    (cdc,) = traces_named(fig, "cdc")
    assert cdc.name == "cdc (25.00% never propagated)"
    np.testing.assert_allclose(cdc.x, [0.010, 0.020])
    np.testing.assert_allclose(cdc.y, [0.5, 0.75])  # 1 zero delay lifts the start; ends < 1
    (shared,) = traces_named(fig, "shared_db")
    assert shared.name == "shared_db (0.00% never propagated)"  # still in the legend
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "shared_db: every copy current at commit (delay 0)" in notes
    assert fig.layout.xaxis.type == "log"


def test_staleness_notes_patterns_without_any_replicated_copy() -> None:
    fig = freshness.staleness_distribution(
        propagation_frame([("cdc", 0.1)]),
        looks=style.looks_for([("cdc", "cdc"), ("sync_http", "sync_http")]),
    )
    notes = " ".join(a.text for a in fig.layout.annotations)
    assert "sync_http: no replicated copies" in notes


def test_outcomes_bar_shows_error_and_timeout_shares_per_pattern() -> None:
    rows = [("a", 0, 0.0, 0.01, "ok")] * 8 + [("a", 0, 0.0, 0.01, "error")] * 2
    rows += [("b", 0, 0.0, 0.01, "ok")] * 3 + [("b", 0, 0.0, 1.0, "timeout")]
    error, timeout = figures.outcomes_bar(requests_frame(rows)).data
    assert list(error.x) == ["a", "b"]
    np.testing.assert_allclose(error.y, [0.2, 0.0])
    np.testing.assert_allclose(timeout.y, [0.0, 0.25])


def test_user_names_are_escaped_wherever_plotly_would_render_them() -> None:
    requests = random_requests(500, (EVIL, "ok_pattern"))
    propagation = propagation_frame([(EVIL, 0.1), (EVIL, 0.0)])
    figs = [
        figures.latency_cdf(requests),
        figures.latency_over_time(requests, NO_FAULTS),
        figures.throughput_errors(requests),
        figures.outcomes_bar(requests),
        freshness.staleness_distribution(propagation),
    ]
    for fig in figs:
        strings = list(strings_in(json.loads(fig.to_json())))
        assert not [s for s in strings if "<script" in s]
        assert any("&lt;script&gt;alert(1)&lt;/script&gt;" in s for s in strings)


def test_every_figure_copes_with_empty_frames() -> None:
    requests = random_requests(10, ("p",)).iloc[0:0]
    propagation = propagation_frame([]).astype({"delay": float})
    figs = [
        figures.latency_cdf(requests),
        figures.latency_over_time(requests, NO_FAULTS),
        figures.throughput_errors(requests, fault_windows=NO_FAULTS),
        figures.outcomes_bar(requests),
        freshness.staleness_distribution(propagation),
    ]
    assert all(isinstance(f, go.Figure) for f in figs)
    assert all(not any(len(t.x) for t in f.data if t.x is not None) for f in figs[:3])


def test_figures_do_not_depend_on_row_order() -> None:
    requests = random_requests(5_000, ("a", "b"))
    shuffled = requests.sample(frac=1.0, random_state=3)
    for build in (figures.latency_cdf, figures.throughput_errors, figures.outcomes_bar):
        assert build(requests).to_json() == build(shuffled).to_json()


def test_an_instant_fault_is_a_marked_line_and_overlapping_labels_take_other_lanes() -> None:
    requests = random_requests(2_000, ("p",))
    faults = pd.DataFrame(
        {
            "kind": ["crash", "latency", "connector-crash"],
            "target": ["service:a", "db:users", "connector:users"],
            "start": [40.0, 41.0, 70.0],
            "end": [40.0, 50.0, 75.0],
        }
    )
    fig = figures.latency_over_time(requests, faults)
    lines = [s for s in fig.layout.shapes if s.type == "line"]
    assert [line.x0 for line in lines] == [40.0]
    assert not any(s.type == "rect" and s.x0 == 40.0 for s in fig.layout.shapes)
    notes = {
        a.text: a.yshift
        for a in fig.layout.annotations
        if "service:a" in a.text or ":users" in a.text
    }
    assert notes["◆ crash service:a"] != notes["latency db:users"]  # one above the other
    assert notes["connector-crash connector:users"] == notes["◆ crash service:a"]  # room again


def test_warm_up_requests_are_left_out_as_in_the_metrics() -> None:
    rows = [("p", 0, 1.0, 0.01, "error")] * 5 + [("p", 0, 20.0, 0.01, "ok")] * 9
    rows += [("p", 0, 21.0, 0.01, "timeout")]
    error, timeout = figures.outcomes_bar(requests_frame(rows), warmup=10.0).data
    np.testing.assert_allclose(error.y, [0.0])
    np.testing.assert_allclose(timeout.y, [0.1])
    (cdf,) = figures.latency_cdf(requests_frame(rows), warmup=10.0).data
    assert len(cdf.x) == 9


def test_an_all_zero_failure_chart_is_not_drawn_on_a_full_percent_axis() -> None:
    rows = [("p", 0, 1.0, 0.01, "ok")] * 5
    fig = figures.outcomes_bar(requests_frame(rows))
    assert fig.layout.yaxis.range[1] < 0.01
    assert "no request failed" in [a.text for a in fig.layout.annotations]


def test_coinciding_variants_are_found_from_the_traces() -> None:
    requests = random_requests(3_000, ("cdc",))
    twin = requests.assign(pattern="outbox")
    other = random_requests(3_000, ("polling",), seed=9)
    both = pd.concat([requests, twin, other], ignore_index=True)
    looks = style.looks_for([("cdc", "cdc"), ("outbox", "outbox"), ("polling", "polling")])
    fig = figures.latency_over_time(both, NO_FAULTS, looks=looks)
    assert panels.coinciding(fig) == [["cdc", "outbox"]]


def test_staleness_over_time_censors_what_never_arrived_at_the_top() -> None:
    rows = pd.DataFrame(
        {
            "pattern": "p",
            "replication": 0,
            "replica": "search",
            "key": np.arange(6),
            "version": 1,
            "commit_time": [1.0, 1.5, 2.0, 11.0, 11.5, 12.0],
            "delay": [0.1, 0.2, 0.3, np.nan, np.nan, np.nan],
        }
    )
    fig = freshness.staleness_over_time(rows, NO_FAULTS, bin_seconds=10.0)
    p50 = next(t for t in fig.data if t.name == "p50")
    never = next(t for t in fig.data if t.name == "p50 never arrived")
    np.testing.assert_allclose(p50.y, [0.2, np.nan])
    np.testing.assert_allclose(never.x, [15.0])
    assert fig.layout.yaxis.ticktext[-1] == "never"


def test_per_copy_counts_are_means_per_run_with_never_as_a_count() -> None:
    copies = pd.DataFrame(
        {
            "pattern": ["p", "p", "p", "p"],
            "replication": [0, 1, 0, 1],
            "copy": ["a", "a", "b", "b"],
            "commits": [100, 100, 100, 100],
            "staleness_p50": 0.1,
            "staleness_p99": [0.5, 0.7, 0.2, np.inf],
            "never_propagated": [0.0, 0.0, 0.02, 0.04],
            "lost_updates": [0, 0, 2, 4],
            "pending_at_end": 0,
            "duplicates": [1, 3, 0, 0],
            "reorders": 0,
            "phantom_writes": 0,
        }
    )
    table = freshness.copy_counts(copies).set_index("copy")
    assert table.loc["a", "staleness_p99"] == pytest.approx(0.6)
    assert math.isinf(table.loc["b", "staleness_p99"])
    assert table.loc["b", "never"] == pytest.approx(3.0)
    assert table.loc["b", "lost_updates"] == 3.0 and table.loc["a", "duplicates"] == 2.0
