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

**Partitions.** A key lives on one of the table's partitions (a fixed hash of the key), and
a partition serves at most 3,000 read and 1,000 write units per second whatever the table has
banked [DDB]: a request needs units in its partition's bucket (one second of the cap, no
burst) as well as in the table's. Adaptive capacity is what lets a hot partition use the rest
of the table's capacity at all, up to that cap, so the table's bucket is shared by every
partition. A hot key is thus throttled at the partition cap even when the table is idle.

**On demand.** No provisioned rate: the table serves up to twice its previous peak at once, so
its bucket refills at ``2 × peak`` (one second of it, no bank), capped by the table's maximum
throughput when one is set. Consumption is counted per second; a second's consumption becomes
the "previous peak" 30 minutes later, so a load more than twice the previous peak is throttled
until the table has grown [DDB].

A ``throttle`` fault scales the table's rates by a factor for its window (the bank keeps what it
holds; the partitions' hard caps stay). Connector scans are not limited (DynamoDB Streams are
read apart).

Left out: partition splits (the count is fixed for the run), hot-item isolation, eventually
consistent reads at half a unit, the SDK's retry quota.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from functools import partial
from typing import Any

from sim.config.provisioned import Provisioned
from sim.kernel.context import SimContext

__all__ = ["OnDemandPeak", "Throttle", "TokenBucket"]

PEAK_MATURES = 1800.0
"""Seconds after which a second's consumption counts as the on-demand table's previous peak."""


class TokenBucket:
    """Capacity units refilled at ``rate`` per second, at most ``rate × burst`` banked."""

    def __init__(
        self, rate: float, burst: float, now: float = 0.0, least: float | None = None
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.least = least
        """The smallest bank, in units (None: one second of the rate)."""
        self.scale = 1.0
        self.tokens = self.size
        self.updated = now

    @property
    def size(self) -> float:
        """The bank's capacity: ``burst`` seconds of the provisioned rate, at least ``least``
        units (by default one second, so a request always fits in a full bucket). A throttle
        fault (``scale``) slows the refill, not the bank: it keeps what it holds."""
        if self.least is None:
            return self.rate * max(self.burst, 1.0)
        return max(self.rate * self.burst, self.least)

    def available(self, now: float) -> float:
        """The units in the bucket at ``now`` (refilling up to then)."""
        self.tokens = min(self.size, self.tokens + (now - self.updated) * self.rate * self.scale)
        self.updated = now
        return self.tokens

    def take(self, units: float, now: float) -> bool:
        """Take ``units`` if they are there (refilling up to ``now`` first)."""
        if self.available(now) >= units:
            self.tokens -= units
            return True
        return False

    def set_rate(self, rate: float, now: float) -> None:
        """Refill at ``rate`` from ``now`` on."""
        self.available(now)
        self.rate = rate


class OnDemandPeak:
    """The previous peak of an on-demand table, for one operation: the highest per-second
    consumption at least :data:`PEAK_MATURES` old, or the initial peak."""

    def __init__(self, initial: float, maximum: float | None) -> None:
        self.peak = initial
        self.maximum = maximum
        self._second = 0
        self._units = 0.0
        self._seconds: deque[tuple[int, float]] = deque()

    def rate(self, now: float) -> float:
        """The rate the table serves at ``now``: twice the previous peak, capped."""
        seconds = self._seconds
        while seconds and seconds[0][0] + 1 <= now - PEAK_MATURES:
            self.peak = max(self.peak, seconds.popleft()[1])
        rate = 2.0 * self.peak
        return rate if self.maximum is None else min(rate, self.maximum)

    def consumed(self, units: float, now: float) -> None:
        second = int(now)
        if second != self._second:
            if self._units > 0:
                self._seconds.append((self._second, self._units))
            self._second, self._units = second, 0.0
        self._units += units


class Throttle:
    """The provisioned capacity of one database and the SDK retries of its callers."""

    def __init__(self, ctx: SimContext, name: str, settings: Provisioned) -> None:
        self.env = ctx.env
        self.settings = settings
        self.peaks: dict[bool, OnDemandPeak] = {}
        if settings.mode == "on_demand":
            self.peaks = {
                False: OnDemandPeak(settings.previous_peak_reads, settings.max_reads),
                True: OnDemandPeak(settings.previous_peak_writes, settings.max_writes),
            }
            self.reads: TokenBucket | None = TokenBucket(self.peaks[False].rate(0.0), 1.0)
            self.writes: TokenBucket | None = TokenBucket(self.peaks[True].rate(0.0), 1.0)
        else:
            self.reads = TokenBucket(settings.reads, settings.burst) if settings.reads else None
            self.writes = TokenBucket(settings.writes, settings.burst) if settings.writes else None
        self.partitions = settings.partition_count()
        self._partition_buckets: dict[tuple[bool, int], TokenBucket] = {}
        self.read_units = math.ceil(settings.item_kb / 4.0)
        self.write_units = math.ceil(settings.item_kb)
        self._jitter = ctx.stream(f"db:{name}:sdk-backoff").uniform
        self.throttled = 0
        """Attempts refused for want of capacity."""

    def partition_of(self, key: int) -> int:
        """The partition holding ``key`` (a fixed multiplicative hash)."""
        return ((key * 0x9E3779B1) & 0xFFFFFFFF) % self.partitions

    def _partition(self, write: bool, key: int) -> TokenBucket:
        where = (write, self.partition_of(key))
        bucket = self._partition_buckets.get(where)
        if bucket is None:
            settings = self.settings
            cap = settings.partition_writes if write else settings.partition_reads
            bucket = self._partition_buckets[where] = TokenBucket(cap, 1.0, self.env.now)
        return bucket

    def holds(
        self, query: Any, submit: Callable[[Any], None], fail: Callable[[Any, str], None]
    ) -> bool:
        """True when a database query is throttled (and retried later, or failed, by the SDK);
        connector scans and the commit of a prepared write pass."""
        if query.scan >= 0.0 or query.commit is not None:
            return False
        query.attempts += 1
        again, give_up = partial(submit, query), partial(fail, query, "throttled")
        return not self.admit(query.write, query.key, query.attempts - 1, again, give_up)

    def admit(
        self,
        write: bool,
        key: int,
        attempt: int,
        again: Callable[[], None],
        give_up: Callable[[], None],
    ) -> bool:
        """True when the request may go on; otherwise it was throttled, and ``again`` is
        scheduled after the SDK's backoff (or ``give_up`` called, past the last retry)."""
        bucket = self.writes if write else self.reads
        if bucket is None:
            return True
        now = self.env.now
        units = self.write_units if write else self.read_units
        peak = self.peaks.get(write)
        if peak is not None:
            rate = peak.rate(now)
            if rate != bucket.rate:
                bucket.set_rate(rate, now)
        partition = self._partition(write, key)
        if bucket.available(now) >= units and partition.available(now) >= units:
            bucket.tokens -= units
            partition.tokens -= units
            if peak is not None:
                peak.consumed(units, now)
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
