"""``patternsim validate`` and ``patternsim schema``."""

from __future__ import annotations

import json
import sys

from sim import api
from sim.cli.shell import (
    MaxRequestsOption,
    ScenarioPath,
    SetOption,
    app,
    check_budget,
    consoles,
    load,
    warn,
)


@app.command()
def validate(
    scenario: ScenarioPath,
    set_: SetOption = None,
    max_requests: MaxRequestsOption = api.MAX_REQUESTS,
) -> None:
    """Check a scenario file and report every problem with its file:line:col."""
    _, err = consoles()
    loaded = load(scenario, set_ or [], err)
    warn(loaded, err)
    check_budget(scenario, loaded, err, max_requests)
    err.print(
        f"{scenario}: ok ({len(loaded.patterns)} patterns, {len(loaded.faults)} faults)",
        highlight=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and validation)."""
    sys.stdout.write(json.dumps(api.schema(), indent=2) + "\n")
