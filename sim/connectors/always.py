"""Invariants of the log-based CDC connector, checked during a run (:mod:`sim.kernel.always`).

Bound when a :class:`~sim.connectors.cdc.CdcConnector` is built with checks on:

- **a change sent is one the source committed**: its position is within the source's commit
  log, and its version is no newer than the version the source's row holds (the owner's
  versions only move forward, so a change the source has not committed yet would be newer);
- **the stored source offset and the slot are never ahead of the commit log**: a flushed
  offset, or a confirmed slot position, past the source's last LSN would name a change that
  was never committed there (and skip it after a restart);
- **the read position is never past the end of the commit log**.

Left out: the query-based poller (:mod:`sim.connectors.jdbc`), whose offsets are timestamps
and ids a clock skew or a long transaction may legitimately put ahead of rows still to
commit — the skipped rows are the figure it measures.
"""

from __future__ import annotations

from typing import Any

__all__ = ["check_cdc"]


def check_cdc(connector: Any) -> None:
    """Bind the checked send and flush on ``connector``."""
    cls = type(connector)
    plain_send, plain_flush = cls._send_change, cls.flush
    always = connector.ctx.always
    database = connector.database
    where = f"connector {connector.name}"

    def ahead(what: str, lsn: int | None) -> None:
        end = len(database.commit_log)
        if lsn is not None and lsn > end:
            always.broken(
                where, "-", f"{what} is never ahead of the commit log", f"<= LSN {end}", lsn
            )

    def send_change(epoch: int, key: int, version: int, offset: Any) -> None:
        ahead("a change's position", offset.lsn)
        committed = database.version(key)
        if version > committed:
            always.broken(
                where,
                key,
                "a change sent is one the source committed",
                f"a version <= {committed} (the source's row)",
                version,
            )
        plain_send(connector, epoch, key, version, offset)

    def flush() -> None:
        plain_flush(connector)
        ahead(
            "the stored source offset", None if connector.stored is None else connector.stored.lsn
        )
        ahead("the slot's confirmed position", connector.slot)
        ahead("the read position", connector.position)

    connector._send_change = send_change
    connector.flush = flush
