"""The names of the gauges of issue 14, scope 1, as the summary calls them.

The validation cases that read them are pending while the model does not output them; a
metric named differently by the model is renamed here, in one place.
"""

from __future__ import annotations

__all__ = ["QUEUE_WAIT", "WAIT_PROBABILITY", "in_system", "utilisation"]

QUEUE_WAIT = "queue_wait_mean"
"""Mean queue wait per request (start of service − arrival at the service), seconds."""
WAIT_PROBABILITY = "wait_probability"
"""The share of requests that waited (queue wait > 0)."""


def utilisation(service: str) -> str:
    """A service's time-average busy slots over its slots."""
    return f"utilisation{{service:{service}}}"


def in_system(service: str) -> str:
    """A service's time-average number of requests in it, queued or in service."""
    return f"in_system{{service:{service}}}"
