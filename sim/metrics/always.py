"""Invariants of the consistency and request logs, checked during a run (:mod:`sim.kernel.always`).

- **a copy applies only a version its owner committed** (:class:`CheckedConsistencyLog`): an
  ``apply(copy, key, version)`` of a version above the highest the owner has committed for
  that key so far. It holds for every pattern whose copies learn of a change only after its
  commit; a pattern that may hand a change out before committing it (a publish-first dual
  write, whose phantoms are exactly such applies) says so (``PatternModel.applies_committed``)
  and is not checked;
- **a request is answered once** (:class:`sim.metrics.requests.RequestLog`, with checks on): a
  second answer to the same request;
- **conservation at the end**: every request issued is answered ok, with an error or a
  timeout, or is still in flight when the run closes the log — no request is lost by the
  log itself.

Left out: the history-wide promises (no loss, convergence, order...), judged after the run by
:mod:`sim.metrics.invariants`.
"""

from __future__ import annotations

from sim.kernel.always import Always
from sim.kernel.recorder import Recorder
from sim.metrics.consistency import ConsistencyLog

__all__ = ["CheckedConsistencyLog", "consistency_log"]


class CheckedConsistencyLog(ConsistencyLog):
    """A :class:`~sim.metrics.consistency.ConsistencyLog` that checks every apply against
    the versions committed so far."""

    def __init__(
        self, recorder: Recorder, replicas: list[str], always: Always, first: int = 0
    ) -> None:
        super().__init__(recorder, replicas, first)
        self._always = always
        self._committed: dict[int, int] = {}

    def commit(self, key: int, version: int, time: float) -> None:
        if version > self._committed.get(key, 0):
            self._committed[key] = version
        super().commit(key, version, time)

    def apply(self, replica: int, key: int, version: int, time: float) -> None:
        highest = self._committed.get(key, 0)
        if version > highest:
            name = self.replicas[replica] if 0 <= replica < len(self.replicas) else replica
            self._always.broken(
                f"copy {name}",
                key,
                "a copy applies only a version its owner committed",
                f"<= {highest} (the highest committed so far)",
                version,
            )
        super().apply(replica, key, version, time)


def consistency_log(
    recorder: Recorder,
    replicas: list[str],
    always: Always,
    committed_only: bool = True,
    first: int = 0,
) -> ConsistencyLog:
    """The run's consistency log (of one entity's copies, numbered from ``first``): checked
    when checks are on and the pattern's copies apply only committed versions."""
    if always.on and committed_only:
        return CheckedConsistencyLog(recorder, replicas, always, first)
    return ConsistencyLog(recorder, replicas, first)
