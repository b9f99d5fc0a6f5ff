"""The published JSON Schema is current and accepts every shipped scenario."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from ruamel.yaml import YAML
from typer.testing import CliRunner

from sim.cli import app

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "docs" / "scenario.schema.json"


def test_published_schema_matches_the_models():
    printed = CliRunner().invoke(app, ["schema"]).stdout
    assert json.loads(printed) == json.loads(SCHEMA.read_text()), "run `make schema`"


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_match_the_schema(path):
    jsonschema.validate(YAML(typ="safe", pure=True).load(path), json.loads(SCHEMA.read_text()))


def test_schema_rejects_an_unknown_key():
    document = YAML(typ="safe", pure=True).load(ROOT / "scenarios" / "quickstart.yaml")
    document["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(document, json.loads(SCHEMA.read_text()))
