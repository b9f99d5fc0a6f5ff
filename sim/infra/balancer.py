"""How a service's load balancer picks an instance, and which instances it picks from.

Policies: ``round_robin`` (in turn), ``random`` (uniform, from the service's ``balancer``
stream) and ``least_outstanding`` (fewest requests queued or in service; the first on a tie).

Without a health check the balancer picks among every instance, so a crashed one keeps
receiving requests and refuses them fast. With one (``health_check``, :mod:`sim.config.resilience`)
it probes each instance every ``interval`` (all at the same instants, from time
``interval``); an instance that failed ``unhealthy_threshold`` probes in a row leaves the
rotation, one that passed ``healthy_threshold`` in a row comes back, as a Kubernetes readiness
probe or an Envoy active health check does. A probe fails when the instance is down or does not
answer probes (:attr:`Instance.answers_probes <sim.infra.service.Instance.answers_probes>`).
When fewer than ``panic_threshold`` of the instances are in rotation, the balancer ignores the
health check and picks among all of them (Envoy's panic mode), so a service whose instances
are all out still receives, and refuses, its requests.

Left out: the probe's own time and network hops (a probe sees the instance's state at once),
Kubernetes taking a pod whose container exited out of the endpoints at once (here a crashed
instance leaves the rotation only when its probes fail), passive outlier detection, Envoy's
panic threshold of 0 % (no healthy host: 503), slow start, weights and zone awareness.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from sim.config.sections import ServiceConfig
from sim.kernel.context import SimContext

__all__ = ["Balanced", "Balancer"]


class Balanced(Protocol):
    """What the balancer needs of an instance (:class:`sim.infra.service.Instance`)."""

    @property
    def up(self) -> bool: ...

    @property
    def answers_probes(self) -> bool: ...

    @property
    def outstanding(self) -> int: ...


B = TypeVar("B", bound=Balanced)


class Balancer(Generic[B]):
    """Picks the instance that handles the next request to a service."""

    def __init__(self, ctx: SimContext, name: str, config: ServiceConfig) -> None:
        self.ctx = ctx
        self.policy = config.load_balancer
        self.check = config.health_check
        self._uniform = ctx.stream(f"balancer:{name}").uniform
        self._next = 0
        self.instances: Sequence[B] = ()
        self.rotation: list[B] = []
        """The instances the health check keeps in rotation (all of them without a check)."""
        self._failed: list[int] = []
        self._passed: list[int] = []
        self._left: set[int] = set()
        """Positions of the instances out of the rotation."""

    def attach(self, instances: Sequence[B]) -> None:
        """Balance over ``instances``; start the health check's probes, if there is one."""
        self.instances = instances
        self.rotation = list(instances)
        self._failed = [0] * len(instances)
        self._passed = [0] * len(instances)
        if self.check is not None and len(instances) > 1:
            interval = self.check.interval
            env = self.ctx.env
            env.timeout(interval).callbacks.append(lambda _e: self._probe(interval))

    def pick(self) -> B:
        instances = self.instances
        if len(instances) == 1:
            return instances[0]
        chosen = instances
        rotation = self.rotation
        check = self.check
        if (
            check is not None
            and rotation
            and len(rotation) < len(instances)
            and len(rotation) >= check.panic_threshold * len(instances)
        ):
            chosen = rotation
        policy = self.policy
        if policy == "round_robin":
            picked = chosen[self._next % len(chosen)]
            self._next += 1
            return picked
        if policy == "random":
            return chosen[min(int(self._uniform() * len(chosen)), len(chosen) - 1)]
        return min(chosen, key=lambda instance: instance.outstanding)

    def _probe(self, interval: float) -> None:
        check = self.check
        assert check is not None
        env = self.ctx.env
        changed = False
        for position, instance in enumerate(self.instances):
            if instance.up and instance.answers_probes:
                self._passed[position] += 1
                self._failed[position] = 0
                if position in self._left and self._passed[position] >= check.healthy_threshold:
                    self._left.discard(position)
                    changed = True
            else:
                self._failed[position] += 1
                self._passed[position] = 0
                if (
                    position not in self._left
                    and self._failed[position] >= check.unhealthy_threshold
                ):
                    self._left.add(position)
                    changed = True
        if changed:
            self.rotation = [
                instance
                for position, instance in enumerate(self.instances)
                if position not in self._left
            ]
        env.timeout(interval).callbacks.append(lambda _e: self._probe(interval))
