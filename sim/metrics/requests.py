"""The client's view of every request: when it started, how long it took, how it ended.

Results are kept in preallocated typed columns indexed by request number (stdlib ``array``:
one machine number per entry, no Python object per request, one assignment per request on the
hot path) and turned into a frame once; the text columns (operation, service, outcome) exist
only in that frame, the log keeps integer codes. The client gives up after the workload's
``timeout``: a request that answers later, or never, counts as a ``timeout`` whose latency is
the timeout itself (the client stopped waiting then; whatever the system still does for it is
seen in the consistency data, not here). A request still unanswered when the run ends (the
drain is shorter than the timeout) also counts as a timeout, its latency cut at the end.

The requests drawn up front (open and trace phases) fill the log when it is made; a closed
user's requests are added as they are issued (:meth:`RequestLog.add`), and whoever listens
(:attr:`RequestLog.on_answer`, the closed users) hears of each first answer.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable
from typing import Protocol

import numpy as np
import pandas as pd

from sim.kernel.always import OFF, Always
from sim.kernel.codes import OP_NAMES, OUTCOME_NAMES, TIMEOUT
from sim.kernel.recorder import category

__all__ = ["RequestArrays", "RequestLog"]


def _column(code: str, values: np.ndarray) -> array:
    """A typed column (``array(code)``) holding ``values`` (converted to its item type)."""
    found = array(code)
    found.frombytes(np.ascontiguousarray(values, dtype=_DTYPES[code]).tobytes())
    return found


_DTYPES = {"d": np.float64, "q": np.int64, "b": np.int8}

Column = array | memoryview
"""A column of the log: a typed ``array``, or a read-only view of a drawn numpy array."""


def _view(values: np.ndarray, dtype: type) -> memoryview:
    """A read-only view of ``values`` as ``dtype`` (no copy when it has that type)."""
    return np.ascontiguousarray(values, dtype=dtype).data.toreadonly()


def _numpy(values: Column, dtype: type) -> np.ndarray:
    """A column as a numpy array of ``dtype`` (a view of it when it has that type: the frame
    copies what it keeps)."""
    return np.asarray(memoryview(values)).astype(dtype, copy=False)


def _text(names: list[str], codes: np.ndarray) -> pd.Categorical[str]:
    """The text column of integer ``codes`` (``names[code]``) as a ``category`` with its
    categories in sorted order (as a frame's labels have them, :mod:`sim.kernel.recorder`):
    a small integer a row instead of a string a row."""
    categories = sorted(set(names))
    position = {name: index for index, name in enumerate(categories)}
    where = np.array([position[name] for name in names], dtype=np.int16)
    return category(where[codes], categories)


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


class _Drawn:
    """No drawn requests (what a released log keeps)."""

    def __init__(self, times: np.ndarray, ops: np.ndarray, keys: np.ndarray, targets: np.ndarray):
        self.times, self.ops, self.keys, self.targets = times, ops, keys, targets

    def __len__(self) -> int:
        return 0


class RequestLog:
    """Outcomes of the requests of one run."""

    def __init__(
        self,
        requests: RequestArrays,
        timeout: float,
        service_names: list[str],
        always: Always = OFF,
    ) -> None:
        self.requests = requests
        self.always = always
        """With checks on: a request answered twice, and conservation at :meth:`close`
        (:mod:`sim.metrics.always`)."""
        self.answered = 0
        """Requests answered so far."""
        self.timeout = timeout
        self._starts: Column = _view(requests.times, np.float64)
        self.ops: Column = _view(requests.ops, np.int8)
        self.keys: Column = _view(requests.keys, np.int64)
        self.targets: Column = _view(requests.targets, np.int64)
        """Operation, key and read-target index of every request, by index (views of the drawn
        arrays until a request is added, then typed columns of their own)."""
        drawn_sessions = getattr(requests, "sessions", None)
        self.sessions: Column | None = (
            _view(drawn_sessions, np.int64) if drawn_sessions is not None else None
        )
        """The client session of every request (None: sessions are not tracked)."""
        self.session_base = 0
        """Where the closed users' sessions are numbered from (after the open ones)."""
        count = len(requests)
        self.drawn = count
        """How many requests were drawn up front; the others were added during the run."""
        self.ends = array("d", [math.nan]) * count
        self.outcomes = array("b", [-1]) * count
        self.versions = array("q", [-1]) * count
        self.services = array("i", [-1]) * count  # an index into the service names
        self.works = array("d", [math.nan]) * count
        """The service time each request was given where it was handled (NaN: it never
        reached a service)."""
        self.waits = array("d", [math.nan]) * count
        """How long each request waited for a slot at the service that handled it (NaN: it
        never got one, or was never answered)."""
        self.service_names = service_names
        self.idents: list[tuple[int, ...]] = []
        """The ids of each added request (index - drawn): (phase, user, sequence number)."""
        self.on_answer: Callable[[int], None] | None = None
        """Told the index of every request at its first answer."""

    def __len__(self) -> int:
        return len(self._starts)

    def add(self, now: float, op: int, key: int, target: int, ident: tuple[int, ...]) -> int:
        """Log a request issued at ``now``; returns its index."""
        index = len(self._starts)
        if isinstance(self._starts, memoryview):
            self._own()
        assert isinstance(self._starts, array) and isinstance(self.ops, array)
        assert isinstance(self.keys, array) and isinstance(self.targets, array)
        self._starts.append(now)
        self.ops.append(op)
        self.keys.append(key)
        self.targets.append(target)
        self.idents.append(ident)
        if isinstance(self.sessions, array):  # a closed user is a session of its own
            self.sessions.append(self.session_base + ident[0] * 1_000_000 + ident[1])
        self.ends.append(math.nan)
        self.outcomes.append(-1)
        self.versions.append(-1)
        self.services.append(-1)
        self.works.append(math.nan)
        self.waits.append(math.nan)
        return index

    def _own(self) -> None:
        """Copy the drawn requests into growable columns (before the first added request)."""
        requests = self.requests
        self._starts = _column("d", requests.times)
        self.ops = _column("b", requests.ops)
        self.keys = _column("q", requests.keys)
        self.targets = _column("q", requests.targets)
        drawn_sessions = getattr(requests, "sessions", None)
        if drawn_sessions is not None:
            self.sessions = _column("q", drawn_sessions)

    def ident(self, index: int) -> tuple[int, ...]:
        """The ids of added request ``index`` (its draws are keyed by them)."""
        return self.idents[index - self.drawn]

    def finish(self, index: int, now: float, outcome: int, version: int = -1) -> None:
        """Record the answer to request ``index`` (only the first answer counts) as it reaches
        the client at ``now``: the present, or the time an answer on its way will arrive when
        nothing acts on it there (:meth:`close` takes back the ones still travelling)."""
        if self.outcomes[index] != -1:
            if self.always.on:
                self.always.broken(
                    "client", index, "a request is answered once", "one answer", "a second answer"
                )
            return
        self.answered += 1
        if now - self._starts[index] > self.timeout:
            outcome, now, version = TIMEOUT, self._starts[index] + self.timeout, -1
        self.ends[index] = now
        self.outcomes[index] = outcome
        self.versions[index] = version
        if self.on_answer is not None:
            self.on_answer(index)

    def close(self, end: float) -> None:
        """Every request still unanswered when the run ends at ``end`` counts as a timeout,
        with its latency cut at the end of the run if the client was still waiting then. An
        answer recorded ahead that arrives at ``end`` or later was still travelling: it is
        taken back first (an event at the run's last instant comes after the run's end)."""
        recorded = np.frombuffer(self.outcomes, dtype=np.int8) != -1
        travelling = np.flatnonzero(recorded & (np.frombuffer(self.ends, dtype=np.float64) >= end))
        del recorded
        for index in travelling.tolist():
            self.outcomes[index] = -1
            self.versions[index] = -1
            self.answered -= 1
        unanswered = np.flatnonzero(np.frombuffer(self.outcomes, dtype=np.int8) == -1)
        in_flight = len(unanswered)
        starts, ends, outcomes, timeout = self._starts, self.ends, self.outcomes, self.timeout
        for index in unanswered.tolist():
            ends[index] = min(starts[index] + timeout, end)
            outcomes[index] = TIMEOUT
        if self.always.on:
            self._conserved(in_flight)

    def _conserved(self, in_flight: int) -> None:
        """Issued = ok + error + timeout + in flight, and every request now has an outcome."""
        codes = np.frombuffer(self.outcomes, dtype=np.int8)
        counts = [int(np.count_nonzero(codes == outcome)) for outcome in range(3)]
        answered = sum(counts)
        issued = len(self._starts)
        if answered != issued or self.answered + in_flight != issued:
            self.always.broken(
                "client",
                "-",
                "conservation: issued = ok + error + timeout + in flight",
                f"{issued} issued",
                f"{counts[0]} ok + {counts[1]} error + {counts[2]} timeout, "
                f"{self.answered} answered + {in_flight} in flight",
            )

    def release(self) -> None:
        """Let go of every request's columns (and the drawn requests) once the frame is made:
        the log is empty afterwards."""
        empty = np.zeros(0)
        self.requests = _Drawn(empty, empty.astype(np.int8), *[empty.astype(np.int64)] * 2)
        self._starts = self.ops = self.keys = self.targets = array("q")
        self.ends = self.works = self.waits = array("d")
        self.outcomes, self.versions, self.services = array("b"), array("q"), array("i")
        self.sessions = None if self.sessions is None else array("q")
        self.idents = []
        self.drawn = 0

    def frame(self) -> pd.DataFrame:
        """One row per request, by start time: ``op, key, service, start, latency, outcome,
        version, work, wait``, and ``session`` when sessions are tracked."""
        requests = self.requests
        ends = _numpy(self.ends, float)
        names = [*self.service_names, "?"]
        services = _numpy(self.services, np.int32)
        outcomes = _numpy(self.outcomes, np.int8)
        versions = _numpy(self.versions, np.int64)
        works = _numpy(self.works, float)
        waits = _numpy(self.waits, float)
        sessions = None if self.sessions is None else _numpy(self.sessions, np.int64)
        if len(self) == self.drawn:
            starts, ops, keys = requests.times, requests.ops, requests.keys
        else:
            starts = _numpy(self._starts, float)
            ops = _numpy(self.ops, np.int8)
            keys = _numpy(self.keys, np.int64)
            order = np.argsort(starts, kind="stable")
            starts, ops, keys, ends = starts[order], ops[order], keys[order], ends[order]
            services, outcomes = services[order], outcomes[order]
            versions, works, waits = versions[order], works[order], waits[order]
            if sessions is not None:
                sessions = sessions[order]
        frame = pd.DataFrame(
            {
                "op": _text(list(OP_NAMES), ops),
                "key": keys,
                "service": _text(names, np.where(services < 0, len(names) - 1, services)),
                "start": starts,
                "latency": ends - starts,
                "outcome": _text(list(OUTCOME_NAMES), outcomes),
                "version": versions,
                "work": works,
                "wait": waits,
            },
            copy=False,  # the columns are the log's own arrays: no second copy at the peak
        )
        if sessions is not None:
            frame["session"] = sessions
        return frame
