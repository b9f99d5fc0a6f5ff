"""Trace files named by a scenario's phases: found next to the scenario file and checked
before anything runs, so that a bad trace is a located error like any other."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from sim.config.data import DataConfig
from sim.config.model import Location, Scenario
from sim.workload.trace import TraceError, read_trace

__all__ = ["anchored_traces", "check_traces"]


def check_traces(scenario: Scenario, filename: str) -> list[tuple[Location, str, object]]:
    """Point every trace phase at its file (relative to ``filename``'s folder when that is a
    file) and read it; ``(path, message, value)`` for each one that cannot be replayed."""
    source = Path(filename)
    base = source.resolve().parent if source.is_file() else None
    problems: list[tuple[Location, str, object]] = []
    for index, phase in enumerate(scenario.workload.phases):
        if phase.trace is None or not isinstance(scenario.data, DataConfig):
            continue  # (a trace with data.entities is refused by the cross-check)
        phase._base = base
        try:
            read_trace(
                phase.trace_path(), scenario.data, phase.time_scale, phase.duration, phase.trace
            )
        except TraceError as error:
            problems.append((("workload", "phases", index, "trace"), str(error), phase.trace))
    return problems


def anchored_traces(scenario: Scenario, source: Any) -> Any:
    """``source`` (the scenario as written) with every trace path made absolute, so that it
    still finds its files when validated again away from the scenario file."""
    phases = source.get("workload", {}).get("phases") if isinstance(source, dict) else None
    if not isinstance(phases, list):
        return source
    anchored = copy.deepcopy(source)
    for index, phase in enumerate(scenario.workload.phases):
        if phase.trace is not None and index < len(phases) and isinstance(phases[index], dict):
            anchored["workload"]["phases"][index]["trace"] = str(phase.trace_path())
    return anchored
