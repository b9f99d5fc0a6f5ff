"""The load: which requests reach the system, when, and what they ask for.

The phases of ``workload:`` (:mod:`sim.config.load`) run one after the other, each with its own
model, as k6 scenarios each pick an executor:

- **open** phases (:mod:`sim.workload.arrivals`): arrivals at a rate whatever the system does,
  drawn up front, with ramps, spikes and diurnal sinusoids;
- **closed** phases (:mod:`sim.workload.closed`): N users who each wait for their answer and
  think before the next request, so the throughput depends on the pattern;
- **trace** phases (:mod:`sim.workload.trace`): a recorded CSV replayed, its times scaled.

Each request is a read, a write, a delete or an insert (a fresh key) on a key drawn uniformly,
by Zipf's law or from a hotspot (:mod:`sim.workload.keys`). Every draw comes from a stream of
its own, so every pattern sees the same requests: the open and trace requests as arrays in
arrival order (:mod:`sim.workload.requests`), a closed user's n-th request the same operation,
key and read target in every pattern, at a time that depends on the pattern.

Left out: keys drawn per user session (every request draws its key alone); users that abandon
or retry on their own; a think time that depends on the answer; k6's graceful ramp-down (a
closed user stops at its phase's end, its request in flight still answered).
"""

from __future__ import annotations

from sim.kernel.codes import DELETE, INSERT, OP_NAMES, READ, WRITE
from sim.workload.arrivals import arrival_times, phase_area, schedule_arrivals
from sim.workload.closed import ClosedUsers
from sim.workload.keys import ZIPF_TABLE_KEYS, draw_keys, zipf_ranks
from sim.workload.requests import Requests, draw_ops, draw_requests

__all__ = [
    "DELETE",
    "INSERT",
    "OP_NAMES",
    "READ",
    "WRITE",
    "ZIPF_TABLE_KEYS",
    "ClosedUsers",
    "Requests",
    "arrival_times",
    "draw_keys",
    "draw_ops",
    "draw_requests",
    "phase_area",
    "schedule_arrivals",
    "zipf_ranks",
]
