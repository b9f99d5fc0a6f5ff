"""A service: FIFO slots per instance, work drawn at arrival, balancing, and instance faults.

Times are whole multiples of a binary fraction of a second, so that sums are exact and two
events meant to be simultaneous really are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config.sections import ServiceConfig
from sim.infra.service import Job, Service
from sim.kernel.codes import ERROR, OK
from sim.kernel.context import SimContext

TICK = 1 / 64


def constant(seconds: float) -> dict[str, Any]:
    return {"dist": "constant", "value": seconds}


@dataclass
class Call:
    """What one caller saw: when it arrived, when its work began, how and when it was answered."""

    arrived: float
    job: Job | None = None
    worked: list[float] = field(default_factory=list)
    answers: list[tuple[int, Any, float]] = field(default_factory=list)


class Harness:
    """A service plus callers whose work holds the slot for ``hold`` seconds, then finishes."""

    def __init__(self, seed: int = 1, **config: Any) -> None:
        self.ctx = SimContext.create(seed)
        self.service = Service(self.ctx, "orders", ServiceConfig(**config))
        self.calls: list[Call] = []

    @property
    def now(self) -> float:
        return self.ctx.now

    def call(self, hold: float = 0.0) -> Call:
        record = Call(arrived=self.now)
        self.calls.append(record)

        def work(job: Job) -> None:
            record.worked.append(self.now)
            if hold <= 0:
                job.finish(OK, "done")
            else:
                job.after(hold, lambda: job.finish(OK, "done"))

        def done(outcome: int, value: Any) -> None:
            record.answers.append((outcome, value, self.now))

        record.job = self.service.call(work, done)
        return record

    def call_at(self, time: float, hold: float = 0.0) -> None:
        self.ctx.env.timeout(time - self.now).callbacks.append(lambda _e: self.call(hold))

    def at(self, time: float, action: Any) -> None:
        self.ctx.env.timeout(time - self.now).callbacks.append(lambda _e: action())

    def run(self, until: float | None = None) -> None:
        self.ctx.env.run(until=until)


# -- queueing ----------------------------------------------------------------------------------


def test_one_slot_serves_requests_in_arrival_order() -> None:
    h = Harness(instances=1, concurrency=1, service_time=constant(0.25))
    calls = [h.call() for _ in range(5)]
    h.run()
    assert [c.worked for c in calls] == [[0.25], [0.5], [0.75], [1.0], [1.25]]
    assert [c.answers for c in calls] == [[(OK, "done", t)] for t in (0.25, 0.5, 0.75, 1.0, 1.25)]


def test_a_slot_is_held_until_the_work_finishes() -> None:
    h = Harness(instances=1, concurrency=2, service_time=constant(0.25))
    calls = [h.call(hold=1.0) for _ in range(3)]
    h.run()
    # two slots: the third request starts when the first finishes its work at 1.25
    assert [c.worked for c in calls] == [[0.25], [0.25], [1.5]]
    assert [c.answers[0][2] for c in calls] == [1.25, 1.25, 2.5]


@settings(deadline=None)
@given(
    instances=st.integers(1, 3),
    concurrency=st.integers(1, 3),
    balancer=st.sampled_from(["round_robin", "random", "least_outstanding"]),
    requests=st.lists(
        st.tuples(st.integers(0, 4), st.integers(0, 6)), min_size=1, max_size=40
    ),  # (gap before arrival, hold of the slot by the work), in ticks
    seed=st.integers(0, 3),
)
def test_instances_serve_fifo_within_their_slots_and_never_idle_with_a_queue(
    instances: int,
    concurrency: int,
    balancer: str,
    requests: list[tuple[int, int]],
    seed: int,
) -> None:
    h = Harness(
        seed,
        instances=instances,
        concurrency=concurrency,
        load_balancer=balancer,
        service_time={"dist": "empirical", "samples": [0, TICK, 3 * TICK]},
    )
    time = 0.0
    for gap, hold in requests:
        time += gap * TICK
        h.call_at(time, hold * TICK)
    while h.ctx.env.peek() < math.inf:
        h.ctx.env.step()
        for instance in h.service.instances:
            assert len(instance.running) <= concurrency
            assert len(instance.running) + instance.free == concurrency
            assert not instance.queue or instance.free == 0

    assert len(h.calls) == len(requests)
    for index in range(instances):
        mine = [
            c for c in h.calls if c.job is not None and c.job.instance is h.service.instances[index]
        ]
        spans = []
        for c in mine:
            assert c.job is not None
            assert len(c.worked) == 1
            assert len(c.answers) == 1
            assert c.answers[0][0] == OK
            start = c.worked[0] - c.job.service_time
            spans.append((start, c.answers[0][2]))
        starts = [s for s, _ in spans]
        assert starts == sorted(starts), "FIFO: service starts in arrival order"
        for (start, _), c in zip(spans, mine, strict=True):
            busy = sum(1 for s, e in spans if s <= start < e)
            assert busy <= concurrency
            if start > c.arrived:  # it waited: every slot was busy when it arrived
                assert sum(1 for s, e in spans if s <= c.arrived < e) == concurrency


def test_a_long_queue_of_instant_requests_drains_completely() -> None:
    h = Harness(instances=1, concurrency=1, service_time=constant(0.0))
    first = h.call(hold=1.0)
    rest = [h.call() for _ in range(3000)]
    h.run()
    assert first.answers == [(OK, "done", 1.0)]
    assert all(c.answers == [(OK, "done", 1.0)] for c in rest)


# -- work drawn at arrival ---------------------------------------------------------------------


def test_service_time_is_drawn_at_arrival_so_any_layout_gives_a_request_the_same_work() -> None:
    def work_per_request(**layout: Any) -> list[float]:
        h = Harness(seed=42, service_time={"dist": "exponential", "mean": 0.01}, **layout)
        for i in range(200):
            h.call_at(i * TICK, hold=TICK)
        h.run()
        return [c.job.service_time for c in h.calls if c.job is not None]

    one_slot = work_per_request(instances=1, concurrency=1)
    assert len(one_slot) == 200
    assert one_slot == work_per_request(instances=3, concurrency=4, load_balancer="random")
    assert one_slot == work_per_request(
        instances=2, concurrency=1, load_balancer="least_outstanding"
    )


def test_without_queueing_the_work_starts_after_exactly_the_drawn_service_time() -> None:
    h = Harness(
        seed=5, instances=1, concurrency=1000, service_time={"dist": "exponential", "mean": 0.01}
    )
    for i in range(100):
        h.call_at(i * TICK)
    h.run()
    for c in h.calls:
        assert c.job is not None
        assert c.worked == [c.arrived + c.job.service_time]


# -- balancing ---------------------------------------------------------------------------------


def test_round_robin_cycles_through_the_instances() -> None:
    h = Harness(instances=3, concurrency=1, service_time=constant(1.0), load_balancer="round_robin")
    calls = [h.call() for _ in range(7)]
    assert [c.job.instance.index for c in calls if c.job and c.job.instance] == [
        0,
        1,
        2,
        0,
        1,
        2,
        0,
    ]


def test_least_outstanding_picks_an_instance_with_the_fewest_requests() -> None:
    h = Harness(
        seed=3,
        instances=3,
        concurrency=1,
        service_time={"dist": "exponential", "mean": 0.05},
        load_balancer="least_outstanding",
    )
    snapshots: list[tuple[list[int], int]] = []

    def observe_and_call() -> None:
        before = [instance.outstanding for instance in h.service.instances]
        record = h.call()
        assert record.job is not None
        assert record.job.instance is not None
        snapshots.append((before, record.job.instance.index))

    for i in range(300):
        h.at(i * TICK / 2, observe_and_call)
    h.run()
    assert len(snapshots) == 300
    for before, chosen in snapshots:
        assert before[chosen] == min(before)
    assert any(max(before) > min(before) for before, _ in snapshots)  # the choice mattered


def test_random_balancing_spreads_requests_evenly() -> None:
    n, instances = 30_000, 3
    h = Harness(
        seed=8,
        instances=instances,
        concurrency=1,
        service_time=constant(1.0),
        load_balancer="random",
    )
    counts = [0] * instances
    for _ in range(n):
        record = h.call()
        assert record.job is not None
        assert record.job.instance is not None
        counts[record.job.instance.index] += 1
    p = 1 / instances
    bound = 5 * math.sqrt(n * p * (1 - p))
    assert all(abs(count - n * p) < bound for count in counts)


def test_random_balancing_repeats_with_the_seed() -> None:
    def choices(seed: int) -> list[int]:
        h = Harness(seed=seed, instances=4, service_time=constant(1.0), load_balancer="random")
        return [
            c.job.instance.index for c in (h.call() for _ in range(50)) if c.job and c.job.instance
        ]

    assert choices(2) == choices(2)
    assert choices(2) != choices(3)


# -- faults ------------------------------------------------------------------------------------


def test_crash_fails_running_and_queued_requests_at_once_and_refuses_new_ones() -> None:
    h = Harness(instances=1, concurrency=1, service_time=constant(1.0))
    calls = [h.call() for _ in range(3)]  # one running, two queued
    instance = h.service.instances[0]
    h.at(0.5, instance.crash)
    h.call_at(0.75)
    h.at(2.0, instance.restart)
    h.call_at(2.0)
    h.call_at(2.0)
    h.run()
    assert [c.answers for c in calls] == [[(ERROR, "crashed", 0.5)]] * 3
    assert all(c.worked == [] for c in calls), "the crashed request's service must not complete"
    refused = h.calls[3]
    assert refused.answers == [(ERROR, "refused", 0.75)]
    assert refused.worked == []
    # back with an empty queue: the failed requests are gone, the one slot serves new ones
    assert [c.answers for c in h.calls[4:]] == [[(OK, "done", 3.0)], [(OK, "done", 4.0)]]


def test_late_finish_of_a_crashed_request_is_ignored() -> None:
    h = Harness(instances=1, concurrency=1, service_time=constant(0.125))
    victim = h.call(hold=1.0)  # its work runs from 0.125 and finishes at 1.125
    instance = h.service.instances[0]
    h.at(0.5, instance.crash)
    h.at(0.625, instance.restart)
    h.call_at(0.625, hold=1.0)
    h.call_at(0.625, hold=1.0)
    assert victim.job is not None
    job = victim.job
    h.at(1.125, lambda: h.service.finish(job, OK, "late"))  # a finish from a stale handle
    h.run()
    assert victim.answers == [(ERROR, "crashed", 0.5)]  # answered once, not again at 1.125
    first, second = h.calls[1], h.calls[2]
    # the one slot is still one slot: the late finish at 1.125 must not free a second one
    assert first.worked == [0.75]
    assert second.worked == [first.answers[0][2] + 0.125]
    assert second.answers == [(OK, "done", 1.75 + 1.0 + 0.125)]


def test_error_fault_fails_about_p_of_calls_fast() -> None:
    n, p = 20_000, 0.2
    h = Harness(seed=11, instances=1, concurrency=10, service_time=constant(0.0))
    h.service.instances[0].add_error(p)
    calls = [h.call() for _ in range(n)]
    errors = [c for c in calls if c.answers and c.answers[0][:2] == (ERROR, "injected")]
    assert all(len(c.answers) == 1 for c in calls)  # every call answered at once, at time 0
    assert all(c.worked == [] for c in errors)
    assert abs(len(errors) - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_error_faults_combine_as_independent_failures() -> None:
    n = 20_000
    h = Harness(seed=12, instances=1, concurrency=10, service_time=constant(0.0))
    h.service.instances[0].add_error(0.2)
    h.service.instances[0].add_error(0.5)
    p = 1 - 0.8 * 0.5
    errors = sum(1 for _ in range(n) if h.call().answers[0][0] == ERROR)
    assert abs(errors - n * p) < 5 * math.sqrt(n * p * (1 - p))


def test_latency_fault_lengthens_service_until_removed() -> None:
    h = Harness(instances=1, concurrency=4, service_time=constant(0.25))
    instance = h.service.instances[0]

    def extra() -> float:
        return 0.125

    instance.add_delay(extra)
    slowed = h.call()
    h.at(1.0, lambda: instance.remove_delay(extra))
    h.call_at(1.0)
    h.run()
    assert slowed.worked == [0.375]
    assert h.calls[1].worked == [1.25]
