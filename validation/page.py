"""The validation page: every case's figures, verdicts and run lengths, as Markdown.

:func:`build` runs the cases of a profile (:mod:`validation.catalog`) and assembles the page:
a summary of the verdicts, the run lengths per profile, one section per case (the model, a link
to its scenario file, the run length and a table of its checks), and the real-system sections
of ``validation.real.postgres_polling`` and ``validation.real.kafka`` — each module's
``section(profile)`` returns its Markdown and its cases' ``(name, passed, note)``; a module that
is not there yet gets a "not yet available" section. The page depends only on the profile and
the seeds in the scenario files (no times of day, no CPU times, no worker count), so the same
command writes the same page.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from validation.cases import PROFILES, Case, Outcome, Row, simulate
from validation.catalog import CASES

__all__ = ["REAL_SECTIONS", "Page", "RealSection", "build", "real_section"]

REAL_SECTIONS = ("validation.real.postgres_polling", "validation.real.kafka")
SCENARIO_LINK = "../validation/scenarios/"


@dataclass
class RealSection:
    """A real-system section: its Markdown and its cases' verdicts."""

    module: str
    markdown: str
    cases: list[tuple[str, bool, str]]
    available: bool = True


@dataclass
class Page:
    """The built page and what it counted."""

    markdown: str
    outcomes: list[Outcome]
    real: list[RealSection]

    @property
    def counts(self) -> tuple[int, int, int]:
        """Checks passed, failed and pending, real-system cases included."""
        passed = sum(o.counts[0] for o in self.outcomes)
        failed = sum(o.counts[1] for o in self.outcomes)
        pending = sum(o.counts[2] for o in self.outcomes)
        for section in self.real:
            passed += sum(1 for _name, ok, _note in section.cases if ok)
            failed += sum(1 for _name, ok, _note in section.cases if not ok)
        return passed, failed, pending


def real_section(module: str, profile: str) -> RealSection:
    """The section of a real-system module, or a "not yet available" one."""
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as error:
        if error.name is None or not module.startswith(error.name):
            raise
        title = module.rsplit(".", 1)[-1].replace("_", " ")
        text = (
            f"## Real system: {title}\n\nNot yet available: `{module}` is not in this "
            "checkout (issue 14, scope 4).\n"
        )
        return RealSection(module, text, [], available=False)
    markdown, cases = found.section(profile)
    return RealSection(module, markdown.rstrip() + "\n", list(cases))


def build(
    profile: str = "default",
    *,
    workers: int | None = None,
    cases: Sequence[Case] = CASES,
    real: Sequence[str] = REAL_SECTIONS,
    progress: Callable[[str], None] | None = None,
) -> Page:
    """Run ``cases`` (those with a length in ``profile``) and the ``real`` sections, and write
    the page."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    chosen = [case for case in cases if profile in case.lengths]
    outcomes = []
    for case in chosen:
        outcomes.append(simulate(case, profile, workers))
        if progress is not None:
            progress(case.slug)
    sections = []
    for module in real:
        sections.append(real_section(module, profile))
        if progress is not None:
            progress(module)
    page = Page("", outcomes, sections)
    page.markdown = _render(profile, chosen, page)
    return page


def _render(profile: str, chosen: Sequence[Case], page: Page) -> str:
    passed, failed, pending = page.counts
    lines = [
        "# Validation: why the model can be trusted",
        "",
        "Each case below configures patternsim as a model whose answer is known — a queue "
        "from queueing theory, a fork-join, a chain of calls, retries — or measured on a real "
        "system, runs it through `sim.api` from a scenario file shipped in "
        "[`validation/scenarios/`](../validation/scenarios/), and compares. Written by "
        f"`make validate` (profile **{profile}**; `make validate FULL=1` runs the full lengths "
        "and writes [`validation-full.md`](validation-full.md)), from seeded runs: the same "
        "command writes the same page.",
        "",
        f"**{passed} checks pass, {failed} fail, {pending} pending** (waiting for a model "
        "feature; each says which).",
        "",
        "The simulated value is the mean over replications with its 95 % Student-t interval "
        "(`scipy.stats`); the relative error is (simulated − analytic)/analytic. A check "
        "passes when the analytic value lies inside the interval, or when the relative error "
        "is below the tolerance it states (a difference too small to matter, for estimators "
        "whose finite-run bias exceeds a very narrow interval, as percentiles'). With dozens "
        "of checks at 95 %, an interval alone misses the truth about once in twenty by chance.",
        "",
        "## Summary",
        "",
        "| case | checks | passed | failed | pending |",
        "|---|---:|---:|---:|---:|",
    ]
    for outcome in page.outcomes:
        ok, bad, waiting = outcome.counts
        lines.append(
            f"| [{outcome.case.title}](#{outcome.case.slug}) | {len(outcome.rows)} | {ok} | "
            f"{bad} | {waiting} |"
        )
    for section in page.real:
        ok = sum(1 for _n, good, _t in section.cases if good)
        name = section.module.rsplit(".", 1)[-1]
        status = "" if section.available else " (not yet available)"
        lines.append(
            f"| real system: {name}{status} | {len(section.cases)} | {ok} | "
            f"{len(section.cases) - ok} | 0 |"
        )
    lines += ["", "## Run lengths", "", "| case | smoke | default | full |", "|---|---|---|---|"]
    for case in chosen:
        cells = [case.lengths[p].describe() if p in case.lengths else "—" for p in PROFILES]
        lines.append(f"| {case.title} | " + " | ".join(cells) + " |")
    lines.append("")
    for outcome in page.outcomes:
        lines += _case_section(outcome)
    for section in page.real:
        lines += [section.markdown]
    lines += [
        "## Not checked here",
        "",
        "- Percentiles without a closed form (M/M/c, M/G/1) and fork-join with more than two "
        "branches (only approximations are known).",
        "",
    ]
    return "\n".join(lines).rstrip() + "\n"


def _case_section(outcome: Outcome) -> list[str]:
    case = outcome.case
    lines = [
        f'<a id="{case.slug}"></a>',
        "",
        f"## {case.title}",
        "",
        case.model,
        "",
        f"Configuration: [`validation/scenarios/{case.scenario}`]({SCENARIO_LINK}{case.scenario}). "
        f"Run length: {outcome.length.describe()}.",
        "",
        "| quantity | analytic | simulated | 95 % interval | rel. error | rule | result |",
        "|---|---:|---:|---|---:|---|---|",
    ]
    lines += [_row(row) for row in outcome.rows]
    notes = [
        f"- {row.quantity}: {row.note}."
        for row in outcome.rows
        if row.passed is not None and row.note
    ]
    if case.notes:
        notes.append(f"- {case.notes}")
    if notes:
        lines += ["", *notes]
    lines.append("")
    return lines


def _row(row: Row) -> str:
    if row.passed is None:
        result = f"pending: needs {row.note}"
    else:
        result = "✓ pass" if row.passed else "✗ FAIL"
    error = row.relative_error
    cells = [
        row.quantity,
        _number(row.analytic, row.unit),
        _number(row.simulated, row.unit),
        _span(row.low, row.high, row.unit),
        "—" if error is None else f"{error:+.2%}",
        row.rule,
        result,
    ]
    return "| " + " | ".join(cells) + " |"


def _number(value: float | None, unit: str) -> str:
    if value is None or math.isnan(value):
        return "—"
    suffix = f" {unit}" if unit and unit != "fraction" else ""
    return f"{value:.5g}{suffix}"


def _span(low: float | None, high: float | None, unit: str) -> str:
    if low is None or high is None or math.isnan(low) or math.isnan(high):
        return "—"
    return f"[{_number(low, unit)}, {_number(high, unit)}]"
