"""What a query-based poller saw, for a key's timeline: each query's snapshot, its bounds and
the position it moved to, and the timestamp and id columns each commit gave its row.

Two tables of the run, recorded by :class:`PollTrace` for a JDBC source task:

- ``poll_positions``: one row per query that reached its snapshot — ``time`` (when the
  query's snapshot was taken), ``connector``, ``bound`` (the timestamp modes' upper bound,
  the database's ``now − timestamp_delay``; ``inf`` for the other modes), ``from_ts`` and
  ``from_id`` (the position the query started from), ``to_ts`` and ``to_id`` (where the
  position stood when the query ended), ``rows`` (rows handed over).
- ``row_stamps``: one row per commit of the polled table — ``key``, ``version``, ``stamp``
  (the timestamp column: when the writing transaction began, on the database's clock and the
  writer's skew) and ``row_id`` (the incrementing column); the commit's time is in the
  run's ``commits`` table.

With both, a row that a poll skipped for good reads off the timeline: stamped before a
snapshot, committed after it, below the position that snapshot left. Recording costs one
append per commit and per query; nothing else reads these tables during the run.

Left out: the rows each query returned (the ``rows`` count and the ``applies`` table say
what was published).
"""

from __future__ import annotations

from typing import NamedTuple

from sim.infra.database import Database
from sim.infra.rows import Commit
from sim.kernel.context import SimContext

__all__ = ["PollTrace", "Snapshot"]


class Snapshot(NamedTuple):
    """A query's snapshot: when it was taken, its upper bound, where it started."""

    time: float
    bound: float
    from_ts: float
    from_id: int


class PollTrace:
    """Records a poller's queries and the stamps its table's commits carry."""

    def __init__(self, ctx: SimContext, connector: str, database: Database) -> None:
        self.connector = connector
        self._database = database
        self._polls = ctx.recorder.table(
            "poll_positions",
            {
                "time": "d",
                "connector": "s",
                "bound": "d",
                "from_ts": "d",
                "from_id": "q",
                "to_ts": "d",
                "to_id": "q",
                "rows": "q",
            },
        )
        self._stamps = ctx.recorder.table(
            "row_stamps",
            {"key": "q", "version": "q", "stamp": "d", "row_id": "q"},
        )
        database.commit_listeners.append(self._stamped)

    def _stamped(self, entry: Commit) -> None:
        meta = self._database.meta[entry.key]
        self._stamps.append(entry.key, entry.version, meta.updated_at, meta.row_id)

    def query(self, snapshot: Snapshot, to_ts: float, to_id: int, rows: int) -> None:
        """A query that took ``snapshot`` ended with the position at (``to_ts``, ``to_id``)
        after handing over ``rows`` rows."""
        self._polls.append(
            snapshot.time,
            self.connector,
            snapshot.bound,
            snapshot.from_ts,
            snapshot.from_id,
            to_ts,
            to_id,
            rows,
        )
