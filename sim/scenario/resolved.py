"""The resolved scenario: every default filled in, as written to a run folder."""

from __future__ import annotations

import io
from typing import Any

from ruamel.yaml import YAML

from sim.config.model import Scenario

__all__ = ["resolved_dict", "resolved_yaml"]


def resolved_dict(scenario: Scenario) -> dict[str, Any]:
    """The scenario with every default filled in, in plain JSON-like types (seconds, per second)."""
    data = scenario.model_dump(mode="json")
    if data.get("sweep") is None:
        data.pop("sweep", None)
    names = ["default", *(n for n in scenario.databases.root if n != "default")]
    data["databases"] = {n: scenario.databases.profile(n).model_dump(mode="json") for n in names}
    return data


def resolved_yaml(scenario: Scenario) -> str:
    """:func:`resolved_dict` as YAML, with a header saying the units."""
    stream = io.StringIO()
    stream.write(
        "# Resolved scenario: every default filled in. Durations are in seconds, rates per second.\n"
    )
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.sort_base_mapping_type_on_output = False  # type: ignore[assignment]
    yaml.dump(resolved_dict(scenario), stream)
    return stream.getvalue()
