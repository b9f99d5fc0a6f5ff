"""Measurement: record facts during a run, aggregate once at the end."""
