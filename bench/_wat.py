"""Compile WebAssembly text for a benchmark (wabt's ``wat2wasm``; skipped without it)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def wat_to_wasm(text: str) -> bytes:
    """The binary of the module ``text``; skips the benchmark when wabt is missing."""
    tool = shutil.which("wat2wasm")
    if tool is None:
        pytest.skip("wat2wasm (wabt) is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "m.wat", Path(tmp) / "m.wasm"
        source.write_text(text)
        subprocess.run([tool, str(source), "-o", str(out)], check=True)
        return out.read_bytes()
