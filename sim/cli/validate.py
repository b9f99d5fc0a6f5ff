"""``patternsim validate`` and ``patternsim schema``."""

from __future__ import annotations

import json
import sys

from sim import api
from sim.cli.shell import (
    ScenarioPath,
    SetOption,
    app,
    consoles,
    load,
    warn,
)


@app.command()
def validate(scenario: ScenarioPath, set_: SetOption = None) -> None:
    """Check a scenario file and report every problem with its file:line:col."""
    _, err = consoles()
    loaded = load(scenario, set_ or [], err)
    warn(loaded, err)
    err.print(
        f"{scenario}: ok ({len(loaded.patterns)} patterns, {len(loaded.faults)} faults)",
        highlight=False,
    )


@app.command()
def schema() -> None:
    """Print the JSON Schema of scenario files (for editors and validation)."""
    sys.stdout.write(json.dumps(api.schema(), indent=2) + "\n")
