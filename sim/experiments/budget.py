"""What a scenario will cost before it runs: requests per run, runs, and memory, against a
budget, so that an absurd scenario is refused in a second instead of exhausting the machine.

**Requests per run** are Σ over the open phases of rate × duration (the mean of ``rate``
and ``ramp_to`` for a ramp, the integral with a spike or a diurnal shape): the arrivals are
drawn up front, and every request keeps a record; a closed phase counts users × (duration /
mean think time + 1), the most its users could issue with answers that took no time; a
trace phase counts the rows of its file.
**Memory per run** is requests × :data:`BYTES_PER_REQUEST` (a bound from measured runs: about
430 B per request for a queue of services and 1.1 KB for CDC on the broker, arrays and
records together), and as many runs are in memory at once as there are workers. A run over
``max_requests`` requests (default :data:`MAX_REQUESTS`, sized for a laptop) is refused with
the figure and the knob to turn; a memory estimate above the memory available (Linux
``MemAvailable``) is refused likewise, one above half of it only warned.

Left out: the cost of simulated time without requests (a 30-day drain of a broker pattern
runs its polls and heartbeats for 30 days); the size of sweeps beyond their run count.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from sim.config.experiments import AdaptiveReplications
from sim.config.model import Scenario
from sim.scenario import points
from sim.workload import phase_area

__all__ = ["BYTES_PER_REQUEST", "MAX_REQUESTS", "Budget", "available_memory", "estimate"]

MAX_REQUESTS = 50_000_000
"""Requests per run allowed by default (about 60 GB would be needed at the bound below)."""
BYTES_PER_REQUEST = 1_200
"""Memory per simulated request, an upper bound from measured runs (see the docstring)."""


@dataclass(frozen=True)
class Budget:
    """The estimate for a scenario, and what is wrong with it."""

    requests_per_run: int
    runs: int
    memory: int
    """Bytes in use at once: the largest run × the runs in memory together."""
    errors: list[str]
    warnings: list[str]


def available_memory() -> int | None:
    """Bytes of memory available (``MemAvailable``), or None where it cannot be read."""
    try:
        for line in Path("/proc/meminfo").read_text(encoding="ascii").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _trace_rows(path: Path) -> int:
    """The rows of a trace file (its lines but the header); 0 if it cannot be read (the
    scenario check says why)."""
    try:
        with path.open("rb") as handle:
            return max(0, sum(1 for line in handle if line.strip()) - 1)
    except OSError:
        return 0


def _requests(scenario: Scenario) -> int:
    total = 0.0
    for phase in scenario.workload.phases:
        if phase.closed is not None:
            # a user's requests are at most the phase over its mean think time, plus one
            users = phase.closed.users
            total += users * (phase.duration / phase.closed.think_time.mean + 1)
        elif phase.trace is not None:
            total += _trace_rows(phase.trace_path())
        elif phase.shaped:
            total += phase_area(phase)
        else:
            total += (phase.start_rate + phase.end_rate) / 2.0 * phase.duration
    return int(total)


def estimate(
    scenario: Scenario,
    *,
    patterns: int | None = None,
    workers: int | None = None,
    max_requests: int = MAX_REQUESTS,
    memory: int | None = None,
) -> Budget:
    """The cost of running ``scenario`` (``patterns`` of its patterns, all by default) on
    ``workers`` processes, against ``max_requests`` and ``memory`` bytes available."""
    every = points(scenario)
    per_run = max(_requests(p.scenario or scenario) for p in every)
    plan = scenario.replications
    replications = plan.max if isinstance(plan, AdaptiveReplications) else plan
    runs = len(every) * (patterns or len(scenario.patterns)) * replications
    together = min(runs, workers or os.cpu_count() or 1)
    needed = per_run * BYTES_PER_REQUEST * together
    errors: list[str] = []
    warnings: list[str] = []
    if per_run > max_requests:
        errors.append(
            f"a run would simulate {per_run:,} requests (Σ rate × duration over the phases); "
            f"the most is {max_requests:,}: lower the rates or durations, or raise "
            "--max-requests"
        )
    available = memory if memory is not None else available_memory()
    if available is not None and not errors:
        shown = f"{needed / 2**30:.1f} GiB for {together} run{'s' if together != 1 else ''} at once"
        if needed > available:
            errors.append(
                f"the runs would need about {shown}, more than the {available / 2**30:.1f} GiB "
                "available: run fewer at once (--workers) or shorten the load"
            )
        elif needed > available / 2:
            warnings.append(
                f"the runs will need about {shown}, over half the {available / 2**30:.1f} GiB "
                "available"
            )
    return Budget(per_run, runs, needed, errors, warnings)
