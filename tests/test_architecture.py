"""The shape of the code: layers, no import cycles, modules of a readable size.

The import contracts live in ``pyproject.toml`` (``[tool.importlinter]``) and are checked by
import-linter, which reads every import, function-level and type-only ones included.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT / "sim"


def test_the_import_contracts_hold() -> None:
    command = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if command is None:
        pytest.fail("lint-imports is missing: install the test extras (pip install -e '.[test]')")
    done = subprocess.run(
        [command, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " 0 broken" in done.stdout


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(path.relative_to(ROOT)): count
        for path in SIM.rglob("*.py")
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert long == {}


def test_no_grab_bag_module_names() -> None:
    grab_bags = {"common", "base", "utils", "util", "helpers", "misc"}
    assert [p for p in SIM.rglob("*.py") if p.stem in grab_bags] == []
