"""WebAssembly text to binary for tests, through wabt's wat2wasm.

Conformance regression tests keep their minimal modules as text in the test
itself; wat2wasm (installed by tools/setup.sh) assembles them.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def wat(text: str, *features: str) -> bytes:
    """Assemble ``text`` with every feature of the 2.0 core (plus ``features``,
    e.g. ``"--enable-simd"`` is already on); skips the test without wabt."""
    tool = shutil.which("wat2wasm")
    if tool is None:
        pytest.skip("wat2wasm (wabt) is not installed: tools/setup.sh installs it")
    with tempfile.TemporaryDirectory() as tmp:
        src, out = Path(tmp) / "m.wat", Path(tmp) / "m.wasm"
        src.write_text(text)
        proc = subprocess.run([tool, *features, str(src), "-o", str(out)],
                              capture_output=True, text=True, check=False)
        if proc.returncode:
            raise ValueError(f"wat2wasm failed: {proc.stderr}")
        return out.read_bytes()
