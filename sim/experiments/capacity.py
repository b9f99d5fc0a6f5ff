"""Breaking points: the load at which each pattern stops meeting its SLOs.

The load is scaled by a multiplier ``m`` — every phase's ``rate`` and ``ramp_to``, or the one
rate a key path names — and each pattern is searched on its own. A *probe* runs the pattern at
one multiplier for the probe's replications and judges every SLO on the mean and its 95 %
interval:

- **pass** — every SLO holds even at the pessimistic end of its interval (for ``<`` the upper
  bound; for ``>`` the lower; for ``==`` and ``!=`` both ends);
- **fail** — some SLO fails on its mean;
- **unsure** — neither: the probe is run again with twice the replications (more of the same
  point's replications, so earlier ones are kept), up to ``max_replications``; still unsure,
  it counts as not passing.

The search brackets from ``start``, doubling while it passes (up to ``high``) or halving while
it does not (down to ``low``), then bisects geometrically until the lowest multiplier that does
not pass is within ``tolerance`` of the highest that passes. The answer is that interval: the
highest load that passes with confidence and the lowest that does not, in multiples of the
scenario's load and in offered requests per second (the mean arrival rate over the load). The
SLO that broke first is the one that failed at the lowest load probed. Every probe's summary is
kept, so each metric can be drawn against the load.

Each probe is a sweep point of its own (its streams keyed by the multiplier,
:mod:`sim.scenario.points`), so a probe's figures depend only on its multiplier, not on the
order of the search. The patterns' searches are independent, so they go in rounds: each round
runs the next probe of every pattern still searching together on the executor (a round's
probes are known before any of them runs), and the probes are listed round by round, the
patterns in their order.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pandas as pd

from sim.config.model import Capacity, Scenario
from sim.config.paths import parse_path
from sim.executors import Executor, ExecutorSpec, opened, resolve
from sim.experiments.run import chosen_patterns
from sim.metrics.slo import Slo
from sim.results import Results
from sim.runner import RunResult, Task
from sim.scenario import points, resolved_dict, with_sweep
from sim.workload import phase_area

__all__ = ["CapacityResult", "Probe", "search_capacity"]

PASS, FAIL, UNSURE = "pass", "fail", "unsure"

_ProbeSteps = Generator[list[Task], list[RunResult], "Probe"]


@dataclass
class Probe:
    """One pattern at one multiplier."""

    pattern: str
    multiplier: float
    rate: float
    outcome: str
    results: Results
    failed: list[str] = field(default_factory=list)
    """The SLOs whose mean fails here, in the order written."""

    def _front(self, frame: pd.DataFrame, *extra: tuple[str, Any]) -> pd.DataFrame:
        front = pd.DataFrame(
            {
                "pattern": [self.pattern] * len(frame),
                "multiplier": [self.multiplier] * len(frame),
                "rate": [self.rate] * len(frame),
                **{name: [value] * len(frame) for name, value in extra},
            }
        )
        return pd.concat([front, frame.reset_index(drop=True)], axis=1)

    def curve(self) -> pd.DataFrame:
        """The probe's summary: ``pattern, multiplier, rate, outcome, metric, mean, ci_low,
        ci_high, n``."""
        summary = self.results.summary
        summary = summary[summary["pattern"] == self.pattern]
        columns = ["metric", "mean", "ci_low", "ci_high", "n"]
        return self._front(summary[columns], ("outcome", self.outcome))

    def judged(self) -> pd.DataFrame:
        """The probe against every SLO: ``pattern, multiplier, rate, slo, value, ci_low,
        ci_high, passed, margin``."""
        verdicts = self.results.verdicts
        verdicts = verdicts[verdicts["pattern"] == self.pattern]
        return self._front(verdicts[["slo", "value", "ci_low", "ci_high", "passed", "margin"]])


@dataclass
class CapacityResult:
    """The breaking point of each pattern, and every probe of the search."""

    scenario: Scenario
    settings: Capacity
    slos: list[Slo]
    base_rate: float
    """The offered rate at multiplier 1 (requests per second)."""
    probes: list[Probe]
    breaking: pd.DataFrame
    """``pattern, status, low, high, low_rate, high_rate, broke_first, probes``: ``status``
    is ``found``, ``passes at high`` or ``fails at low``."""

    @property
    def curves(self) -> pd.DataFrame:
        """Every probe's summary (:meth:`Probe.curve`), in the order probed."""
        return pd.concat([p.curve() for p in self.probes], ignore_index=True)

    @property
    def probe_verdicts(self) -> pd.DataFrame:
        """Every probe against every SLO (:meth:`Probe.judged`), in the order probed."""
        return pd.concat([p.judged() for p in self.probes], ignore_index=True)


def search_capacity(
    scenario: Scenario,
    settings: Capacity | None = None,
    *,
    workers: int | None = None,
    executor: str | ExecutorSpec | Executor | None = None,
    on_probe: Callable[[Probe], None] | None = None,
    check: bool = False,
) -> CapacityResult:
    """Search every pattern's breaking point (see the module docstring). A probe's
    replications run on ``executor`` (``workers`` alone: ``local:workers``, see
    :func:`sim.experiments.run_experiment`), opened once for the whole search; ``check``
    checks the invariants during every probe's runs (:mod:`sim.kernel.always`)."""
    settings = settings or scenario.capacity or Capacity.model_validate({})
    slos = list(settings.slo) or list(scenario.slo)
    if not slos:
        raise ValueError(
            "a capacity search needs SLOs: in the scenario's slo, capacity.slo or --slo"
        )
    chosen = chosen_patterns(scenario, settings.patterns or None)
    base = _base_rates(scenario, settings.rate)
    if not base:
        raise ValueError(
            "a capacity search scales the rates of open phases, and this load has none "
            "(closed users and traces are not scaled): give a phase a rate"
        )
    base_rate = _offered(scenario, settings.rate, base, 1.0)
    replications = settings.replications or scenario.first_replications
    where = resolve(executor, workers)

    probing = partial(_probe, scenario, base=base, settings=settings, slos=slos)
    probing = partial(probing, replications=replications, base_rate=base_rate, check=check)
    searches = [_Searching(name, settings, base_rate, slos, probing) for name in chosen]
    probes: list[Probe] = []
    with opened(where) as pool:
        # every pattern's next probe is known before any of them runs: they run together
        while asked := [found for found in searches if found.tasks]:
            batch = [task for found in asked for task in found.tasks]
            runs = [run for _, run in sorted(pool.run(batch), key=lambda done: done[0])]
            start = 0
            for found in asked:
                count = len(found.tasks)
                probe = found.answered(runs[start : start + count])
                start += count
                if probe is not None:
                    probes.append(probe)
                    if on_probe is not None:
                        on_probe(probe)
    rows = [found.row for found in searches]
    breaking = pd.DataFrame(
        rows,
        columns=[
            "pattern",
            "status",
            "low",
            "high",
            "low_rate",
            "high_rate",
            "broke_first",
            "probes",
        ],
    )
    return CapacityResult(scenario, settings, slos, base_rate, probes, breaking)


class _Searching:
    """One pattern's search, a probe at a time: :attr:`tasks` are the runs its next probe
    needs (none once the search has ended), :meth:`answered` takes their results. So the
    searches of several patterns run their probes together, each deciding on its own probes
    alone, as it would searching alone."""

    def __init__(
        self,
        name: str,
        settings: Capacity,
        base_rate: float,
        slos: list[Slo],
        probing: Callable[[str, float], _ProbeSteps],
    ) -> None:
        self.name = name
        self.seen: dict[float, Probe] = {}
        """Its probes, by multiplier."""
        self.row: tuple[Any, ...] = ()
        """Its line of the breaking points, once the search has ended."""
        self.tasks: list[Task] = []
        self._probing = probing
        self._steps = _search(name, settings, base_rate, self.seen, slos)
        self._key = 0.0
        self._probe: _ProbeSteps | None = None
        self._advance(None)

    def _advance(self, outcome: str | None) -> None:
        """Move the search on (with the last probe's outcome) to a multiplier not probed yet,
        and start its probe."""
        steps = self._steps
        try:
            m = next(steps) if outcome is None else steps.send(outcome)
            while (key := float(f"{m:.6g}")) in self.seen:
                m = steps.send(self.seen[key].outcome)
        except StopIteration as ended:
            self.row, self.tasks, self._probe = ended.value, [], None
            return
        self._key = key
        self._probe = self._probing(self.name, key)
        self.tasks = next(self._probe)

    def answered(self, runs: list[RunResult]) -> Probe | None:
        """The runs of :attr:`tasks`, in their order: the probe they finish, if they do."""
        assert self._probe is not None
        try:
            self.tasks = self._probe.send(runs)
            return None  # unsure: more replications of the same point
        except StopIteration as ended:
            probe: Probe = ended.value
        self.seen[self._key] = probe
        self._advance(probe.outcome)
        return probe


def _search(
    name: str, settings: Capacity, base_rate: float, seen: dict[float, Probe], slos: list[Slo]
) -> Generator[float, str, tuple[Any, ...]]:
    """The search of one pattern: yields each multiplier to probe and is sent its outcome;
    returns the pattern's line of the breaking points (``seen``: its probes by multiplier)."""
    low: float | None = None
    high: float | None = None
    m = settings.start
    status = "found"
    if (yield m) == PASS:
        low = m
        while high is None:
            m *= 2.0
            if m > settings.high * (1 + 1e-9):
                status = "passes at high"
                break
            if (yield m) == PASS:
                low = m
            else:
                high = m
    else:
        high = m
        while low is None:
            m /= 2.0
            if m < settings.low * (1 - 1e-9):
                status = "fails at low"
                break
            if (yield m) == PASS:
                low = m
            else:
                high = m
    while low is not None and high is not None and high / low - 1.0 > settings.tolerance:
        middle = math.sqrt(low * high)
        if (yield middle) == PASS:
            low = middle
        else:
            high = middle
    first = _broke_first(seen, slos)
    return (
        name,
        status,
        low if low is not None else math.nan,
        high if high is not None else math.nan,
        low * base_rate if low is not None else math.nan,
        high * base_rate if high is not None else math.nan,
        first,
        len(seen),
    )


def _broke_first(seen: dict[float, Probe], slos: list[Slo]) -> str:
    """The SLO that failed at the lowest multiplier probed (the first in the order written
    among those failing there); empty when none failed."""
    for multiplier in sorted(seen):
        failed = seen[multiplier].failed
        if failed:
            order = [slo.text for slo in slos]
            return min(failed, key=order.index)
    return ""


def _base_rates(scenario: Scenario, path: str | None) -> dict[str, float]:
    """The rates to scale, by key path, at multiplier 1."""
    if path is not None:
        return {path: _value_at(resolved_dict(scenario), path)}
    found = {}
    for i, phase in enumerate(scenario.workload.phases):
        if phase.rate is None:  # closed users and traces are not scaled
            continue
        found[f"workload.phases[{i}].rate"] = phase.rate
        if phase.ramp_to is not None:
            found[f"workload.phases[{i}].ramp_to"] = phase.ramp_to
        if phase.spike is not None:
            found[f"workload.phases[{i}].spike.rate"] = phase.spike.rate
    return found


def _value_at(data: Any, path: str) -> float:
    node = data
    for part in parse_path(path):
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            raise ValueError(f"capacity.rate: {path} is not in the scenario") from None
    if not isinstance(node, int | float) or isinstance(node, bool):
        raise ValueError(f"capacity.rate: {path} is not a rate (got {node!r})")
    return float(node)


def _offered(scenario: Scenario, path: str | None, base: dict[str, float], m: float) -> float:
    """The mean offered rate over the load at multiplier ``m``."""
    if path is not None:
        return base[path] * m
    total = 0.0
    for phase in scenario.workload.phases:
        if phase.shaped:
            total += phase_area(phase)
        else:
            total += (phase.start_rate + phase.end_rate) / 2.0 * phase.duration
    return total / scenario.workload.load_duration * m


def _probe(
    scenario: Scenario,
    name: str,
    multiplier: float,
    base: dict[str, float],
    settings: Capacity,
    slos: list[Slo],
    replications: int,
    base_rate: float,
    check: bool = False,
) -> _ProbeSteps:
    """One probe: yields the tasks it needs run and is sent their results (in task order),
    again with more replications while it is unsure; returns the probe."""
    over = {path: [value * multiplier] for path, value in base.items()}
    judged = "slo=" + json.dumps([slo.text for slo in slos])
    at = with_sweep(scenario, over, "zip", ["sweep=null", judged])
    (point,) = points(at)
    assert point.scenario is not None
    index = point.scenario.pattern_names().index(name)
    runs: list[RunResult] = []
    wanted = replications
    while True:
        tasks = [
            Task(point.scenario, index, r, point.index, point.key, check)
            for r in range(len(runs), wanted)
        ]
        runs.extend((yield tasks))
        results = Results.build(at, [name], runs)
        outcome, failed = _judge(results, slos)
        if outcome != UNSURE or wanted >= settings.max_replications:
            break
        wanted = min(settings.max_replications, wanted * 2)
    return Probe(name, multiplier, base_rate * multiplier, outcome, results, failed)


def _judge(results: Results, slos: Sequence[Slo]) -> tuple[str, list[str]]:
    verdicts = {row["slo"]: row for row in results.verdicts.to_dict("records")}
    confident = True
    failed = []
    for slo in slos:
        row = verdicts[slo.text]
        mean, low, high = float(row["value"]), float(row["ci_low"]), float(row["ci_high"])
        if not slo.holds(mean):
            failed.append(slo.text)
            continue
        if not (math.isfinite(low) and math.isfinite(high)):
            continue  # one replication: the mean is all there is
        if slo.op in ("<", "<="):
            confident &= slo.holds(high)
        elif slo.op in (">", ">="):
            confident &= slo.holds(low)
        else:
            confident &= slo.holds(low) and slo.holds(high)
    if failed:
        return FAIL, failed
    return (PASS if confident else UNSURE), []
