"""The HTML report: the decision first, then the trade-off, the table and the figures.

:func:`render_report` turns :class:`sim.results.Results` into one HTML document (a string;
writing it is the caller's job) through the Jinja2 template ``templates/report.html.j2``, with
autoescaping on, so every name from user data is escaped. Order: the question and the run's
facts; the decision block (pattern × SLO grid with margins and the roll-up per pattern, the
ranking of a ``decision:`` block, the best and worst per metric family, the warnings); the
trade-off map; metrics across the sweep; the summary table; consistency (staleness over time,
per copy, consumer lag, polling connectors); latency; throughput and failed requests.

**plotly.js** is ``inline`` by default (the page opens offline and a Content-Security-Policy
forbids any network load), ``directory`` (a ``<script src="plotly.min.js">`` beside the page:
the caller writes :func:`plotly_js` there once), or ``cdn``. The page is deterministic: no
clock, fixed figure ids.

Left out: reading run folders (:mod:`sim.outputs`) and opening a browser.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import jinja2
import markupsafe
import plotly
import plotly.graph_objects as go
import plotly.offline

import sim
from sim.report import figures, freshness, pipeline, tradeoffs
from sim.report import occupancy as occupancy_figures
from sim.report.modes import PLOTLYJS_FILE, PLOTLYJS_MODES
from sim.report.panels import coinciding
from sim.report.style import looks_for
from sim.report.view import ReportView, relabel, report_view
from sim.results import Results

__all__ = [
    "PLOTLYJS_MODES",
    "Section",
    "csp_for",
    "plotly_js",
    "render_page",
    "render_report",
    "script_for",
    "sections",
]

_PLOT_CONFIG = {"displaylogo": False, "responsive": True}
_CSP = {
    "inline": "script-src 'unsafe-inline'",
    "directory": "script-src 'unsafe-inline' 'self' file:",
    "cdn": "script-src 'unsafe-inline' https://cdn.plot.ly",
}
TEMPLATES = jinja2.Environment(
    loader=jinja2.PackageLoader("sim.report", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
    keep_trailing_newline=True,
)


@dataclass(frozen=True)
class Section:
    slug: str
    group: str
    heading: str
    caption: str
    figure: go.Figure
    notes: tuple[str, ...] = ()


def plotly_js() -> str:
    """The plotly.js bundle the page needs (what ``directory`` mode writes beside it)."""
    return plotly.offline.get_plotlyjs()


_OCCUPANCY = (
    (
        "utilisation",
        "Utilisation over time",
        "Each service's and database's busy slots over its slots (concurrency slots of its "
        "instances, or its connection pool), exact time averages per bin of the load, mean over "
        "replications; the summary's utilisation is the same over the measured window.",
    ),
    (
        "queue_length",
        "Queue length over time",
        "Requests waiting for a slot at each service (queries waiting for a connection at each "
        "database), time-averaged per bin of the load, mean over replications.",
    ),
)


def _section(
    slug: str, group: str, heading: str, caption: str, build: Callable[[], go.Figure]
) -> Section:
    fig = build()
    notes = tuple(
        f"{' and '.join(html.unescape(name) for name in group)} coincide on this chart: one "
        "hides the other."
        for group in coinciding(fig)
    )
    return Section(slug, group, heading, caption, fig, notes)


def sections(results: Results, view: ReportView) -> list[Section]:
    """The page's figures, in order, with what each shows."""
    looks = view.looks
    warmup = results.scenario.warmup
    summary = relabel(results, results.summary)
    requests = relabel(results, results.requests)
    propagation = relabel(results, results.propagation)
    windows = results.fault_windows
    found = [
        _section(
            "tradeoff",
            "Decision",
            "Trade-off",
            "Each option by its cost (p99 latency) against freshness (p99 staleness), with 95 % intervals; a larger marker means more lost, duplicated, reordered or phantom writes. Lower left is better; 0 and never sit on the bottom and top lines.",
            lambda: tradeoffs.tradeoff(summary, looks),
        ),
    ]
    if results.swept:
        metrics = list(
            dict.fromkeys(
                [s.key for s in results.scenario.slo]
                + ["latency_p99", "staleness_p99", "error_rate"]
            )
        )
        metrics = [m for m in metrics if m in set(results.summary["metric"])]
        bases = {
            name: look
            for name, look in looks_for(
                (n, s.kind)
                for n, s in zip(
                    results.scenario.pattern_names(), results.scenario.patterns, strict=True
                )
            ).items()
            if name in results.patterns
        }
        found.append(
            _section(
                "sweep",
                "Decision",
                "Across the sweep",
                "Each metric at each sweep point, in the order written, with 95 % intervals; dashed lines are SLO thresholds, a red ring the first point at which a pattern fails one.",
                lambda: tradeoffs.sweep_curves(
                    results.summary,
                    [(p.index, p.label) for p in results.points],
                    bases,
                    metrics,
                    results.scenario.slo,
                    results.verdicts if len(results.verdicts) else None,
                ),
            )
        )
    copies = relabel(results, results.copies)
    lag = relabel(results, results.table("consumer_lag"))
    polls = relabel(results, results.table("connector_polls"))
    found += [
        _section(
            "staleness-over-time",
            "Consistency",
            "Staleness over time",
            "How long the writes committed at each moment took to reach the copies (after the warm-up); crosses on the top line: that percentile never arrived. Grey bands are fault windows.",
            lambda: freshness.staleness_over_time(propagation, windows, looks=looks, warmup=warmup),
        ),
        _section(
            "per-copy",
            "Consistency",
            "Per copy",
            "Each copy's p99 staleness, and the changes that did not arrive intact at it, per run.",
            lambda: freshness.staleness_per_copy(copies, looks=looks),
        ),
        _section(
            "staleness",
            "Consistency",
            "Staleness distribution",
            "Time from commit until each copy shows the written version. A curve ending below 1 means some copies never caught up (share in the legend, as in the summary).",
            lambda: freshness.staleness_distribution(propagation, looks=looks, warmup=warmup),
        ),
    ]
    if not lag.empty:
        found.append(
            _section(
                "consumer-lag",
                "Consistency",
                "Consumer lag",
                "Records each consumer group is behind the log end (largest partition lag per bin, mean over replications).",
                lambda: pipeline.consumer_lag_over_time(lag, windows, looks=looks),
            )
        )
    if not polls.empty:
        found.append(
            _section(
                "connector",
                "Consistency",
                "Connectors",
                "Changes each connector reads per second (its batches: poll queries, or change "
                "batches read from the replication slot) and the seconds per second it holds a "
                "database connection for them (its load on the database: the queries, or the "
                "decoding of the log).",
                lambda: pipeline.connector_activity(polls, windows, looks=looks),
            )
        )
    occupancy = relabel(results, results.table("occupancy_series"))
    if not occupancy.empty:
        found += [
            _section(
                f"occupancy-{metric.replace('_', '-')}",
                "Throughput",
                heading,
                caption,
                partial(
                    occupancy_figures.occupancy_over_time, occupancy, windows, metric, looks=looks
                ),
            )
            for metric, heading, caption in _OCCUPANCY
        ]
    found += [
        _section(
            "latency-cdf",
            "Latency",
            "Latency distribution",
            "Fraction of successful requests (after the warm-up) answered within a given time. Further left is faster; the top of the curve is the tail.",
            lambda: figures.latency_cdf(requests, looks=looks, warmup=warmup),
        ),
        _section(
            "latency-over-time",
            "Latency",
            "Latency over time",
            "Median and 99th percentile per time bin, one panel per option; grey bands are fault windows, dashed lines instant faults.",
            lambda: figures.latency_over_time(requests, windows, looks=looks, warmup=warmup),
        ),
        _section(
            "throughput-errors",
            "Throughput",
            "Throughput and errors",
            "Requests completed per second in one run: successful in the option's colour, failed in grey.",
            lambda: figures.throughput_errors(
                requests, fault_windows=windows, looks=looks, warmup=warmup
            ),
        ),
        _section(
            "outcomes",
            "Throughput",
            "Failed requests",
            "Share of the requests after the warm-up that ended in an error or a timeout (the summary's error_rate).",
            lambda: figures.outcomes_bar(requests, looks=looks, warmup=warmup),
        ),
    ]
    return found


def _div(section: Section) -> markupsafe.Markup:
    html = section.figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        include_mathjax=False,
        div_id=f"fig-{section.slug}",
        config=_PLOT_CONFIG,
    )
    return markupsafe.Markup(html)  # plotly's own output; names in it are escaped by style.label


def script_for(plotlyjs: str) -> markupsafe.Markup:
    """The ``<script>`` that gives the page plotly.js in mode ``plotlyjs``."""
    if plotlyjs == "inline":
        return markupsafe.Markup(f"<script>{plotly_js()}</script>")
    if plotlyjs == "directory":
        return markupsafe.Markup(f'<script src="{PLOTLYJS_FILE}"></script>')
    return markupsafe.Markup(
        f'<script src="https://cdn.plot.ly/plotly-{plotly.__version__}.min.js"></script>'
    )


def csp_for(plotlyjs: str) -> str:
    """The Content-Security-Policy of a page in mode ``plotlyjs``: nothing from the network
    but, with ``cdn``, the plotly.js bundle."""
    return (
        "default-src 'none'; " + _CSP[plotlyjs] + "; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:"
    )


def render_page(view: ReportView, found: list[Section], *, plotlyjs: str = "inline") -> str:
    """The page for a view and its figures."""
    if plotlyjs not in PLOTLYJS_MODES:
        raise ValueError(f"plotlyjs must be one of {', '.join(PLOTLYJS_MODES)} (got {plotlyjs!r})")
    script = script_for(plotlyjs)
    csp = csp_for(plotlyjs)
    template = TEMPLATES.get_template("report.html.j2")
    return template.render(
        view=view,
        sections=[(s, _div(s)) for s in found],
        plotly_script=script,
        csp=csp,
        version=sim.__version__,
    )


def render_report(results: Results, *, plotlyjs: str = "inline") -> str:
    """The whole report of ``results`` as one HTML document."""
    view = report_view(results)
    return render_page(view, sections(results, view), plotlyjs=plotlyjs)
