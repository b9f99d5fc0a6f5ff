"""The broker model against published Kafka behaviour: light-load latency and a crash's pause.

(a) **Producer-to-consumer latency at light load** (``validation/scenarios/kafka-latency.yaml``)
against the figures ``domain.md`` §1.8 cites: [KREPS] (2014, LinkedIn's test on three cheap
machines with 100-byte records: 2 ms p50, 3 ms p99, 14 ms p99.9) and [CFLT-OMB] (2020,
cloud VMs, 5 ms p99 at 200 MB/s). The latency of a record is read off the broker's
``broker_consume`` table: from the producer's ``send`` (the record's timestamp) to the consumer
handing it back. Rule: the same order of magnitude, within a factor of 3 of each published
percentile. The model is configured as close to their set-up as it allows; what differs is said
in the section (no disks, CPUs or NICs, only latency distributions; their replication and acks
and the load of their latency test are not stated in the cited summary). The model's broker latencies are a
judgment informed by these same figures (``docs/broker.md``), so this is a check of how the
hops compose into an end-to-end time, not an independent measurement.

(b) **The pause after a consumer crash** (``validation/scenarios/kafka-crash.yaml``) against
Kafka's documented behaviour (§1.4): the crashed member is noticed when its session times out
(``session.timeout.ms`` 45 s, heartbeats every 3 s, so 42–45 s after the crash), and a
rebalance of about 3 s [STATIC] hands its partitions on. Measured from the outputs: for each
partition the crashed member held, the time from its last record consumed before the crash to
its first record consumed after. The group's pause is the earliest of these (the partitions
resume together; the new owner then works through their backlogs one fetch at a time, so the
later partitions' first records come later, shown too). Rule: session timeout − heartbeat
interval + rebalance ≤ pause ≤ session timeout + rebalance, with 0.5 s either side for the gaps
between records and one fetch. The model's rebalance time is itself the documented 3 s, so the
check is that detection, rebalance and resumption compose as documented.

Run alone: ``python -m validation.real.kafka default`` prints the section.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sim import api

__all__ = ["CRASH_RUNS", "LATENCY_RUNS", "PROFILES", "section"]

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LATENCY = SCENARIOS / "kafka-latency.yaml"
CRASH = SCENARIOS / "kafka-crash.yaml"
FACTOR = 3.0
SLACK = 0.5
PUBLISHED = (
    ("KREPS", "p50", 50.0, 0.002),
    ("KREPS", "p99", 99.0, 0.003),
    ("KREPS", "p99.9", 99.9, 0.014),
    ("CFLT-OMB", "p99", 99.0, 0.005),
)
"""(source, percentile name, q, published seconds)."""
LATENCY_RUNS = {
    "smoke": ["replications=1", "workload.phases[0].duration=20s"],
    "default": ["replications=3"],
    "full": ["replications=10", "workload.phases[0].duration=120s"],
}
"""Overrides of the latency scenario per profile (it runs 60 s of load by default)."""
CRASH_RUNS = {"smoke": 1, "default": 3, "full": 10}
"""Replications of the crash scenario per profile (100 s of load each)."""
PROFILES = tuple(LATENCY_RUNS)


@dataclass(frozen=True)
class Percentile:
    source: str
    name: str
    published: float
    values: list[float]
    """the simulated percentile of each replication"""

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def interval(self) -> tuple[float, float]:
        return _t_interval(self.values)

    @property
    def ratio(self) -> float:
        return self.mean / self.published

    @property
    def passed(self) -> bool:
        return 1 / FACTOR <= self.ratio <= FACTOR


def _t_interval(values: list[float]) -> tuple[float, float]:
    if len(values) < 2:
        return math.nan, math.nan
    mean = float(np.mean(values))
    half = float(stats.t.ppf(0.975, len(values) - 1) * np.std(values, ddof=1) / len(values) ** 0.5)
    return mean - half, mean + half


def latencies(profile: str, workers: int | None = None) -> tuple[list[Percentile], api.Scenario]:
    """Each published percentile with the simulated one of every replication."""
    scenario = api.load(LATENCY, overrides=LATENCY_RUNS[profile])
    results = api.run(scenario, workers=workers)
    consumed = results.table("broker_consume")
    sent = consumed["time"] - consumed["latency"]
    measured = consumed[(sent >= scenario.warmup) & (consumed["redelivered"] == 0)]
    per_rep = [g["latency"].to_numpy(float) for _, g in measured.groupby("replication")]
    found = [
        Percentile(source, name, value, [float(np.percentile(v, q)) for v in per_rep])
        for source, name, q, value in PUBLISHED
    ]
    return found, scenario


@dataclass(frozen=True)
class Pause:
    replication: int
    per_partition: list[float]
    """for each partition the crashed member held: seconds without a consumed record"""

    @property
    def pause(self) -> float:
        return min(self.per_partition)


def pauses(replications: int, workers: int | None = None) -> tuple[list[Pause], api.Scenario]:
    """The pause of the crashed member's partitions in each replication."""
    scenario = api.load(CRASH, overrides=[f"replications={replications}"])
    fault = scenario.faults[0]
    crash, member = fault.start, fault.member  # type: ignore[attr-defined]
    results = api.run(scenario, workers=workers)
    consumed = results.table("broker_consume")
    found = []
    for replication, frame in consumed.groupby("replication"):
        found.append(Pause(int(str(replication)), _gaps(frame, crash, member)))
    return found, scenario


def _gaps(frame: pd.DataFrame, crash: float, member: int) -> list[float]:
    before = frame[frame["time"] < crash]
    last = before.sort_values("time").groupby("partition").tail(1)
    held = last[last["member"] == member]
    gaps = []
    for partition, stopped in zip(held["partition"], held["time"], strict=True):
        after = frame[(frame["partition"] == partition) & (frame["time"] >= crash)]
        gaps.append(float(after["time"].min() - stopped) if len(after) else math.inf)
    return gaps


def section(profile: str, workers: int | None = None) -> tuple[str, list[tuple[str, bool, str]]]:
    """The page's section (Markdown, from ``## ``) and each case's (name, passed, note)."""
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}: expected one of {', '.join(PROFILES)}")
    found, latency_scenario = latencies(profile, workers)
    crashes, crash_scenario = pauses(CRASH_RUNS[profile], workers)
    broker = crash_scenario.broker
    low = broker.session_timeout - broker.heartbeat_interval + broker.rebalance_time - SLACK
    high = broker.session_timeout + broker.rebalance_time + SLACK
    cases = [
        (
            f"kafka e2e {p.name} vs {p.source}",
            p.passed,
            f"simulated {_ms(p.mean)} against {_ms(p.published)} published: ×{p.ratio:.2g}",
        )
        for p in found
    ]
    worst = [c.pause for c in crashes]
    cases.append(
        (
            "kafka consumer crash pause vs session.timeout + rebalance",
            all(low <= value <= high for value in worst),
            f"pause {', '.join(f'{v:.1f} s' for v in worst)} against {low:g}–{high:g} s",
        )
    )
    text = _markdown(profile, found, latency_scenario, crashes, (low, high), crash_scenario)
    return text, cases


def _ms(seconds: float) -> str:
    return "—" if math.isnan(seconds) else f"{seconds * 1000:.3g} ms"


def _markdown(
    profile: str,
    found: list[Percentile],
    latency_scenario: api.Scenario,
    crashes: list[Pause],
    bounds: tuple[float, float],
    crash_scenario: api.Scenario,
) -> str:
    b = latency_scenario.broker
    load = latency_scenario.workload.phases[0]
    widest = max(found, key=lambda p: max(p.ratio, 1 / p.ratio))
    lines = [
        "## Kafka: light-load latency and the pause after a consumer crash",
        "",
        "### Producer-to-consumer latency at light load",
        "",
        "Published: [KREPS] 2 ms p50, 3 ms p99, 14 ms p99.9 (2014: LinkedIn's test on three "
        "cheap machines, 100-byte records); [CFLT-OMB] 5 ms p99 (2020: cloud "
        "VMs, at 200 MB/s). Simulated with "
        "[`validation/scenarios/kafka-latency.yaml`](../validation/scenarios/kafka-latency.yaml): "
        f"{load.rate:g} records/s of {b.record_size} B for {load.duration:g} s "
        f"({latency_scenario.replications} replications, profile `{profile}`), linger "
        f"{b.linger * 1000:g} ms (Kafka 3.x's default; the project's is Kafka 4's 5 ms, which "
        f"would add up to 5 ms), acks={b.acks}, replication {b.replication_factor}, min ISR "
        f"{b.min_insync_replicas}, {b.brokers} brokers, the default Pareto hops (scale 0.5 ms, "
        "α 3) for the network and the followers. The latency is from the producer's `send` to "
        "the consumer handing the record back (`broker_consume`), the copy's apply made "
        f"negligible. Rule: within a factor of {FACTOR:g} of the published percentile (the "
        "same order of magnitude: different hardware, a different load).",
        "",
        "| source | percentile | published | simulated (95 %) | ratio | pass |",
        "|---|---|---|---|---|---|",
    ]
    for p in found:
        low, high = p.interval
        shown = _ms(p.mean) if math.isnan(low) else f"{_ms(p.mean)} [{_ms(low)}, {_ms(high)}]"
        lines.append(
            f"| {p.source} | {p.name} | {_ms(p.published)} | {shown} | ×{p.ratio:.2g} | "
            f"{'yes' if p.passed else '**no**'} |"
        )
    lines += [
        "",
        "What differs: the model has no disks, CPUs or NICs, only latency distributions for "
        "each hop, so their hardware is not represented; a benchmark consumer does nothing "
        "with a record (here a negligible apply); the cited summary does not state the "
        "replication, acks or load of the KREPS latency test (here the project's defaults: "
        "replication 3, acks=all, so a record waits for the followers before a consumer may "
        "read it); CFLT-OMB's p99 was taken at 200 MB/s, here a light Poisson stream. The model's hop latencies were chosen with these figures in mind "
        "(`docs/broker.md`), so agreement checks how the hops compose, not the hops.",
        "",
        f"The widest gap is {widest.source}'s {widest.name} (×{widest.ratio:.2g}): a record "
        "crosses about four hops (producer to leader, leader to follower, follower back, "
        "fetch), each a Pareto draw with a p99 of 2.3 ms, so the model's tail at p99 is wider "
        "than the 2014 LAN's; the rule allows it, but it is not a close match.",
        "",
    ]
    lines += _crash_lines(crashes, bounds, crash_scenario)
    return "\n".join(lines)


def _crash_lines(
    crashes: list[Pause], bounds: tuple[float, float], scenario: api.Scenario
) -> list[str]:
    b = scenario.broker
    fault = scenario.faults[0]
    low, high = bounds
    lines = [
        "### The pause after a consumer crash",
        "",
        f"Documented (domain.md §1.4): a crashed member is noticed when its session times "
        f"out — `session.timeout.ms` {b.session_timeout:g} s by default since Kafka 3.0, "
        f"heartbeats every {b.heartbeat_interval:g} s, so {b.session_timeout - b.heartbeat_interval:g}"
        f"–{b.session_timeout:g} s after the crash — and a rebalance of about "
        f"{b.rebalance_time:g} s [STATIC] hands its partitions on: about "
        f"{b.session_timeout + b.rebalance_time:g} s with no record of them consumed. Simulated "
        "with [`validation/scenarios/kafka-crash.yaml`](../validation/scenarios/kafka-crash.yaml):"
        f" a group of {_members(scenario)} members on {b.partitions} partitions, "
        f"{scenario.workload.phases[0].rate:g} records/s, "
        f"member {fault.member} crashes at {fault.start:g} s "  # type: ignore[attr-defined]
        f"({len(crashes)} replications), {b.assignment} assignment. Measured from "
        "`broker_consume`: per partition the crashed member held, the time from its last "
        "record consumed before the crash to its first record consumed after; the pause is "
        f"the earliest. Rule: {low:g} s ≤ pause ≤ {high:g} s (session timeout − heartbeat "
        f"interval + rebalance, to session timeout + rebalance, {SLACK:g} s either side for "
        "the gaps between records).",
        "",
        "| replication | pause | each partition's first record after the crash | pass |",
        "|---|---|---|---|",
    ]
    for c in crashes:
        ok = low <= c.pause <= high
        each = ", ".join(f"{v:.1f} s" for v in c.per_partition)
        lines.append(
            f"| {c.replication} | {c.pause:.1f} s | {each} | {'yes' if ok else '**no**'} |"
        )
    lines += [
        "",
        "After the pause the new owner works through the backlog one fetch "
        f"(`max.poll.records` {b.max_poll_records}) at a time, so the other partitions' first "
        "records come later; that is consumption catching up, not the group's pause. The "
        "model's rebalance time is the documented 3 s itself, so this checks that detection, "
        "rebalance and resumption compose as documented, not the rebalance's length.",
        "",
    ]
    return lines


def _members(scenario: api.Scenario) -> int:
    return scenario.services[scenario.data.replica_services()[0]].instances


def main(argv: list[str]) -> int:
    profile = argv[1] if len(argv) > 1 else "default"
    text, _cases = section(profile)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
