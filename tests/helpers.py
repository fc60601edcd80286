"""What test modules share: repository paths, payload paths, input files and the CLI runner.

Test modules import from here (``from helpers import payload``); fixtures live in
``conftest.py``. Hand-assembled modules are in ``wasm_bytes.py``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import pywamr
from pywamr import _aot

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "payloads" / "wasm"
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
REGRESSIONS = ROOT / "tests" / "payloads" / "regressions"
TOOLS = ROOT / "tools"
INTERP_MODES = ["fast-interp", "classic-interp"]

if str(TOOLS) not in sys.path:  # tests import the fuzzer's mutators (tools/fuzzing)
    sys.path.append(str(TOOLS))
ALL_MODES = ["fast-interp", "classic-interp", "aot"]

requires_aot = pytest.mark.skipif(not pywamr.aot_available(),
                                  reason="pywamr was built without the AOT compiler (no LLVM 14)")
"""Mark for tests that compile: skipped when pywamr was built without LLVM 14."""


def payload(name: str) -> Path:
    """A test payload built from ``tests/payloads/src``."""
    return PAYLOADS / f"{name}.wasm"


def example(name: str) -> Path:
    """An example Teaclave payload built from ``examples/payloads``."""
    return EXAMPLES / f"{name}.wasm"


def write_input_files(directory: Path) -> dict[str, Path]:
    """Two small line files and one input for tc_probe; ``"dir"`` is the directory."""
    (directory / "a.txt").write_text("apple\nbanana\ncherry\n")
    (directory / "b.txt").write_text("banana\ncherry\ndate\n")
    (directory / "in.txt").write_bytes(b"input bytes\n" * 10)
    return {"a": directory / "a.txt", "b": directory / "b.txt", "in": directory / "in.txt",
            "dir": directory}


def run_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``python -m pywamr ARGS`` in a subprocess, as users run it."""
    return subprocess.run([sys.executable, "-m", "pywamr", *args], capture_output=True,
                          text=True, timeout=timeout, check=False)


def run_python(code: str, *args: str, timeout: float = 300,
               cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGS`` in a subprocess (for outcomes that may kill the process)."""
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=timeout, check=False, cwd=cwd)


def aot_cache_entries(cache: Path) -> list[Path]:
    """The compiled modules in an AOT cache directory."""
    return sorted((cache / "aot").glob("*.aot"))


def raw_aot() -> bytes:
    """basic.wasm compiled to a raw WAMR AOT image (no pywamr container around it)."""
    return _aot._compile_raw(payload("basic").read_bytes(), _aot.options())[0]


def forged_container(meta_changes: dict[str, Any], key: bytes | None = None) -> bytes:
    """basic.wasm's container with changed metadata, sealed with ``key`` (default: ours)."""
    meta, image = _aot.unseal(pywamr.compile_aot(payload("basic")), _aot.load_key())
    return _aot.seal({**meta, **meta_changes}, image, key or _aot.load_key())
