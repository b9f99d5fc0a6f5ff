"""A scenario in words, for the decision record and the report: who owns the data, who keeps
copies, the load, the faults and the objectives, in plain sentences. Pure functions."""

from __future__ import annotations

from sim.config.data import DataConfig
from sim.config.model import Scenario
from sim.patterns import model_class

__all__ = ["describe_pattern", "describe_scenario", "seconds"]


def seconds(value: float) -> str:
    """``90`` → ``1m30s``, ``0.25`` → ``250ms``, ``42`` → ``42s``."""
    if value < 1:
        return f"{value * 1000:.4g}ms"
    if value < 60 or value % 60:
        minutes, rest = divmod(value, 60)
        return f"{int(minutes)}m{rest:.4g}s" if minutes else f"{value:.4g}s"
    return f"{int(value // 60)}m"


def _rate(value: float) -> str:
    return f"{value:.4g}/s"


def _list(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def describe_pattern(scenario: Scenario, name: str) -> str:
    """What the pattern called ``name`` is, in one line (its model's own summary)."""
    spec = scenario.patterns[scenario.pattern_names().index(name)]
    doc = (model_class(spec.kind).__doc__ or "").strip().splitlines()
    return doc[0].rstrip(".") if doc else spec.kind


def describe_scenario(scenario: Scenario) -> list[str]:
    """The scenario in a few sentences."""
    data = scenario.data
    if isinstance(data, DataConfig):
        copies = data.replicas
        keys = f"{data.keys:,} keys"
        if copies:
            who = f"{data.owner} owns the data ({keys}); {_list(copies)} keep{'s' if len(copies) == 1 else ''} a copy."
        else:
            who = f"{data.owner} owns the data ({keys}); no other service keeps a copy."
    else:
        named = len(data.entities)
        who = (
            f"{named} entit{'ies' if named != 1 else 'y'} ({data.total_keys:,} keys) owned by "
            f"{len(data.owners())} service{'s' if len(data.owners()) != 1 else ''}, with "
            f"{len(data.copies)} cop{'ies' if len(data.copies) != 1 else 'y'} in all."
        )
    phases = []
    for phase in scenario.workload.phases:
        if phase.closed is not None:
            users = phase.closed.users
            phases.append(
                f"{seconds(phase.duration)} of {users} closed user{'s' if users != 1 else ''} "
                f"thinking {seconds(phase.closed.think_time.mean)} on average"
            )
        elif phase.trace is not None:
            phases.append(f"{seconds(phase.duration)} replaying {phase.trace}")
        elif phase.ramp_to is not None and phase.ramp_to != phase.rate:
            phases.append(
                f"{seconds(phase.duration)} from {_rate(phase.start_rate)} to "
                f"{_rate(phase.ramp_to)}"
            )
        else:
            phases.append(f"{seconds(phase.duration)} at {_rate(phase.start_rate)}")
        if phase.diurnal is not None:
            phases[-1] += (
                f", swinging {phase.diurnal.amplitude:.0%} over a "
                f"{seconds(phase.diurnal.period)} cycle"
            )
        if phase.spike is not None:
            phases[-1] += (
                f", with a spike of {_rate(phase.spike.rate)} more for "
                f"{seconds(phase.spike.duration)}"
            )
    mix = scenario.workload.mix
    shares = [
        f"{share:.0%} {op}s"
        for op, share in (
            ("write", mix.write),
            ("read", mix.read),
            ("delete", mix.delete),
            ("insert", mix.insert),
        )
        if share
    ]
    load = (
        f"Load: {', then '.join(phases)} ({scenario.workload.arrivals} arrivals); "
        f"{', '.join(shares)}."
    )
    sentences = [who, load]
    if scenario.faults:
        faults = []
        for fault in scenario.faults:
            start, end = fault.window(scenario.workload.load_duration)
            target = getattr(fault, "target", "")
            span = f"for {seconds(end - start)}" if end > start else "once"
            schedule = getattr(fault, "schedule", None)
            if schedule is not None:
                span += f", every {seconds(schedule.every)}"
                if schedule.jitter:
                    span += f" (up to {seconds(schedule.jitter)} late)"
            chance = getattr(fault, "window_probability", None)
            if chance is not None:
                span += f", each window with probability {chance:.0%}"
            faults.append(f"{fault.kind} of {target} at {seconds(start)} {span}".replace("  ", " "))
        sentences.append(f"Faults: {'; '.join(faults)}.")
    else:
        sentences.append("No faults.")
    if scenario.slo:
        sentences.append(f"Objectives: {'; '.join(slo.text for slo in scenario.slo)}.")
    replications = scenario.replications
    count = (
        replications
        if isinstance(replications, int)
        else f"{replications.min} to {replications.max}"
    )
    sentences.append(
        f"Each pattern runs {count} replication{'s' if count != 1 else ''} on the same random "
        f"draws (seed {scenario.seed}), measured after a {seconds(scenario.warmup)} warm-up."
    )
    return sentences
