"""The folder an exploration writes.

- ``counterexample.yaml`` — the minimal scenario (one pattern, one replication, the shrunk
  fault schedule, the lightest load that still violates), runnable as it is with
  ``patternsim run``;
- ``timeline.csv`` and ``timeline.md`` — everything that happened to the first violating key
  (commits, applies, requests; with a query-based poller, each commit's stamp and the polls
  around them), and the violations;
- ``tries.csv`` — every schedule the searches ran, search by search, each in order (the shrink
  log);
- ``explore.json`` — what was searched and found: the invariant, the pattern, the seed, the
  number of searches and the one whose counterexample it is, the schedules tried, the fault
  space (kinds and targets) and how much of it was used;
- ``.hypothesis/`` — hypothesis's example database, so a second search starts from the last
  counterexample.
"""

from __future__ import annotations

import json
from pathlib import Path

from sim.experiments.explore import Exploration
from sim.experiments.schedules import describe
from sim.scenario import resolved_yaml

__all__ = ["DATABASE", "write_exploration"]

DATABASE = ".hypothesis"


def _markdown(found: Exploration) -> str:
    lines = [f"# {found.invariant} broken by {found.pattern}", ""]
    assert found.counterexample is not None
    faults = [
        fault.model_dump(mode="json", exclude_none=True) for fault in found.counterexample.faults
    ]
    if faults:
        lines += ["The smallest fault schedule found:", ""]
        lines += [f"- `{describe([fault])[1:-1]}`" for fault in faults]
    else:
        lines += ["No fault is needed: the pattern breaks the invariant on its own."]
    lines += ["", f"{len(found.violations)} violations; the first ones:", ""]
    lines += [
        f"- t={v.time:.3f}s key {v.key}" + (f" at {v.copy}" if v.copy else "") + f": {v.detail}"
        for v in found.violations[:10]
    ]
    frame = found.timeline()
    if len(frame):
        lines += ["", f"## Timeline of key {found.violations[0].key}", ""]
        lines += [
            "| time (s) | event | where | version | detail |",
            "|---:|---|---|---:|---|",
        ]
        lines += [
            f"| {time:.6f} | {event} | {where} | {'' if version < 0 else version} | {detail} |"
            for time, event, where, version, detail in zip(
                frame["time"].tolist(),
                frame["event"].tolist(),
                frame["where"].tolist(),
                frame["version"].tolist(),
                frame["detail"].tolist(),
                strict=True,
            )
        ]
    return "\n".join(lines) + "\n"


def summary(found: Exploration, seed: int, budget: int) -> dict[str, object]:
    space = found.space
    return {
        "invariant": found.invariant,
        "pattern": found.pattern,
        "scenario": found.scenario.name,
        "seed": seed,
        "budget": budget,
        "searches": found.searches,
        "found": found.found,
        "found_by_search": found.found_by,
        "schedules_tried": len(found.tries),
        "fault_space": dict(space.targets.items()),
        "fault_space_size": space.size,
        "fault_space_used": len(found.covered),
        "left_out": space.left_out,
        "violations": len(found.violations),
        "counterexample_faults": (
            [f.model_dump(mode="json", exclude_none=True) for f in found.counterexample.faults]
            if found.counterexample is not None
            else None
        ),
    }


def write_exploration(found: Exploration, folder: Path, seed: int, budget: int) -> list[Path]:
    """Write the exploration's files into ``folder``; returns what was written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for stale in ("counterexample.yaml", "timeline.csv", "timeline.md"):
        (folder / stale).unlink(missing_ok=True)
    if found.counterexample is not None:
        path = folder / "counterexample.yaml"
        header = (
            f"# A counterexample to {found.invariant} for {found.pattern}, found by "
            f"patternsim explore (seed {seed}).\n"
        )
        path.write_text(header + resolved_yaml(found.counterexample), encoding="utf-8")
        written.append(path)
        path = folder / "timeline.csv"
        found.timeline().to_csv(path, index=False)
        written.append(path)
        path = folder / "timeline.md"
        path.write_text(_markdown(found), encoding="utf-8")
        written.append(path)
    path = folder / "tries.csv"
    found.log().to_csv(path, index=False)
    written.append(path)
    path = folder / "explore.json"
    path.write_text(json.dumps(summary(found, seed, budget), indent=2) + "\n", encoding="utf-8")
    written.append(path)
    return written
