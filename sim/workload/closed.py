"""Closed-loop users: each issues a request, waits for its answer, thinks, and issues the next.

A closed phase (``closed: {users: N, think_time: Z}``, k6's constant-vus executor, Locust's
users) starts N users at its beginning. Each user first thinks (so the users do not all fire
at the same instant), then loops: issue a request; wait until it is answered — ok or error —
or until the client's ``timeout`` gives up on it; think for a draw of ``think_time``; issue
the next. A user issues nothing at or after its phase's end (the request in flight is still
answered and logged). So the throughput is an output: it falls when latency rises, and with N
users and think time Z it obeys the interactive response-time law X = N / (R + Z).

Requests are still the same in every pattern, request by request: a user's n-th request has
the same operation, key and read target everywhere, and the same think time before it, drawn
from the user's own stream (``user:P:U`` for user U of phase P, one generator per user) in
blocks of :data:`BLOCK`, in sequence order; an insert's fresh key is a function of (phase,
user, n). Only *when* it is issued depends on the pattern. The runner
hands the users two callbacks — ``add`` (log a request, get its index) and ``arrive`` (send it
into the model) — and tells them of each answer through :meth:`ClosedUsers.answered`, so this
module knows nothing of the layers above.

Left out: ramping the user count within a phase (k6's ramping-vus); users of one phase
carrying over to the next (each closed phase has its own users); think times that depend on
the answer; users that give up or retry on their own.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import simpy

from sim.config.load import ClosedLoad
from sim.config.sections import DataConfig, WorkloadConfig
from sim.kernel.codes import INSERT
from sim.kernel.rng import Streams
from sim.kernel.schedule import Deadline, Deadlines
from sim.workload.keys import KeyDrawer
from sim.workload.requests import draw_ops

__all__ = ["BLOCK", "Add", "ClosedUsers"]

BLOCK = 32
"""Requests a user draws at a time from each of its streams."""

Add = Callable[[int, int, int, tuple[int, int, int]], int]
"""``add(op, key, target, (phase, user, n))`` logs a request issued now and returns its index."""


class _User:
    """One user of a closed phase: its streams, its position and the draws ahead."""

    __slots__ = (
        "block",
        "drawn",
        "end",
        "generator",
        "n",
        "phase",
        "rank",
        "thinks",
        "user",
        "users",
    )

    def __init__(self, users: ClosedUsers, phase: int, rank: int, user: int, end: float) -> None:
        self.users = users
        self.phase = phase
        self.rank = rank
        """Position among the closed phases (for fresh keys)."""
        self.user = user
        self.end = end
        self.n = 0
        """The sequence number of the user's next request."""
        self.drawn = 0
        self.block: tuple[list[int], list[int], list[int]] = ([], [], [])
        self.thinks: list[float] = []
        self.generator: np.random.Generator | None = None

    def _draw(self) -> None:
        """The next block of think times and requests, from the user's own stream, always in
        the same order (think times, operations, keys, read targets)."""
        owner = self.users
        generator = self.generator
        if generator is None:
            sequence = owner.streams.sequence(f"user:{self.phase}:{self.user}")
            generator = self.generator = np.random.Generator(np.random.PCG64(sequence))
        quantile = owner.think[self.phase]
        self.thinks = [quantile(u) for u in generator.random(BLOCK).tolist()]
        ops = draw_ops(owner.workload.mix, generator.random(BLOCK))
        keys = owner.keys.draw(BLOCK, generator)
        targets = generator.integers(0, owner.targets, BLOCK)
        self.block = (ops.tolist(), keys.tolist(), targets.tolist())
        self.drawn += BLOCK

    def think_time(self, n: int) -> float:
        """The think time before request ``n`` (asked in sequence order, before the request)."""
        if n >= self.drawn:
            self._draw()
        return self.thinks[n - (self.drawn - BLOCK)]

    def request(self, n: int) -> tuple[int, int, int]:
        """Operation, key and read target of request ``n`` (asked after its think time)."""
        i = n - (self.drawn - BLOCK)
        op, key, target = self.block[0][i], self.block[1][i], self.block[2][i]
        if op == INSERT:
            owner = self.users
            key = owner.fresh + (n * owner.width[self.phase] + self.user) * owner.ranks + self.rank
        return op, key, target


class ClosedUsers:
    """The users of every closed phase of a workload."""

    def __init__(
        self,
        env: simpy.Environment,
        workload: WorkloadConfig,
        data: DataConfig,
        streams: Streams,
        fresh: int,
    ) -> None:
        """``fresh`` is the first key no request of the open phases inserted."""
        self.env = env
        self.workload = workload
        self.streams = streams
        self.fresh = fresh
        self.keys = KeyDrawer(data)
        self.targets = max(1, len(data.replicas))
        self.think: dict[int, Callable[[float], float]] = {}
        self.width: dict[int, int] = {}
        self.phases: list[tuple[int, float, float, ClosedLoad]] = []
        start = 0.0
        for index, phase in enumerate(workload.phases):
            if phase.closed is not None:
                self.phases.append((index, start, start + phase.duration, phase.closed))
                self.think[index] = phase.closed.think_time.quantile()
                self.width[index] = phase.closed.users
            start += phase.duration
        self.ranks = max(1, len(self.phases))
        self._waiting: dict[int, tuple[_User, Deadline]] = {}
        """The users waiting for an answer, by request, with the client's timeout of each."""
        self._timeouts = Deadlines(env, workload.timeout)
        self._add: Add | None = None
        self._arrive: Callable[[int], None] | None = None

    def start(self, add: Add, arrive: Callable[[int], None]) -> None:
        """Start every user at its phase's beginning."""
        self._add, self._arrive = add, arrive
        for rank, (phase, begin, end, closed) in enumerate(self.phases):
            for user in range(closed.users):
                self._think(_User(self, phase, rank, user, end), begin)

    def _think(self, user: _User, now: float) -> None:
        """The user thinks, from ``now``, before its next request."""
        pause = user.think_time(user.n)
        self.env.timeout(now - self.env.now + pause).callbacks.append(lambda _e: self._issue(user))

    def _issue(self, user: _User) -> None:
        env = self.env
        if env.now >= user.end:
            return
        assert self._add is not None and self._arrive is not None
        n = user.n
        op, key, target = user.request(n)
        index = self._add(op, key, target, (user.phase, user.user, n))
        user.n = n + 1
        self._waiting[index] = (user, self._timeouts.add(lambda: self.answered(index)))
        self._arrive(index)

    def answered(self, index: int) -> None:
        """Request ``index`` was answered (or the client gave up on it): its user thinks."""
        waiting = self._waiting.pop(index, None)
        if waiting is not None:
            user, timeout = waiting
            timeout.cancel()  # (the request is answered: its timeout would find no one waiting)
            self._think(user, self.env.now)
