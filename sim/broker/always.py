"""Invariants of the broker, checked during a run (:mod:`sim.kernel.always`).

Bound when a partition, the cluster, a consumer group or its poll loop is built with checks
on, so that with checks off their hot paths are the plain ones:

- **the high watermark never passes the log end** (:func:`check_partition`): after every
  move of the high watermark and every election;
- **a clean election keeps every committed record**: the new leader's log reaches the high
  watermark, so the high watermark never goes backwards but at an unclean election (a live
  replica outside the ISR leads, and committed records beyond its log are gone, as in Kafka).
  The log end itself may go back at any election (uncommitted records are truncated);
- **an acks=all write is acknowledged only with the ISR at min.insync.replicas or more**
  (:func:`check_broker`);
- **a fetch returns only records below the high watermark** (:func:`check_poll_loop`);
- **a committed consumer offset is never past the log end** (:func:`check_group`), unless an
  unclean election truncated that partition's log under it (its committed records are gone;
  the consumer's next fetch resets its position, ``consumer_skipped``).

Left out: the producers' sequence numbers (the idempotence state, :mod:`sim.broker.dedup`),
the logs' segments, retention and compaction.
"""

from __future__ import annotations

from typing import Any

from sim.broker.log import Record
from sim.kernel.always import Always

__all__ = ["check_broker", "check_group", "check_partition", "check_poll_loop"]


def _name(part: Any) -> str:
    return f"partition {part.topic}/{part.index}"


def check_partition(part: Any, always: Always) -> None:
    """Bind the checked high watermark and election on ``part``."""
    cls = type(part)
    plain_update, plain_install = cls._update_hw, cls._install_leader
    part.unclean_truncations = 0

    def beyond_end() -> None:
        if part.hw > part.log.end:
            always.broken(
                _name(part),
                "-",
                "the high watermark never passes the log end",
                f"<= {part.log.end}",
                part.hw,
            )

    def update_hw() -> None:
        plain_update(part)
        beyond_end()

    def install_leader(new_leader: int, unclean: bool) -> None:
        before = part.hw
        if not unclean and part.disk[new_leader] < before:
            always.broken(
                _name(part),
                "-",
                "a clean election keeps every committed record",
                f"the new leader's log reaching the high watermark {before}",
                f"broker {new_leader}'s log ends at {part.disk[new_leader]}",
            )
        plain_install(part, new_leader, unclean)
        if unclean and part.log.end < before:
            part.unclean_truncations += 1
        beyond_end()

    part._update_hw = update_hw
    part._install_leader = install_leader


def check_broker(broker: Any) -> None:
    """Bind the checked acknowledgement of acks=all writes on ``broker``."""
    always = broker.ctx.always
    plain = type(broker)._committed
    least = broker.config.min_insync_replicas

    def committed(request: Any, error: str | None, base: int) -> None:
        if error is None and request.acks == "all":
            part = broker.partition(request.topic, request.partition)
            if len(part.isr) < least:
                always.broken(
                    _name(part),
                    base,
                    "acks=all is acknowledged only with the ISR at min.insync.replicas",
                    f"an ISR of {least} or more",
                    f"ISR {part.isr}",
                )
        plain(broker, request, error, base)

    broker._committed = committed


def check_poll_loop(loop: Any) -> None:
    """Bind the checked fetch on ``loop``."""
    plain = type(loop)._fetch
    g = loop.g
    always = g.ctx.always

    def fetch(m: Any) -> list[Record]:
        records = plain(loop, m)
        for record in records:
            part = g._parts[record.partition]
            if record.offset >= part.hw:
                always.broken(
                    f"consumer {g.group_id} member {m.index}",
                    record.key,
                    "a fetch returns only records below the high watermark",
                    f"an offset below {part.hw} in {_name(part)}",
                    record.offset,
                )
        return records

    loop._fetch = fetch


def check_group(g: Any) -> None:
    """Bind the checked offset commit on ``g``."""
    plain = type(g)._commit
    always = g.ctx.always

    def commit(m: Any) -> int:
        moved = plain(g, m)
        for partition, offset in g.committed.items():
            part = g._parts[partition]
            if offset > part.log.end and not getattr(part, "unclean_truncations", 0):
                always.broken(
                    f"consumer {g.group_id}",
                    f"partition {partition}",
                    "a committed offset is never past the log end",
                    f"<= {part.log.end}",
                    offset,
                )
        return moved

    g._commit = commit
