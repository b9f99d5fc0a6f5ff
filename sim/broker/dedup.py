"""What a partition leader remembers of its producers, to recognise a retried batch.

- An **idempotent** producer numbers its records; the leader keeps, per producer id, the last
  sequence number and the last five batches (``max.in.flight.requests.per.connection=5``
  [K-PROD]). A batch whose sequence was already appended is answered with its first offset
  (no second copy); a gap is refused with ``OUT_OF_ORDER_SEQUENCE_NUMBER``.
- A **non-idempotent** producer's batches are remembered by batch id for
  ``delivery_timeout`` (how long a retry can arrive), only so that the broker metrics can
  count a retry appended a second time as a duplicate; the broker does not drop it.

After a truncation (a new leader's log is shorter) only batches still in the log are
remembered.
"""

from __future__ import annotations

from collections import deque

from sim.broker.log import Offset

__all__ = ["ProducerMemory", "ProducerSequence"]


class ProducerSequence:
    """What the leader remembers of one idempotent producer on one partition (last 5 batches)."""

    __slots__ = ("batches", "last_seq")

    def __init__(self) -> None:
        self.last_seq = -1
        self.batches: deque[tuple[int, int, Offset]] = deque(maxlen=5)
        """(base sequence, record count, base offset) of the most recent batches."""


class ProducerMemory:
    """The producers' batches one partition remembers."""

    __slots__ = ("_recent_order", "recent_batches", "sequences")

    def __init__(self) -> None:
        self.sequences: dict[str, ProducerSequence] = {}
        self.recent_batches: dict[int, Offset] = {}
        self._recent_order: deque[tuple[float, int]] = deque()

    def check_sequence(
        self, producer: str, base_seq: int, count: int
    ) -> tuple[str | None, Offset] | None:
        """None when an idempotent batch is next in sequence; otherwise the answer to give:
        ``(None, first offset)`` for a duplicate, an error for a gap."""
        state = self.sequences.get(producer)
        if state is None:
            return None
        if base_seq <= state.last_seq:
            for seen_seq, batch_count, base_offset in state.batches:
                if seen_seq == base_seq and batch_count == count:
                    return None, base_offset
            return None, -1
        if base_seq != state.last_seq + 1:
            return "OUT_OF_ORDER_SEQUENCE_NUMBER", -1
        return None

    def appended_idempotent(self, producer: str, base_seq: int, count: int, base: Offset) -> None:
        """An idempotent batch was appended at ``base``."""
        state = self.sequences.get(producer)
        if state is None:
            state = self.sequences[producer] = ProducerSequence()
        state.batches.append((base_seq, count, base))
        state.last_seq = base_seq + count - 1

    def appended_batch(self, batch_id: int, base: Offset, now: float, horizon: float) -> None:
        """A non-idempotent batch was appended at ``base``; remember it for ``horizon``."""
        self.recent_batches[batch_id] = base
        order = self._recent_order
        order.append((now, batch_id))
        while order and order[0][0] < now - horizon:
            self.recent_batches.pop(order.popleft()[1], None)

    def truncated(self, end: Offset) -> None:
        """The log was cut at ``end``: forget every batch beyond it."""
        for producer, state in list(self.sequences.items()):
            kept = [batch for batch in state.batches if batch[2] + batch[1] <= end]
            if not kept:
                del self.sequences[producer]
                continue
            state.batches.clear()
            state.batches.extend(kept)
            state.last_seq = kept[-1][0] + kept[-1][1] - 1
        self.recent_batches = {b: o for b, o in self.recent_batches.items() if o < end}
