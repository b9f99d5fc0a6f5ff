"""Experiments over a scenario: its points, patterns and replications run and stored as they
finish (:mod:`sim.experiments.run`); the breaking point of each pattern
(:mod:`sim.experiments.capacity`); what a scenario will cost before it runs
(:mod:`sim.experiments.budget`); the smallest fault schedule that breaks an invariant
(:mod:`sim.experiments.explore`)."""

from sim.experiments.budget import MAX_REQUESTS, Budget, estimate
from sim.experiments.capacity import CapacityResult, Probe, search_capacity
from sim.experiments.capacity_files import CapacityWriter
from sim.experiments.explore import Exploration, Try, explore
from sim.experiments.explore_files import DATABASE, write_exploration
from sim.experiments.regression import (
    Comparison,
    RegressionRule,
    RuleError,
    compare_folders,
    parse_rule,
)
from sim.experiments.run import Progress, UnknownPatternError, run_experiment

__all__ = [
    "DATABASE",
    "MAX_REQUESTS",
    "Budget",
    "CapacityResult",
    "CapacityWriter",
    "Comparison",
    "Exploration",
    "Probe",
    "Progress",
    "RegressionRule",
    "RuleError",
    "Try",
    "UnknownPatternError",
    "compare_folders",
    "estimate",
    "explore",
    "parse_rule",
    "run_experiment",
    "search_capacity",
    "write_exploration",
]
