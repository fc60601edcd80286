"""Hand-assembled wasm modules for tests that need shapes no payload has.

The encoders come from pywamr's one copy, ``pywamr._wasm_encoding``.
"""

from __future__ import annotations

from pywamr._wasm_encoding import HEADER, leb_u, limits, name, section, vec

leb = leb_u  # the name the tests use

__all__ = ["grow_module", "leb", "limits", "name", "section", "vec"]


def grow_module(minimum: int, maximum: int | None, imported: bool) -> bytes:
    """Exports grow(i32) -> i32 and pages() -> i32 over one memory, defined or
    imported as env.memory."""
    types = section(1, vec([b"\x60\x01\x7f\x01\x7f", b"\x60\x00\x01\x7f"]))
    memory = limits(minimum, maximum)
    imports = section(2, vec([name("env") + name("memory") + b"\x02" + memory])) if imported \
        else b""
    funcs = section(3, vec([b"\x00", b"\x01"]))
    mems = b"" if imported else section(5, vec([memory]))
    exports = section(7, vec([name("grow") + b"\x00\x00", name("pages") + b"\x00\x01"]))
    grow = b"\x00\x20\x00\x40\x00\x0b"  # local.get 0; memory.grow 0; end
    pages = b"\x00\x3f\x00\x0b"  # memory.size 0; end
    code = section(10, vec([leb(len(grow)) + grow, leb(len(pages)) + pages]))
    return HEADER + types + imports + funcs + mems + exports + code
