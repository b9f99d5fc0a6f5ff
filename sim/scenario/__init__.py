"""Scenario files: loading with positions, overrides, sweep points and the resolved form."""

from sim.scenario.issues import ScenarioError, ScenarioIssue
from sim.scenario.loader import load_scenario, parse_scenario, with_sweep
from sim.scenario.overrides import apply_overrides, parse_values
from sim.scenario.points import Point, cell, column_names, points
from sim.scenario.resolved import resolved_dict, resolved_yaml

__all__ = [
    "Point",
    "ScenarioError",
    "ScenarioIssue",
    "apply_overrides",
    "cell",
    "column_names",
    "load_scenario",
    "parse_scenario",
    "parse_values",
    "points",
    "resolved_dict",
    "resolved_yaml",
    "with_sweep",
]
