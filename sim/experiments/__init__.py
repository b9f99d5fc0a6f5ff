"""Experiments over a scenario: its points, patterns and replications run and stored as they
finish (:mod:`sim.experiments.run`)."""

from sim.experiments.run import Progress, UnknownPatternError, run_experiment

__all__ = ["Progress", "UnknownPatternError", "run_experiment"]
