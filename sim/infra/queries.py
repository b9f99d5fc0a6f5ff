"""Database queries sent from one network node: a hop to the database, the query, a hop back.

``then(outcome, value)`` runs when the answer is back at the node; a write's ``on_commit``
runs at the database at the instant the query ends (so commits are recorded at their exact
time, whether or not anyone is still waiting for the answer). With an instant network the
hops cost nothing and a read runs straight away.
"""

from __future__ import annotations

from typing import Any

from sim.infra.network import Network
from sim.infra.rows import VersionAt
from sim.kernel.codes import Done
from sim.kernel.draws import WorkDraws

__all__ = ["Queries"]


class Queries:
    """The queries one node (a service, a connector) sends to databases."""

    __slots__ = ("network", "node")

    def __init__(self, network: Network | None, node: str) -> None:
        self.network = network
        self.node = node

    def read_row(
        self, database: Any, key: int, *, then: Done, draws: WorkDraws | None = None, n: int = 0
    ) -> None:
        """Read a row; ``then(outcome, version)``. ``draws`` and ``n``: the query is the n-th
        of that unit of work (:mod:`sim.kernel.draws`)."""
        network = self.network
        if network is None or network.instant:
            database.read(key, then, draws, n)
            return
        self._send(database, lambda ended: database.read(key, ended, draws, n), None, then)

    def write_row(
        self,
        database: Any,
        key: int,
        *,
        version: int | VersionAt | None = None,
        delete: bool = False,
        on_commit: Done | None = None,
        then: Done,
        draws: WorkDraws | None = None,
        n: int = 0,
        extra: float = 0.0,
        skew: float = 0.0,
    ) -> None:
        """Write a row: the key's next version (an owner's commit), ``version`` (a copy
        applying a change it received) or ``version(current)`` at the commit (a conditional
        write, :meth:`sim.infra.database.Database.write`); ``delete`` leaves a tombstone
        version; ``extra`` is more work in the same transaction; ``skew``, how far the
        writer's clock is off."""

        def issue(ended: Done) -> None:
            database.write(key, ended, version, delete, draws, n, extra, skew)

        self._send(database, issue, on_commit, then)

    def query(self, database: Any, issue: Any, *, on_end: Done | None = None, then: Done) -> None:
        """Any other query: ``issue(done)`` starts it at the database (prepare, commit
        prepared, ...); ``on_end`` runs there when it ends, ``then`` back at the node."""
        self._send(database, issue, on_end, then)

    def _send(self, database: Any, issue: Any, at_database: Done | None, back: Done) -> None:
        network = self.network
        if network is None:
            if at_database is None:
                issue(back)
                return

            def answered(outcome: int, value: Any) -> None:
                at_database(outcome, value)
                back(outcome, value)

            issue(answered)
            return
        node = f"db:{database.name}"
        source = self.node

        def ended(outcome: int, value: Any) -> None:
            if at_database is not None:
                at_database(outcome, value)
            network.send(node, source, lambda: back(outcome, value))

        network.send(source, node, lambda: issue(ended))
