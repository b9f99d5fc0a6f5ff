"""Replication of one partition: leader, followers, in-sync replicas, high watermark, elections.

The model follows Kafka's design (domain.md §1.2, [K-DESIGN, K-BRK]):

- Every replica's log is a prefix of the current leader's log. A single :class:`PartitionLog`
  holds the leader's records and each follower is described by how far its own log reaches:
  ``disk`` (what it has stored) and ``leo`` (what the leader has learned it has, from the
  follower's next fetch). A follower stores a batch ``replication_latency`` after the leader's
  append and the leader learns of it one network ``latency`` later; copies stay in order.
- The high watermark is the smallest ``leo`` over the in-sync replica set (ISR). Consumers read
  below it; ``acks=all`` completes when it passes the batch. When the ISR is smaller than
  ``min.insync.replicas`` at that moment, the batch is in the log but the producer gets
  ``NOT_ENOUGH_REPLICAS_AFTER_APPEND``: a non-idempotent retry stores it again, a second
  record at its own offset, and only that one counts as acknowledged.
- A dead replica stops copying at once. The controller notices after ``failure_detection``
  (KRaft broker session timeout): a dead follower leaves the ISR then (so ``acks=all`` stalls
  until it does), and a dead leader is replaced ``election_time`` later by the first live ISR
  member in replica order. The new leader's log is authoritative: records beyond its end are
  truncated. They were never committed, except after an unclean election (a live non-ISR replica
  chosen when no ISR member is alive), which is the only way committed records disappear.
  Clients see the partition again ``metadata_refresh`` after the election.
- A live follower that stays behind for ``replica_lag_time_max`` leaves the ISR; any follower
  rejoins once its log reaches the high watermark. The last ISR member is never removed (Kafka
  keeps it so that a clean election stays possible when it returns).
- A returning replica truncates to the leader's log and catches up in one copy whose duration
  adds the missing bytes at the partition throughput.

Left out: leader epochs as a protocol (the shared-prefix log makes divergence impossible by
construction), the controller quorum and its own failures, preferred-leader rebalancing
(``auto.leader.rebalance.enable``), controlled shutdown, rack awareness, follower fetch
sessions and throttling, producer-state snapshots (idempotence state is rebuilt from the log).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Protocol

import simpy

from sim.broker.dedup import ProducerMemory
from sim.broker.log import Offset, PartitionId, PartitionLog, Record
from sim.broker.metrics import BrokerMetrics
from sim.config.broker import BrokerConfig
from sim.config.distributions import Sampler

__all__ = ["AckCallback", "Partition", "ReplicaHost"]


class ReplicaHost(Protocol):
    """What a partition needs of its cluster (the :class:`~sim.broker.cluster.Broker`)."""

    env: simpy.Environment
    config: BrokerConfig
    metrics: BrokerMetrics
    sample_latency: Sampler
    sample_replication: Sampler


AckCallback = Callable[[str | None], None]
"""Called once the high watermark passes a batch: ``None`` or an error code."""


class Partition:
    """One partition of a topic with its replicas on brokers."""

    def __init__(
        self,
        broker: ReplicaHost,
        topic: str,
        index: PartitionId,
        replicas: tuple[int, ...],
        log: PartitionLog,
    ) -> None:
        self._broker = broker
        self._env = broker.env
        self.topic = topic
        self.index = index
        self.replicas = replicas
        self.log = log
        self.leader: int | None = replicas[0]
        self.epoch = 0
        self.isr: list[int] = list(replicas)
        self.hw: Offset = 0
        self.available = True
        """Whether clients can reach a leader (False from a leader's death until clients learn
        the next one)."""
        self.alive = dict.fromkeys(replicas, True)
        self.leo = dict.fromkeys(replicas, 0)
        self.disk = dict.fromkeys(replicas, 0)
        self._gen = dict.fromkeys(replicas, 0)
        self._term = 0
        self._pending: dict[int, deque[tuple[float, Offset]]] = {b: deque() for b in replicas}
        self._last_durable = dict.fromkeys(replicas, 0.0)
        self._last_learn = dict.fromkeys(replicas, 0.0)
        self._election_pending = False
        self._previous_leader: int | None = None
        self._unavailable_since = 0.0
        self.busy_until = 0.0
        self._ack_waiters: deque[tuple[Offset, AckCallback]] = deque()
        self._data_watchers: list[Callable[[], None]] = []
        self._availability_watchers: list[Callable[[], None]] = []
        self.unclean_truncations = 0
        """Unclean elections that truncated committed records (counted with checks on)."""
        self.producers = ProducerMemory()
        """The producers' batches this partition's leader remembers (:mod:`sim.broker.dedup`)."""

    def start_without(self, dead: set[int]) -> None:
        """Begin life with the replicas on ``dead`` brokers down (a topic created mid-outage)."""
        down = [b for b in self.replicas if b in dead]
        if not down:
            return
        for replica in down:
            self.alive[replica] = False
        live = [b for b in self.replicas if b not in dead]
        self.isr = live or [self.replicas[0]]
        self.leader = live[0] if live else None
        if self.leader is None:
            self.available = False

    # --- state queries ------------------------------------------------------------------------

    @property
    def leader_up(self) -> bool:
        """True when a leader is elected and alive."""
        return self.leader is not None and self.alive[self.leader]

    def _at(self, delay: float, action: Callable[[], None]) -> None:
        event = self._env.timeout(delay)
        event.callbacks.append(lambda _event: action())

    # --- watchers -----------------------------------------------------------------------------

    def watch_data(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, at the next high-watermark advance or availability change."""
        self._data_watchers.append(callback)

    def watch_availability(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` once, when clients can next reach a leader."""
        self._availability_watchers.append(callback)

    def _notify_data(self) -> None:
        if self._data_watchers:
            watchers, self._data_watchers = self._data_watchers, []
            for watcher in watchers:
                watcher()

    def _notify_available(self) -> None:
        watchers, self._availability_watchers = self._availability_watchers, []
        for watcher in watchers:
            watcher()
        self._notify_data()

    # --- appends and replication --------------------------------------------------------------

    def append(self, records: list[Record], batch_id: int, base_seq: int) -> Offset:
        """Append a batch on the leader, start its copies to followers; returns its base offset."""
        leader = self.leader
        assert leader is not None, "append needs a live leader"
        now = self._env.now
        base = self.log.end
        log_append = self.log.append
        for i, record in enumerate(records):
            record.batch_id = batch_id
            record.sequence = base_seq + i if base_seq >= 0 else -1
            log_append(record, now)
        end = self.log.end
        self.leo[leader] = self.disk[leader] = end
        followers = [b for b in self.replicas if b != leader and self.alive[b]]
        if followers:
            sample = self._broker.sample_replication
            self._copy(followers, end, [sample() for _ in followers])
        else:
            self._update_hw()
        return base

    def _copy(self, followers: list[int], end: Offset, durations: list[float]) -> None:
        """Schedule the copy of the log up to ``end`` to followers.

        Each follower stores it after its own duration and the leader learns of it one
        ``latency`` later (in order per follower); one event applies the copies of all of them
        when the last is learned, which is when the high watermark can pass ``end``.
        """
        now = self._env.now
        latency = self._broker.sample_latency
        last_learn = now
        gens = []
        lag_max = self._broker.config.replica_lag_time_max
        for follower, duration in zip(followers, durations, strict=True):
            durable = max(now + duration, self._last_durable[follower])
            learn = max(durable + latency(), self._last_learn[follower])
            self._last_durable[follower] = durable
            self._last_learn[follower] = learn
            self._pending[follower].append((durable, end))
            gens.append(self._gen[follower])
            last_learn = max(last_learn, learn)
            if learn - now > lag_max and follower in self.isr:
                self._arm_lag_check(follower, end, lag_max)
        term = self._term
        self._at(last_learn - now, lambda: self._learned(followers, gens, end, term))

    def _learned(self, followers: list[int], gens: list[int], end: Offset, term: int) -> None:
        if term != self._term or not self.leader_up:
            return
        for follower, gen in zip(followers, gens, strict=True):
            if gen != self._gen[follower]:
                continue
            pending = self._pending[follower]
            while pending and pending[0][1] <= end:
                pending.popleft()
            if end > self.leo[follower]:
                self.disk[follower] = max(self.disk[follower], end)
                self.leo[follower] = end
            if follower not in self.isr and self.leo[follower] >= self.hw:
                self._set_isr([b for b in self.replicas if b in self.isr or b == follower])
                self._broker.metrics.isr_change(self, follower, "expand")
        self._update_hw()

    def _arm_lag_check(self, follower: int, end: Offset, delay: float) -> None:
        term, gen = self._term, self._gen[follower]
        self._at(delay, lambda: self._lag_check(follower, end, term, gen))

    def _lag_check(self, follower: int, end: Offset, term: int, gen: int) -> None:
        if term != self._term or gen != self._gen[follower]:
            return
        if self.leo[follower] < end and follower in self.isr and len(self.isr) > 1:
            self._set_isr([b for b in self.isr if b != follower])
            self._broker.metrics.isr_change(self, follower, "shrink-lag")
            self._update_hw()

    def _set_isr(self, members: list[int]) -> None:
        self.isr = members

    def _update_hw(self) -> None:
        if not self.leader_up:
            return
        hw = min(self.leo[b] for b in self.isr)
        if hw <= self.hw:
            return
        self.hw = hw
        enough = len(self.isr) >= self._broker.config.min_insync_replicas
        waiters = self._ack_waiters
        while waiters and waiters[0][0] <= hw:
            _end, callback = waiters.popleft()
            callback(None if enough else "NOT_ENOUGH_REPLICAS_AFTER_APPEND")
        self._notify_data()

    def wait_for_commit(self, end: Offset, callback: AckCallback) -> None:
        """Call ``callback`` when the high watermark reaches ``end`` (acks=all)."""
        if self.hw >= end:
            callback(None)
        else:
            self._ack_waiters.append((end, callback))

    def _disk_end(self, replica: int) -> Offset:
        if replica == self.leader and self.alive[replica]:
            return self.log.end
        now = self._env.now
        end = self.disk[replica]
        for durable, batch_end in self._pending[replica]:
            if durable <= now and batch_end > end:
                end = batch_end
        return end

    # --- failures and elections ---------------------------------------------------------------

    def replica_down(self, replica: int) -> None:
        """The replica on ``replica``'s broker dies (hard: no hand-over)."""
        if not self.alive[replica]:
            return
        now = self._env.now
        if replica == self.leader:
            for follower in self.replicas:
                if follower != replica and self.alive[follower]:
                    self.disk[follower] = self._disk_end(follower)
                    self._pending[follower].clear()
            self.disk[replica] = self.log.end
            self._term += 1
            self.available = False
            self._unavailable_since = now
            waiters, self._ack_waiters = self._ack_waiters, deque()
            for _end, callback in waiters:
                callback("NETWORK_EXCEPTION")
            self._previous_leader = replica
            self.leader = None  # a restarted broker does not resume leadership by itself
            if not self._election_pending:
                self._election_pending = True
                config = self._broker.config
                self._at(config.failure_detection + config.election_time, self._elect)
        else:
            self.disk[replica] = self._disk_end(replica)
            self._pending[replica].clear()
            gen = self._gen[replica] + 1
            self._at(self._broker.config.failure_detection, lambda: self._fence(replica, gen))
        self.alive[replica] = False
        self._gen[replica] += 1

    def _fence(self, replica: int, gen: int) -> None:
        if gen != self._gen[replica] or self.alive[replica]:
            return
        if replica in self.isr and len(self.isr) > 1:
            self._set_isr([b for b in self.isr if b != replica])
            self._broker.metrics.isr_change(self, replica, "shrink-dead")
            self._update_hw()

    def replica_up(self, replica: int) -> None:
        """The replica comes back: it truncates to the leader's log and catches up."""
        if self.alive[replica]:
            return
        self.alive[replica] = True
        self._gen[replica] += 1
        self._last_durable[replica] = self._last_learn[replica] = self._env.now
        if self.leader_up:
            self._catch_up(replica)
        elif not self._election_pending:
            self._election_pending = True
            self._at(self._broker.config.election_time, self._elect)

    def _catch_up(self, follower: int) -> None:
        self.disk[follower] = min(self.disk[follower], self.log.end)
        self.leo[follower] = self.disk[follower]
        if self.disk[follower] < self.log.end:
            missing = self.log.bytes_between(self.disk[follower], self.log.end)
            duration = (
                self._broker.sample_replication()
                + missing / self._broker.config.partition_throughput
            )
            self._copy([follower], self.log.end, [duration])
        elif follower not in self.isr and self.leo[follower] >= self.hw:
            self._set_isr([b for b in self.replicas if b in self.isr or b == follower])
            self._broker.metrics.isr_change(self, follower, "expand")

    def _elect(self) -> None:
        self._election_pending = False
        if self.leader_up:
            return
        live_isr = [b for b in self.replicas if b in self.isr and self.alive[b]]
        unclean = False
        if live_isr:
            new_leader = live_isr[0]
        else:
            live = [b for b in self.replicas if self.alive[b]]
            if not live or not self._broker.config.unclean_leader_election:
                # offline; the ISR is kept so that a returning member can lead cleanly
                self._broker.metrics.election(
                    self, self._previous_leader, unclean=False, truncated=[]
                )
                return
            new_leader, unclean = live[0], True
        self._install_leader(new_leader, unclean)

    def _install_leader(self, new_leader: int, unclean: bool) -> None:
        old_leader = self._previous_leader
        end = self.disk[new_leader]
        truncated = self.log.truncate(end)
        for replica in self.replicas:
            self.disk[replica] = min(self.disk[replica], self.log.end)
            self.leo[replica] = self.disk[replica]
            self._pending[replica].clear()
            self._last_durable[replica] = self._last_learn[replica] = self._env.now
        if truncated:
            self.producers.truncated(self.log.end)
        self.leader = new_leader
        self.epoch += 1
        self._term += 1
        if unclean:
            self.isr = [new_leader]
            self.hw = min(self.hw, self.log.end)
        else:
            dropped = [b for b in self.isr if not self.alive[b]]
            self.isr = [b for b in self.replicas if b in self.isr and self.alive[b]]
            for replica in dropped:
                self._broker.metrics.isr_change(self, replica, "shrink-dead")
        self.leo[new_leader] = self.disk[new_leader] = self.log.end
        self._broker.metrics.election(self, old_leader, unclean=unclean, truncated=truncated)
        for follower in self.replicas:
            if follower != new_leader and self.alive[follower]:
                self._catch_up(follower)
        self._update_hw()
        epoch = self.epoch
        self._at(self._broker.config.metadata_refresh, lambda: self._reachable(epoch))

    def _reachable(self, epoch: int) -> None:
        if epoch == self.epoch and self.leader_up:
            self.available = True
            self._broker.metrics.available_again(self, self._unavailable_since)
            self._notify_available()
