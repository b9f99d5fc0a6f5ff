"""Experiments over a scenario: its points, patterns and replications run and stored as they
finish (:mod:`sim.experiments.run`); the breaking point of each pattern
(:mod:`sim.experiments.capacity`); what a scenario will cost before it runs
(:mod:`sim.experiments.budget`)."""

from sim.experiments.budget import MAX_REQUESTS, Budget, estimate
from sim.experiments.capacity import CapacityResult, Probe, search_capacity
from sim.experiments.capacity_files import CapacityWriter
from sim.experiments.regression import (
    Comparison,
    RegressionRule,
    RuleError,
    compare_folders,
    parse_rule,
)
from sim.experiments.run import Progress, UnknownPatternError, run_experiment

__all__ = [
    "MAX_REQUESTS",
    "Budget",
    "CapacityResult",
    "CapacityWriter",
    "Comparison",
    "Probe",
    "Progress",
    "RegressionRule",
    "RuleError",
    "UnknownPatternError",
    "compare_folders",
    "estimate",
    "parse_rule",
    "run_experiment",
    "search_capacity",
]
