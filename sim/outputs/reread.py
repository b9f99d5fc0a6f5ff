"""A run folder read back: the results of the runs it stores, to render its report again.

The folder's ``scenario.resolved.yaml`` is the scenario (every default filled in), its
``manifest.json`` names the patterns, ``runs/`` holds every finished run bit for bit
(:mod:`sim.outputs.store`) and ``summary.json`` the baseline of the paired differences, so
:func:`read_results` rebuilds the very results the run summarised, without simulating.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.outputs.store import Manifest, RunStore, StoreMismatch, scenario_hash
from sim.results import Results
from sim.scenario import load_scenario

__all__ = ["read_results"]


def read_results(folder: Path) -> Results:
    """The results stored in the run folder ``folder``; ``FileNotFoundError`` when it is not
    a run folder, :class:`StoreMismatch` when its files do not belong together."""
    manifest = Manifest.read(folder)
    resolved = folder / "scenario.resolved.yaml"
    if manifest is None or not resolved.exists() or not (folder / "runs").is_dir():
        raise FileNotFoundError(
            f"{folder} is not a run folder (it needs manifest.json, scenario.resolved.yaml and "
            "runs/, as `patternsim run` writes them)"
        )
    scenario = load_scenario(resolved)
    if scenario_hash(scenario, manifest.patterns) != manifest.scenario_hash:
        raise StoreMismatch(
            f"{folder}: scenario.resolved.yaml is not the scenario the manifest records"
        )
    runs = RunStore(folder, manifest, staged=False).finished()
    if not runs:
        raise FileNotFoundError(f"{folder}/runs holds no finished run")
    baseline = None
    summary = folder / "summary.json"
    if summary.exists():
        found = json.loads(summary.read_text(encoding="utf-8")).get("baseline")
        baseline = str(found) if found else None
    ordered = [runs[key] for key in sorted(runs)]
    return Results.build(scenario, manifest.patterns, ordered, baseline=baseline)
