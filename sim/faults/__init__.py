"""Faults: typed targets, one class per kind, the topology they resolve in, and the injector.

Importing this package registers the built-in fault kinds (:mod:`sim.faults.kinds`) in
:data:`sim.kernel.registry.FAULTS`; a new kind is one class with :func:`register_fault`.
"""

from __future__ import annotations

from sim.faults import degraded as _degraded  # registers slowdown, hang, unavailable, clock-skew
from sim.faults import kinds as _builtin_kinds  # registers the built-in kinds
from sim.faults import links as _links  # registers loss, bandwidth
from sim.faults import throttling as _throttling  # registers throttle
from sim.faults.fault import Fault, FaultRun, InstantFault, LastingFault, register_fault
from sim.faults.injector import FaultInjector, Planned
from sim.faults.topology import ElaborationError, Topology

__all__ = [
    "ElaborationError",
    "Fault",
    "FaultInjector",
    "FaultRun",
    "InstantFault",
    "LastingFault",
    "Planned",
    "Topology",
    "register_fault",
]

del _builtin_kinds, _degraded, _links, _throttling
