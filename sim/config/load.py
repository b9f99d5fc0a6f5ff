"""The ``workload:`` section: load phases (open, closed or a replayed trace), their shapes,
and the mix of operations.

Phases run one after the other, each with its own model, as k6 scenarios each pick an
executor: an **open** phase (``rate``, k6's constant- and ramping-arrival-rate) sends requests
at a rate whatever the system does, optionally ramping (``ramp_to``), with a ``spike`` (extra
rate for a window, Artillery's and k6's spike test) and a ``diurnal`` sinusoid; a **closed**
phase (``closed: {users, think_time}``, k6's constant-vus, Locust's users) has N users who each
wait for their answer and think before the next request, so its throughput is an output; a
**trace** phase replays a recorded CSV (:mod:`sim.workload.trace`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, PrivateAttr, model_validator

from sim.config.distributions import ExponentialTime, is_zero
from sim.config.types import (
    LoadRate,
    Name,
    NonNegativeDuration,
    PositiveDuration,
    Probability,
    StrictModel,
)

__all__ = ["ClosedLoad", "Diurnal", "Mix", "Phase", "Spike", "WorkloadConfig"]


class Spike(StrictModel):
    """A burst on top of an open phase: ``rate`` more arrivals per second from ``start`` (since
    the phase began) for ``duration``."""

    start: NonNegativeDuration = Field(description="when the burst begins, from the phase start")
    duration: PositiveDuration = Field(description="how long the burst lasts")
    rate: LoadRate = Field(description="arrivals per second added to the phase's rate")


class Diurnal(StrictModel):
    """A sinusoid around an open phase's rate: ``rate × (1 + amplitude × sin(2π t / period))``
    with ``t`` the time since the phase began (it starts at the phase's rate, rising, and peaks
    a quarter period in)."""

    period: PositiveDuration = Field(description="length of one cycle (24h for a day)")
    amplitude: Probability = Field(
        description="swing as a share of the rate: 50% goes from half to one and a half times"
    )


class ClosedLoad(StrictModel):
    """``users`` users, each issuing a request, waiting for its answer (ok, error or the
    client's timeout), thinking for a ``think_time`` draw, then issuing the next."""

    users: int = Field(ge=1, le=100_000, description="concurrent users (k6 VUs, Locust users)")
    think_time: ExponentialTime = Field(
        description="pause between an answer and the next request; a bare duration is an "
        "exponential with that mean (as the interactive response-time law assumes)"
    )

    @model_validator(mode="after")
    def _thinks(self) -> ClosedLoad:
        if is_zero(self.think_time):
            raise ValueError(
                "a closed user must think between requests: think_time cannot be zero "
                "(a small one such as 1ms models users that never pause)"
            )
        return self


class Phase(StrictModel):
    """A load phase of ``duration``: open at ``rate`` (ramping linearly to ``ramp_to``, with an
    optional ``spike`` and ``diurnal`` shape), ``closed`` users, or a replayed ``trace``."""

    duration: PositiveDuration
    rate: LoadRate | None = Field(
        None, description="arrivals per second at the start of an open phase"
    )
    ramp_to: LoadRate | None = Field(
        None, description="arrivals per second at the end of the phase"
    )
    spike: Spike | None = Field(None, description="a burst on top of the rate")
    diurnal: Diurnal | None = Field(None, description="a sinusoid around the rate")
    closed: ClosedLoad | None = Field(None, description="closed users instead of a rate")
    trace: str | None = Field(
        None,
        max_length=4096,
        description="a CSV to replay (time, op, key[, target]); relative to the scenario file",
    )
    time_scale: float = Field(
        1.0, gt=0, le=1e6, description="a trace's times are multiplied by this (0.5: twice as fast)"
    )
    name: Name | None = Field(
        None, description="names the phase for SLOs: 'p99(latency) < 1s during peak'"
    )

    _base: Path | None = PrivateAttr(None)
    """The folder a relative ``trace`` path starts from: the scenario file's (set when the
    file is loaded), else the working directory."""

    def trace_path(self) -> Path:
        """Where the trace file is."""
        path = Path(self.trace or "")
        if path.is_absolute():
            return path
        return (self._base if self._base is not None else Path.cwd()) / path

    @model_validator(mode="after")
    def _one_model(self) -> Phase:
        models = [k for k in ("rate", "closed", "trace") if getattr(self, k) is not None]
        if len(models) != 1:
            shown = ", ".join(models) if models else "none"
            raise ValueError(
                "a phase is open (rate), closed (closed: {users, think_time}) or a replay "
                f"(trace: FILE): give exactly one (got {shown})"
            )
        if self.rate is None:
            extra = [k for k in ("ramp_to", "spike", "diurnal") if getattr(self, k) is not None]
            if extra:
                raise ValueError(f"{', '.join(extra)} shapes an open phase: give a rate too")
        if self.trace is None and self.time_scale != 1.0:
            raise ValueError("time_scale scales a trace's times: give a trace too")
        if self.spike is not None and self.spike.start + self.spike.duration > self.duration:
            raise ValueError(
                f"the spike ends at {self.spike.start + self.spike.duration:g}s, after the "
                f"phase's {self.duration:g}s"
            )
        return self

    @property
    def is_open(self) -> bool:
        return self.rate is not None

    @property
    def start_rate(self) -> float:
        """The rate at the phase start (0 for a closed or trace phase)."""
        return self.rate if self.rate is not None else 0.0

    @property
    def end_rate(self) -> float:
        """The rate at the phase end, before shapes (0 for a closed or trace phase)."""
        return self.ramp_to if self.ramp_to is not None else self.start_rate

    @property
    def shaped(self) -> bool:
        return self.spike is not None or self.diurnal is not None


class Mix(StrictModel):
    """Fractions of write, read, delete and insert requests; they must add up to 1. A delete
    removes the row at the owner (its version still advances, as a tombstone); an insert
    writes a key never used before (beyond ``data.keys``; reads and updates never reach it)."""

    write: float = Field(0.0, ge=0, le=1)
    read: float = Field(0.0, ge=0, le=1)
    delete: float = Field(0.0, ge=0, le=1)
    insert: Annotated[
        float, Field(ge=0, le=1, description="writes of a fresh key each time, as real inserts")
    ] = 0.0

    @model_validator(mode="after")
    def _sums_to_one(self) -> Mix:
        total = self.write + self.read + self.delete + self.insert
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"write + read + delete + insert must be 1 (got {total:g})")
        return self


class WorkloadConfig(StrictModel):
    """Load over ordered phases (like k6 stages and scenarios)."""

    arrivals: Literal["poisson", "uniform"] = Field(
        "poisson", description="open phases: poisson: exponential gaps; uniform: evenly spaced"
    )
    phases: list[Phase] = Field(min_length=1)
    mix: Mix = Field(default_factory=lambda: Mix(write=0.3, read=0.7, delete=0.0))
    timeout: PositiveDuration = Field(
        60.0, description="the client gives up after this long (k6's default request timeout)"
    )
    sessions: int | None = Field(
        None,
        ge=1,
        le=1_000_000,
        description="client sessions: each open request belongs to one of N, drawn at random; "
        "each closed user is a session of its own; read-your-writes and monotonic reads are "
        "then judged per session (Jepsen's processes); null: every client as one session",
    )

    @property
    def load_duration(self) -> float:
        return sum(phase.duration for phase in self.phases)

    @property
    def closed(self) -> bool:
        """True when some phase has closed users."""
        return any(phase.closed is not None for phase in self.phases)

    def phase_window(self, name: str) -> tuple[float, float] | None:
        """``(start, end)`` of the phase called ``name``, or None."""
        start = 0.0
        for phase in self.phases:
            if phase.name == name:
                return start, start + phase.duration
            start += phase.duration
        return None

    @model_validator(mode="after")
    def _phase_names(self) -> WorkloadConfig:
        seen: set[str] = set()
        for phase in self.phases:
            if phase.name is None:
                continue
            if phase.name in ("steady", "fault", "recovery"):
                raise ValueError(f"a phase cannot be called {phase.name!r} (an SLO window's name)")
            if phase.name in seen:
                raise ValueError(f"two phases are called {phase.name!r}")
            seen.add(phase.name)
        return self
