"""Provisioned throughput at a database, DynamoDB style, and the SDK retrying what it throttles.

Each limited operation (reads, writes) has a **token bucket** in capacity units: it refills at
the provisioned rate and holds at most ``burst`` seconds of it — the burst bank, which unused
capacity fills [DDB]; the bank starts full (a table that was idle before the run). A request
takes ``ceil(item_kb / 4)`` units for a read, ``ceil(item_kb)`` for a write; with too few units
left it is **throttled**: refused at once, before it takes a connection
(``ProvisionedThroughputExceededException``). The **SDK** then waits a full-jitter backoff —
uniform in [0, min(max_backoff, backoff × 2^attempt)) [AWS-J1, AWS-JIT] — and sends it again, up
to ``retries`` times, after which the request fails. Throttling therefore shows as latency
first (the waits) and as errors only once the retries run out or the caller times out.

A ``throttle`` fault scales the provisioned rates by a factor for its window (the bank keeps
what it holds). Connector scans are not limited (DynamoDB Streams are read apart).

Left out: partitions and their 3,000 RCU / 1,000 WCU caps and adaptive capacity (one bucket per
table), eventually consistent reads at half a unit, on-demand mode, the SDK's retry quota.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

from sim.config.provisioned import Provisioned
from sim.kernel.context import SimContext

__all__ = ["Throttle", "TokenBucket"]


class TokenBucket:
    """Capacity units refilled at ``rate`` per second, at most ``rate × burst`` banked."""

    def __init__(self, rate: float, burst: float, now: float = 0.0) -> None:
        self.rate = rate
        self.burst = burst
        self.scale = 1.0
        self.tokens = self.size
        self.updated = now

    @property
    def size(self) -> float:
        # a bank of at least one second, so a request always fits in a full bucket
        return self.rate * self.scale * max(self.burst, 1.0)

    def take(self, units: float, now: float) -> bool:
        """Take ``units`` if they are there (refilling up to ``now`` first)."""
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate * self.scale)
        self.updated = now
        if self.tokens >= units:
            self.tokens -= units
            return True
        return False


class Throttle:
    """The provisioned capacity of one database and the SDK retries of its callers."""

    def __init__(self, ctx: SimContext, name: str, settings: Provisioned) -> None:
        self.env = ctx.env
        self.settings = settings
        self.reads = TokenBucket(settings.reads, settings.burst) if settings.reads else None
        self.writes = TokenBucket(settings.writes, settings.burst) if settings.writes else None
        self.read_units = math.ceil(settings.item_kb / 4.0)
        self.write_units = math.ceil(settings.item_kb)
        self._jitter = ctx.stream(f"db:{name}:sdk-backoff").uniform
        self.throttled = 0
        """Attempts refused for want of capacity."""

    def holds(
        self, query: Any, submit: Callable[[Any], None], fail: Callable[[Any, str], None]
    ) -> bool:
        """True when a database query is throttled (and retried later, or failed, by the SDK);
        connector scans and the commit of a prepared write pass."""
        if query.scan >= 0.0 or query.commit is not None:
            return False
        query.attempts += 1
        again, give_up = partial(submit, query), partial(fail, query, "throttled")
        return not self.admit(query.write, query.attempts - 1, again, give_up)

    def admit(
        self,
        write: bool,
        attempt: int,
        again: Callable[[], None],
        give_up: Callable[[], None],
    ) -> bool:
        """True when the request may go on; otherwise it was throttled, and ``again`` is
        scheduled after the SDK's backoff (or ``give_up`` called, past the last retry)."""
        bucket = self.writes if write else self.reads
        if bucket is None:
            return True
        if bucket.take(self.write_units if write else self.read_units, self.env.now):
            return True
        self.throttled += 1
        settings = self.settings
        if attempt >= settings.retries:
            give_up()
            return False
        ceiling = min(settings.max_backoff, settings.backoff * 2.0**attempt)
        wait = ceiling * self._jitter()
        self.env.timeout(wait).callbacks.append(lambda _event: again())
        return False

    def scale(self, factor: float) -> Callable[[], None]:
        """Scale the provisioned rates by ``factor`` (a throttle fault); returns the undo."""
        buckets = [b for b in (self.reads, self.writes) if b is not None]
        now = self.env.now
        for bucket in buckets:
            bucket.take(0.0, now)  # settle the refill at the old rate
            bucket.scale *= factor

        def undo() -> None:
            for bucket in buckets:
                bucket.take(0.0, self.env.now)
                bucket.scale /= factor

        return undo
