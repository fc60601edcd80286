"""The seed modules: every payload in the repository plus shapes they lack."""

from __future__ import annotations

from pathlib import Path

from pywamr._wasm_encoding import HEADER, name, section, vec

ROOT = Path(__file__).resolve().parents[2]
CORPUS_DIRS = [ROOT / "tests" / "payloads" / "wasm", ROOT / "examples" / "payloads" / "wasm"]


def _tiny_modules() -> list[bytes]:
    """Shapes the payloads lack: imported memory, no maximum, tables, globals."""
    types = section(1, vec([b"\x60\x01\x7f\x01\x7f", b"\x60\x00\x01\x7f"]))
    code = section(10, vec([b"\x06\x00\x20\x00\x40\x00\x0b", b"\x04\x00\x3f\x00\x0b"]))
    exports = section(7, vec([name("grow") + b"\x00\x00", name("pages") + b"\x00\x01",
                              name("memory") + b"\x02\x00"]))
    funcs = section(3, vec([b"\x00", b"\x01"]))
    out = []
    for imported in (False, True):
        for limits in (b"\x00\x01", b"\x01\x01\x04"):
            imports = section(2, vec([name("env") + name("memory") + b"\x02" + limits]))
            mems = section(5, vec([limits]))
            out.append(HEADER + types + (imports if imported else b"") + funcs
                       + (b"" if imported else mems) + exports + code)
    return out


def corpus() -> list[bytes]:
    seeds = [p.read_bytes() for d in CORPUS_DIRS for p in sorted(d.glob("*.wasm"))]
    return seeds + _tiny_modules()
