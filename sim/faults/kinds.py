"""The fault kinds, one class each, with the names chaos engineers know (``conventions.md``).

==========================  =================================================================
kind                        effect
==========================  =================================================================
``crash``                   a service, instance or database is down; work in flight fails;
                            back up after ``duration``
``latency``                 extra delay on every call a service, instance or database handles,
                            or on every message of a link
``error``                   calls to a service, instance or database fail fast with
                            ``probability``
``partition``               no traffic over a link (both ways with ``<->``)
``connector-crash``         a connector dies; it restarts from its last flushed offset
``connector-stall``         a connector stops reading, then goes on where it was
``rewind``                  a consumer group is reset to the offsets at now − ``by`` and
                            reprocesses (instant); a group lagging by more than ``by`` moves
                            forward and skips, as ``--by-duration`` does
``broker-leader-loss``      a broker, or one partition's leader replica, dies hard
``broker-outage``           the whole cluster is out of reach (its logs are kept)
``consumer-crash``          a member of a consumer group dies; restarts after ``duration``
``consumer-pause``          a member freezes for ``duration`` (a long GC pause)
``throttle``                a database's provisioned capacity × ``factor``
                            (:mod:`sim.faults.throttling`)
``slowdown``                a service's, instance's or database's service time × ``factor``
                            (:mod:`sim.faults.degraded`)
``hang``                    a service, instance or database accepts requests and never
                            answers; at the end they fail with ``reset``
                            (:mod:`sim.faults.degraded`)
``unavailable``             a service, instance or database refuses arrivals fast; work it
                            had accepted goes on (:mod:`sim.faults.degraded`)
``clock-skew``              a service's, instance's or database's clock is off by ``offset``
                            (row timestamps; :mod:`sim.faults.degraded`)
``loss``                    each transmission over a link is lost with ``probability`` and
                            retransmitted by TCP (:mod:`sim.faults.links`)
``bandwidth``               a link carries at most ``rate`` messages a second; the others
                            queue (:mod:`sim.faults.links`)
==========================  =================================================================

A lasting fault without ``duration`` lasts until the load ends; with ``schedule`` it recurs,
and ``window_probability`` is a coin per window (:mod:`sim.faults.schedule`). Which component
each target reaches in each pattern is the pattern's topology (:mod:`sim.faults.topology`).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from sim.config.distributions import ConstantTime
from sim.config.model import Problem, Scenario
from sim.config.types import NonNegativeDuration, PositiveDuration, Probability
from sim.faults.checks import component_problem, group_problem, group_size, link_problem, problems
from sim.faults.components import (
    Crashable,
    Cuttable,
    Erroring,
    GroupMembers,
    LeaderLosable,
    Rewindable,
    Slowable,
    Stallable,
    Undo,
)
from sim.faults.fault import FaultRun, InstantFault, LastingFault, register_fault
from sim.faults.targets import (
    BrokerTarget,
    ConnectorTarget,
    ConsumerTarget,
    DatabaseTarget,
    InstanceTarget,
    LinkTarget,
    PartitionTarget,
    ServiceTarget,
    Targets,
)

__all__ = [
    "BrokerLeaderLossFault",
    "BrokerOutageFault",
    "ConnectorCrashFault",
    "ConnectorStallFault",
    "ConsumerCrashFault",
    "ConsumerPauseFault",
    "CrashFault",
    "ErrorFault",
    "LatencyFault",
    "PartitionFault",
    "RewindFault",
]

ComponentTarget = Annotated[
    ServiceTarget | InstanceTarget | DatabaseTarget,
    Targets(ServiceTarget, InstanceTarget, DatabaseTarget),
]
SlowTarget = Annotated[
    ServiceTarget | InstanceTarget | DatabaseTarget | LinkTarget,
    Targets(ServiceTarget, InstanceTarget, DatabaseTarget, LinkTarget),
]
Link = Annotated[LinkTarget, Targets(LinkTarget)]
Connector = Annotated[ConnectorTarget, Targets(ConnectorTarget)]
Consumer = Annotated[ConsumerTarget, Targets(ConsumerTarget)]
BrokerOrPartition = Annotated[
    PartitionTarget | BrokerTarget, Targets(PartitionTarget, BrokerTarget)
]


@register_fault
class CrashFault(LastingFault):
    """A service, instance or database is down; work in flight fails; restarts after ``duration``."""

    kind: Literal["crash"]
    target: ComponentTarget = Field(description="service:X, instance:X/N or db:X")
    needs: ClassVar[tuple[type, ...]] = (Crashable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        return problems(component_problem(self.target, scenario), self.target)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return run.crash(parts)


@register_fault
class LatencyFault(LastingFault):
    """Extra delay on every call a service, instance or database handles, or on a link's hops."""

    kind: Literal["latency"]
    target: SlowTarget = Field(description="service:X, instance:X/N, db:X or link:A->B")
    delay: ConstantTime = Field(description="added delay; a bare duration is constant")
    needs: ClassVar[tuple[type, ...]] = (Slowable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        if isinstance(self.target, LinkTarget):
            if self.target.both:
                return problems("a latency fault is one way: link:A->B", self.target)
            return problems(link_problem(self.target, scenario, False), self.target)
        return problems(component_problem(self.target, scenario), self.target)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        sampler = self.delay.sampler(run.ctx.stream(f"fault:{self.target}:delay"))
        for part in parts:
            part.add_delay(sampler)
        return lambda: [part.remove_delay(sampler) for part in parts]


@register_fault
class ErrorFault(LastingFault):
    """Calls to a service, instance or database fail fast with ``probability``."""

    kind: Literal["error"]
    target: ComponentTarget = Field(description="service:X, instance:X/N or db:X")
    probability: Probability = Field(  # type: ignore[assignment]
        description="the chance that each request fails (per request, not per window)"
    )
    needs: ClassVar[tuple[type, ...]] = (Erroring,)

    @field_validator("probability", mode="before")
    @classmethod
    def _not_per_request(cls, value: object) -> object:
        return value  # here it is the per-request chance

    def problems(self, scenario: Scenario) -> list[Problem]:
        return problems(component_problem(self.target, scenario), self.target)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        for part in parts:
            part.add_error(self.probability)
        return lambda: [part.remove_error(self.probability) for part in parts]


@register_fault
class PartitionFault(LastingFault):
    """No traffic between two parties: the links hold what is sent (TCP retransmits) and
    deliver it after the heal unless the sender gave up first; callers time out."""

    kind: Literal["partition"]
    target: Link = Field(
        description="link:A<->B (both ways) or link:A->B (one way); A, B: services, client, "
        "db:X, broker or connector:OWNER"
    )
    needs: ClassVar[tuple[type, ...]] = (Cuttable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        return problems(link_problem(self.target, scenario, True), self.target)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        heals = [part.cut() for part in parts]
        return lambda: [heal() for heal in heals]


class _ConnectorFault(LastingFault):
    target: Connector = Field(
        description="connector:X, where X is the data owner whose table it reads"
    )

    def problems(self, scenario: Scenario) -> list[Problem]:
        owners = scenario.data.owners()
        if self.target.name not in owners:
            shown = " or ".join(f"connector:{owner}" for owner in owners)
            return problems(f"the connector reads the owner's table: {shown}", self.target)
        return []


@register_fault
class ConnectorCrashFault(_ConnectorFault):
    """The connector dies; on restart it resumes from its last flushed offset (duplicates)."""

    kind: Literal["connector-crash"]
    needs: ClassVar[tuple[type, ...]] = (Crashable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        return run.crash(parts)


@register_fault
class ConnectorStallFault(_ConnectorFault):
    """The connector stops reading without dying, then resumes where it was."""

    kind: Literal["connector-stall"]
    needs: ClassVar[tuple[type, ...]] = (Stallable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        for part in parts:
            part.stall()
        return lambda: [part.resume() for part in parts]


@register_fault
class RewindFault(InstantFault):
    """Reset a consumer group to the offsets at now minus a duration and reprocess
    (``--reset-offsets --by-duration`` [K-OPS]); a group already further behind moves forward
    and skips the records in between, as the tool does."""

    kind: Literal["rewind"]
    target: Consumer = Field(description="consumer:GROUP")
    by: PositiveDuration = Field(description="how far back from the fault's start")
    needs: ClassVar[tuple[type, ...]] = (Rewindable,)
    operator_action: ClassVar[bool] = True

    def problems(self, scenario: Scenario) -> list[Problem]:
        return group_problem(self.target, scenario)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        for part in parts:
            part.rewind_by(self.by)
        return lambda: None


@register_fault
class BrokerLeaderLossFault(LastingFault):
    """A leader dies hard: detection, election and metadata refresh make it unavailable."""

    kind: Literal["broker-leader-loss"]
    target: BrokerOrPartition = Field(
        description="'broker:N' (broker N dies, with every replica it holds) or "
        "'broker:partition/N' (the leader replica of partition N dies)."
    )
    topic: str | None = Field(
        default=None, description="With broker:partition/N, the topic; null means every topic."
    )
    needs: ClassVar[tuple[type, ...]] = (LeaderLosable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        broker = scenario.broker
        target = self.target
        if isinstance(target, PartitionTarget) and target.partition >= broker.partitions:
            return problems(f"the broker has partitions 0 to {broker.partitions - 1}", target)
        if isinstance(target, BrokerTarget) and target.broker is None:
            return problems(
                "name the broker that dies, e.g. broker:0 (to take the whole cluster out of "
                "reach, use kind: broker-outage)",
                target,
            )
        if isinstance(target, BrokerTarget) and (target.broker or 0) >= broker.brokers:
            return problems(f"the broker cluster has brokers 0 to {broker.brokers - 1}", target)
        return []

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        undos = [self._lose(part) for part in parts]
        return lambda: [undo() for undo in undos]

    def _lose(self, cluster: LeaderLosable) -> Undo:
        target = self.target
        if isinstance(target, BrokerTarget):
            broker_id = target.broker or 0
            cluster.fail_broker(broker_id)
            return lambda: cluster.recover_broker(broker_id)
        assert isinstance(target, PartitionTarget)
        partition = target.partition
        topics = [self.topic] if self.topic else cluster.topic_names()
        names = cluster.topic_names()
        lost = [(t, cluster.fail_leader(t, partition)) for t in topics if t in names]

        def recover() -> None:
            for topic, leader in lost:
                if leader is not None:
                    cluster.recover_replica(topic, partition, leader)

        return recover


@register_fault
class BrokerOutageFault(LastingFault):
    """The whole broker cluster is out of reach: producers' requests wait and time out
    (writes that wait for the broker fail after ``delivery_timeout``), consumers are cut off
    and evicted after the session timeout; nothing on the brokers is lost."""

    kind: Literal["broker-outage"]
    target: Annotated[BrokerTarget, Targets(BrokerTarget)] = Field(
        default=BrokerTarget(None), description="'broker': the whole cluster"
    )
    needs: ClassVar[tuple[type, ...]] = (Cuttable,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        if self.target.broker is not None:
            return problems(
                "a broker-outage takes the whole cluster: target broker (for one broker, use "
                "broker-leader-loss with broker:N)",
                self.target,
            )
        return []

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        heals = [part.cut() for part in parts]
        return lambda: [heal() for heal in heals]


class _MemberFault(LastingFault):
    target: Consumer = Field(description="'consumer:GROUP', the consumer group.")
    member: int = Field(default=0, ge=0, description="Index of the member hit by the fault.")
    needs: ClassVar[tuple[type, ...]] = (GroupMembers,)

    def problems(self, scenario: Scenario) -> list[Problem]:
        found = group_problem(self.target, scenario)
        if found:
            return found
        size = group_size(self.target.group, scenario)
        if self.member >= size:
            return [
                (
                    ("member",),
                    f"consumer:{self.target.group} has {size} member{'s' if size != 1 else ''} "
                    f"(0 to {size - 1})",
                    self.member,
                )
            ]
        return []


@register_fault
class ConsumerCrashFault(_MemberFault):
    """A group member dies: its partitions stop until the session timeout and a rebalance."""

    kind: Literal["consumer-crash"]

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        members = [(group, self.member % group.size) for group in parts]
        for group, member in members:
            group.crash_member(member)
        return lambda: [group.restart_member(member) for group, member in members]


@register_fault
class ConsumerPauseFault(_MemberFault):
    """A group member freezes (a long GC pause): no polls, no heartbeats, then resumes."""

    kind: Literal["consumer-pause"]
    duration: NonNegativeDuration = Field(
        description="How long it stays frozen (must be above 0); longer than session_timeout "
        "means it is evicted."
    )

    @field_validator("duration")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is None or value <= 0:
            raise ValueError(f"a consumer-pause needs a duration above 0, e.g. 60s (got {value})")
        return value

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        duration = self.duration
        for group in parts:
            group.pause_member(self.member % group.size, duration)
        return lambda: None
