"""The client's view of every request: when it started, how long it took, how it ended.

Results are kept in preallocated lists indexed by request number (one assignment per request
on the hot path) and turned into a frame once. The client gives up after the workload's
``timeout``: a request that answers later, or never, counts as a ``timeout`` whose latency is
the timeout itself (the client stopped waiting then; whatever the system still does for it is
seen in the consistency data, not here). A request still unanswered when the run ends (the
drain is shorter than the timeout) also counts as a timeout, its latency cut at the end.
"""

from __future__ import annotations

import math
from typing import Protocol

import numpy as np
import pandas as pd

from sim.kernel.codes import OP_NAMES, OUTCOME_NAMES, TIMEOUT

__all__ = ["RequestArrays", "RequestLog"]


class RequestArrays(Protocol):
    """The requests of a run, one array entry per request (:class:`sim.workload.Requests`)."""

    @property
    def times(self) -> np.ndarray: ...

    @property
    def ops(self) -> np.ndarray: ...

    @property
    def keys(self) -> np.ndarray: ...

    @property
    def targets(self) -> np.ndarray: ...

    def __len__(self) -> int: ...


class RequestLog:
    """Outcomes of the requests of one run."""

    def __init__(self, requests: RequestArrays, timeout: float, service_names: list[str]) -> None:
        self.requests = requests
        self.timeout = timeout
        self._starts = requests.times.tolist()
        count = len(requests)
        self.ends: list[float] = [math.nan] * count
        self.outcomes: list[int] = [-1] * count
        self.versions: list[int] = [-1] * count
        self.services: list[int] = [-1] * count
        self.works: list[float] = [math.nan] * count
        """The service time each request was given where it was handled (NaN: it never
        reached a service)."""
        self.service_names = service_names

    def finish(self, index: int, now: float, outcome: int, version: int = -1) -> None:
        """Record the answer to request ``index`` (only the first answer counts)."""
        if self.outcomes[index] != -1:
            return
        if now - self._starts[index] > self.timeout:
            outcome, now, version = TIMEOUT, self._starts[index] + self.timeout, -1
        self.ends[index] = now
        self.outcomes[index] = outcome
        self.versions[index] = version

    def close(self, end: float) -> None:
        """Every request still unanswered when the run ends at ``end`` counts as a timeout,
        with its latency cut at the end of the run if the client was still waiting then."""
        for index, outcome in enumerate(self.outcomes):
            if outcome == -1:
                self.ends[index] = min(self._starts[index] + self.timeout, end)
                self.outcomes[index] = TIMEOUT

    def frame(self) -> pd.DataFrame:
        """One row per request: ``op, key, service, start, latency, outcome, version, work``."""
        requests = self.requests
        starts = requests.times
        ends = np.asarray(self.ends, dtype=float)
        names = np.asarray([*self.service_names, "?"], dtype=object)
        return pd.DataFrame(
            {
                "op": np.asarray(OP_NAMES, dtype=object)[requests.ops.astype(np.int64)],
                "key": requests.keys,
                "service": names[np.asarray(self.services, dtype=np.int64)],
                "start": starts,
                "latency": ends - starts,
                "outcome": np.asarray(OUTCOME_NAMES, dtype=object)[
                    np.asarray(self.outcomes, dtype=np.int64)
                ],
                "version": np.asarray(self.versions, dtype=np.int64),
                "work": np.asarray(self.works, dtype=float),
            }
        )
