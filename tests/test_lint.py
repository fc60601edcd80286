"""The tree stays clean under ruff (rules in pyproject.toml) and mypy --strict (src/pywamr)."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest
from helpers import ROOT


def run_tool(module: str, *args: str) -> subprocess.CompletedProcess[str]:
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (it is in the test extra)")
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, check=False)


def test_ruff_is_clean() -> None:
    done = run_tool("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict_is_clean() -> None:
    done = run_tool("mypy", "--no-incremental")
    assert done.returncode == 0, done.stdout + done.stderr
