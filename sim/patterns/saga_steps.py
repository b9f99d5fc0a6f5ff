"""What both kinds of saga share: the settings, the step classes, the participants' local
transactions and their compensations, and the saga's metrics.

A saga is a chain of local transactions, one per participant; when one fails, compensating
transactions undo the ones before it, in reverse order [SAGA-AZ]. Here the participants are
the owner (step 0, the local transaction a write starts with) and the replicas, in the order
``data.replicas`` lists them (steps 1 to n). The steps fall into three classes [MSP]:

- **compensatable** steps, before the pivot: they may fail, and are then undone;
- the **pivot**, the go/no-go step: the last one that may fail (on a fault or on a business
  rule: ``reject``, a probability drawn per request from the keyed stream ``saga:reject``, so
  every pattern and both coordinations reject the same requests); once it commits the saga
  runs to completion;
- **retriable** steps, after the pivot: they cannot fail for good, and are retried on every
  failure until they succeed.

``pivot`` names the pivot participant (the owner or a replica, by name, or a replica's index
from 0); by default it is the last replica, so every step can be compensated and none has to
be retried forward (judgment: with ``pivot: <owner>`` every replica's step is retriable, a
synchronous fan-out that never gives up).

**Local transactions.** A participant's row holds the newest version its steps stored that is
not compensated (:class:`Ledger`): a step stores its version unless a newer one is there (a
version check, so a late or repeated step never moves a row back) or its version was already
compensated (a compensation that overtook its step); a compensation undoes its version, and
where the row held it the row goes back to the newest version left. Both decide under the row
lock at the commit instant (a conditional write, :class:`~sim.infra.database.VersionAt`), so
they are idempotent and commute, as compensations must [MSP]. The owner's versions are issued
once (never reused after an undo). A step that finds a newer version in the row stores nothing
(the copy never holds its version): like an update a poller collapsed, its (version, copy)
pair counts in ``lost_updates`` although the copy holds a newer version; it happens when two
sagas of one key overlap and the older reaches a copy last (a paused orchestrator resuming).

**Measured** (besides the usual consistency, :mod:`sim.metrics.compensation`):
``compensations`` (compensating local transactions committed, the owner's included),
``sagas_stuck`` (sagas whose compensation still failed after ``compensation_retries``
retries, or unfinished after the drain), ``dirty_reads`` and ``dirty_read_window`` (reads of
a version later compensated; how long copies showed such versions): sagas give no isolation
[MSP, SAGA-AZ].

Left out: semantic locks and the other countermeasures [MSP], compensations that leave a
trace of their own (a refund), steps that touch several rows, parallel steps.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

from pydantic import Field

from sim.config.clients import Backoff
from sim.config.data import DataConfig
from sim.config.model import PatternSettings, Problem, Scenario
from sim.config.types import PositiveDuration, Probability
from sim.infra.rows import VersionAt
from sim.kernel.context import SimContext
from sim.kernel.draws import Keyed
from sim.metrics.catalog import Metric
from sim.metrics.compensation import dirty_reads, dirty_window
from sim.metrics.requests import RequestLog
from sim.patterns.messaging import CONSUMER_LAG_MAX
from sim.patterns.model import PatternModel

__all__ = ["SAGA_METRICS", "Ledger", "SagaBase", "SagaSettings"]

COMPENSATIONS = Metric(
    "compensations",
    "count",
    "compensating local transactions a saga committed (the owner's included)",
    "integrity",
)
SAGAS_STUCK = Metric(
    "sagas_stuck",
    "count",
    "sagas whose compensation kept failing past its retries, or unfinished after the drain",
    "integrity",
)
DIRTY_READS = Metric(
    "dirty_reads", "count", "reads that returned a version later compensated", "integrity"
)
DIRTY_READ_WINDOW = Metric(
    "dirty_read_window",
    "s",
    "time, summed over copies and keys, a copy showed a version later compensated",
    "integrity",
)
SAGA_METRICS = (COMPENSATIONS, SAGAS_STUCK, DIRTY_READS, DIRTY_READ_WINDOW, CONSUMER_LAG_MAX)


class SagaSettings(PatternSettings):
    """A chain of local transactions, one per copy, undone by compensations on failure."""

    kind: Literal["saga"]
    coordination: Literal["orchestration", "choreography"] = Field(
        "orchestration",
        description="an orchestrator at the owner calls each step, or participants react to "
        "each other's events on the broker [SAGA-AZ]",
    )
    pivot: str | int | None = Field(
        None,
        description="the go/no-go step: a participant's name (the owner or a replica) or a "
        "replica's index from 0; steps before are compensatable, after retriable [MSP]; "
        "default: the last replica",
    )
    reject: Probability = Field(
        0.0, description="probability the pivot refuses a request on a business rule"
    )
    timeout: PositiveDuration = Field(
        15.0, description="per call of a step (orchestration); Envoy route timeout [ENVOY]"
    )
    retries: int = Field(
        2, ge=0, le=100, description="retries of a failed compensatable or pivot step [ISTIO]"
    )
    compensation_retries: int = Field(
        100,
        ge=0,
        le=100_000,
        description="retries of a failed compensation before the saga is stuck; judgment",
    )
    backoff: Backoff = Field(
        default_factory=lambda: Backoff.model_validate({}),
        description="between retries of an orchestrator's calls (choreography uses the "
        "consumer's broker.retry_backoff)",
    )

    def problems(self, scenario: Scenario) -> list[Problem]:
        pivot = self.pivot
        if not isinstance(scenario.data, DataConfig):
            return []  # a saga refuses data.entities (entity_problems)
        replicas = scenario.data.replicas
        if isinstance(pivot, int) and not 0 <= pivot < len(replicas):
            return [(("pivot",), f"a replica's index, 0 to {len(replicas) - 1}", pivot)]
        if isinstance(pivot, str) and pivot not in (scenario.data.owner, *replicas):
            names = ", ".join((scenario.data.owner, *replicas))
            return [(("pivot",), f"must name the owner or a replica ({names})", pivot)]
        return []


class Ledger:
    """One participant's rows as its local transactions see them: per key, the versions its
    steps stored and those compensated; the row holds the newest stored one not compensated."""

    __slots__ = ("stored", "undone")

    def __init__(self) -> None:
        self.stored: dict[int, set[int]] = {}
        self.undone: dict[int, set[int]] = {}

    def row(self, key: int) -> int:
        """The version the row holds (0: none)."""
        gone = self.undone.get(key, set())
        return max((v for v in self.stored.get(key, ()) if v not in gone), default=0)

    def step(self, key: int, version: int) -> VersionAt:
        """A step's conditional write: store ``version`` unless it was compensated."""

        def at_commit(_current: int) -> int:
            if version not in self.undone.get(key, ()):
                self.stored.setdefault(key, set()).add(version)
            return self.row(key)

        return at_commit

    def undo(self, key: int, version: int) -> VersionAt:
        """A compensation's conditional write: ``version`` no longer counts."""

        def at_commit(_current: int) -> int:
            self.undone.setdefault(key, set()).add(version)
            return self.row(key)

        return at_commit


class SagaBase(PatternModel):
    """What both coordinations share: ledgers, step classes, rejection and the metrics."""

    settings = SagaSettings
    spec: SagaSettings
    metrics: ClassVar[tuple[Metric, ...]] = SAGA_METRICS
    kind: ClassVar[str] = "saga"

    def __init__(self, ctx: SimContext, scenario: Scenario, spec: Any, log: RequestLog) -> None:
        super().__init__(ctx, scenario, spec, log)
        self.participants = [self.owner, *self.replicas]
        """Step s runs at participants[s]: the owner's step 0, then each replica's."""
        self.ledgers = [Ledger() for _ in self.participants]
        self.issued: dict[int, int] = {}
        self.pivot = self._pivot_step(spec.pivot)
        self.compensations = 0
        self.stuck = 0
        self._reject = Keyed(ctx.streams, "saga:reject")

    def _pivot_step(self, pivot: str | int | None) -> int:
        if pivot is None:
            return len(self.participants) - 1
        if isinstance(pivot, int):
            return pivot + 1
        return self.participants.index(pivot)

    def step_class(self, step: int) -> str:
        """``compensatable``, ``pivot`` or ``retriable``."""
        if step < self.pivot:
            return "compensatable"
        return "pivot" if step == self.pivot else "retriable"

    def rejected(self, index: int, step: int) -> bool:
        """Whether the pivot's business rule refuses request ``index`` (at step ``step``)."""
        return step == self.pivot and self._reject.uniform(index) < self.spec.reject

    # -- local transactions (at commit, under the row lock) -----------------------------------
    def begin(self, key: int) -> VersionAt:
        """The owner's step 0: the key's next version, never issued before."""
        ledger = self.ledgers[0]

        def at_commit(current: int) -> int:
            version = max(self.issued.get(key, 0), current) + 1
            self.issued[key] = version
            ledger.stored.setdefault(key, set()).add(version)
            return version

        return at_commit

    def stepped(self, step: int, key: int, version: int) -> VersionAt:
        """Step ``step`` (a replica's) stores ``version``; an apply is recorded if it did."""
        decide = self.ledgers[step].step(key, version)
        env = self.ctx.env

        def at_commit(current: int) -> int:
            new = decide(current)
            if new != current:
                self.consistency.apply(step - 1, key, new, env.now)
            return new

        return at_commit

    def undone(self, step: int, key: int, version: int) -> VersionAt:
        """The compensation of step ``step`` for ``version``; recorded as an undo (the owner)
        or a revert (a copy whose row it changed)."""
        decide = self.ledgers[step].undo(key, version)
        env = self.ctx.env

        def at_commit(current: int) -> int:
            new = decide(current)
            self.compensations += 1
            if step == 0:
                self.consistency.undo(key, version, new, env.now)
            elif new != current:
                self.consistency.revert(step - 1, key, version, new, env.now)
            return new

        return at_commit

    # -- metrics -----------------------------------------------------------------------------
    def unfinished(self) -> int:
        """Sagas still under way (the coordinations count theirs)."""
        return 0

    def gauges(self) -> dict[str, float]:
        frames = {
            name: self.ctx.recorder.tables[name].frame()
            for name in ("applies", "reverts", "undone")
            if name in self.ctx.recorder.tables
        }
        requests = self.log.frame()
        reads = requests[
            (requests["op"] == "read")
            & (requests["outcome"] == "ok")
            & (requests["start"] >= self.scenario.warmup)
        ]
        undone = frames.get("undone")
        end = self.ctx.env.now
        window = dirty_window(
            frames["applies"], frames.get("reverts"), undone, end, self.scenario.warmup
        )
        return {
            "compensations": float(self.compensations),
            "sagas_stuck": float(self.stuck + self.unfinished()),
            "dirty_reads": float(dirty_reads(reads, undone)),
            "dirty_read_window": window,
            "consumer_lag_max": math.nan,
        }
