"""Faults on the messages of a link: ``loss`` (Chaos Mesh loss, Gremlin packet loss) and
``bandwidth`` (Toxiproxy bandwidth, Chaos Mesh bandwidth); the mechanisms are in
:mod:`sim.infra.impairments`.

``{kind: loss, target: link:users->orders, probability: 10%}`` loses each transmission with
that chance; TCP retransmits it (200 ms, then 400 ms, ... later), so it shows as latency,
and a message fails only when its sender's own timeout fires first (or after 15 lost
retransmissions). ``{kind: bandwidth, target: link:client->users, rate: 100/s}`` lets at most
100 messages a second through; the others queue in order.

Each window of either fault adds a row to the run's ``link_faults`` table (``kind, target,
start, end, messages, retransmissions, given_up, waited``): the messages sent over the link in
the window, the transmissions lost and retransmitted, the messages never delivered, and the
seconds the messages spent queued behind a bandwidth limit. The table exists only in runs
that have such a fault.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import Field, field_validator

from sim.config.model import Problem, Scenario
from sim.config.types import PositiveRate, Probability
from sim.faults.checks import link_problem, problems
from sim.faults.components import Undo
from sim.faults.fault import FaultRun, LastingFault, register_fault
from sim.faults.targets import LinkTarget, Targets
from sim.infra.impairments import Bandwidth, Loss

__all__ = ["BandwidthFault", "Limitable", "LossFault", "Lossy"]

Link = Annotated[LinkTarget, Targets(LinkTarget)]

_COLUMNS = {
    "kind": "s",
    "target": "s",
    "start": "d",
    "end": "d",
    "messages": "q",
    "retransmissions": "q",
    "given_up": "q",
    "waited": "d",
}


@runtime_checkable
class Lossy(Protocol):
    """A link whose messages a loss fault can lose."""

    def lose(self, loss: Loss) -> Undo: ...


@runtime_checkable
class Limitable(Protocol):
    """A link whose messages a bandwidth fault can serialise."""

    def limit(self, bandwidth: Bandwidth) -> Undo: ...


class _LinkFault(LastingFault):
    target: Link = Field(
        description="link:A->B (one way) or link:A<->B (both ways); A, B: services, client, "
        "db:X, broker or connector:OWNER"
    )

    def problems(self, scenario: Scenario) -> list[Problem]:
        return problems(link_problem(self.target, scenario, True), self.target)

    def _record(self, run: FaultRun, began: float, counts: tuple[int, int, int, float]) -> None:
        table = run.ctx.recorder.table("link_faults", _COLUMNS)
        table.append(self.kind, str(self.target), began, run.ctx.env.now, *counts)


@register_fault
class LossFault(_LinkFault):
    """Each transmission over the link is lost with ``probability`` and retransmitted by TCP."""

    kind: Literal["loss"]
    probability: Probability = Field(  # type: ignore[assignment]
        description="the chance that each transmission of a message is lost"
    )
    needs: ClassVar[tuple[type, ...]] = (Lossy,)

    @field_validator("probability", mode="before")
    @classmethod
    def _not_per_request(cls, value: object) -> object:
        return value  # here it is the chance per transmission

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        coin = run.ctx.stream(f"fault:{self.target}:loss").uniform
        losses = [Loss(self.probability, coin) for _ in parts]
        undos = [part.lose(loss) for part, loss in zip(parts, losses, strict=True)]
        began = run.ctx.env.now

        def end() -> None:
            for undo in undos:
                undo()
            self._record(
                run,
                began,
                (
                    sum(loss.messages for loss in losses),
                    sum(loss.retransmissions for loss in losses),
                    sum(loss.given_up for loss in losses),
                    0.0,
                ),
            )

        return end


@register_fault
class BandwidthFault(_LinkFault):
    """The link carries at most ``rate`` messages a second; the others queue (FIFO)."""

    kind: Literal["bandwidth"]
    rate: PositiveRate = Field(
        description="messages a second the link carries (the model's messages have no size: "
        "1 MB/s for 1 KB messages is 1000/s)"
    )
    needs: ClassVar[tuple[type, ...]] = (Limitable,)

    def apply(self, parts: list[Any], run: FaultRun) -> Undo:
        limits = [Bandwidth(run.ctx, self.rate) for _ in parts]
        undos = [part.limit(limit) for part, limit in zip(parts, limits, strict=True)]
        began = run.ctx.env.now

        def end() -> None:
            for undo in undos:
                undo()
            counts = (sum(b.messages for b in limits), 0, 0, sum(b.waited for b in limits))
            self._record(run, began, counts)

        return end
