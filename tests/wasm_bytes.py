"""Hand-assembled wasm modules for tests that need shapes no payload has."""

from __future__ import annotations


def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def vec(items: list[bytes]) -> bytes:
    return leb(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    return leb(len(text.encode())) + text.encode()


def section(section_id: int, body: bytes) -> bytes:
    return bytes([section_id]) + leb(len(body)) + body


def limits(minimum: int, maximum: int | None) -> bytes:
    return b"\x00" + leb(minimum) if maximum is None else b"\x01" + leb(minimum) + leb(maximum)


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
    return b"\0asm\x01\0\0\0" + types + imports + funcs + mems + exports + code
