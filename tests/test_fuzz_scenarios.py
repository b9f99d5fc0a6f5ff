"""A fuzzer over the shipped scenarios: each example takes one, mutates it (deletes a key,
replaces a value with one of any type, duplicates a list item, misspells a key, adds one) and
loads it. Whatever comes out, patternsim must answer with a scenario or a located
:class:`ScenarioError` — never another exception — and a scenario that validates must run
(shortened) to the end.

Examples: 300 in every profile (derandomized under ``CI=true``); ``PATTERNSIM_FUZZ=3000`` for
a longer local run (``make fuzz``).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from sim import api

SCENARIOS = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.yaml"))
TEXTS = {path.name: path.read_text(encoding="utf-8") for path in SCENARIOS}
EXAMPLES = int(os.environ.get("PATTERNSIM_FUZZ", "300"))
SHORT = [
    "workload.phases=[{duration: 2s, rate: 10/s}]",
    "warmup=0.5s",
    "drain=1s",
    "replications=1",
]

values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(
        [
            "1ms",
            "5s",
            "-3s",
            "1000d",
            "200/s",
            "1e9/s",
            "50%",
            "150%",
            "link:a<->a",
            "service:nobody",
            "p99(latency) < 1s",
            "x" * 200,
            "\x1b[31m",
        ]
    ),
    st.lists(st.integers(-5, 5), max_size=3),
    st.dictionaries(
        st.sampled_from(["kind", "dist", "value", "name"]), st.text(max_size=8), max_size=2
    ),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _paths(value, (*prefix, i))
    return found


def _parent(data: Any, path: tuple[Any, ...]) -> Any:
    for part in path[:-1]:
        data = data[part]
    return data


@st.composite
def mutated(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(sorted(TEXTS)))
    yaml = YAML(typ="rt")
    data = yaml.load(io.StringIO(TEXTS[name]))
    for _ in range(draw(st.integers(1, 3))):
        paths = _paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent, last = _parent(data, path), path[-1]
        action = draw(st.sampled_from(["delete", "replace", "duplicate", "misspell", "add"]))
        if action == "delete":
            del parent[last]
        elif action == "replace":
            parent[last] = draw(values)
        elif action == "duplicate" and isinstance(parent, list):
            parent.append(parent[last])
        elif action == "misspell" and isinstance(parent, dict) and isinstance(last, str):
            parent[last + draw(st.sampled_from(["s", "_", "x"]))] = parent.pop(last)
        elif action == "add" and isinstance(parent, dict):
            parent[draw(st.sampled_from(["extra", "kind", "seed", "name", "target"]))] = draw(
                values
            )
    out = io.StringIO()
    yaml.dump(data, out)
    return name, out.getvalue()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutated())
def test_a_mutated_scenario_is_valid_or_refused_with_located_errors(case: tuple[str, str]) -> None:
    _, text = case
    try:
        scenario = api.parse(text, SHORT)
    except api.ScenarioError as error:
        assert error.issues
        for issue in error.issues:
            shown = str(issue)
            assert shown.startswith(("<text>", "--set")), shown
            assert "\x1b" not in shown and len(shown) < 1_000
        return
    budget = api.budget(scenario, patterns=scenario.pattern_names()[:1], workers=1)
    if budget.errors:
        return
    results = api.run(scenario, patterns=scenario.pattern_names()[:1], workers=1)
    assert len(results.summary) > 0
