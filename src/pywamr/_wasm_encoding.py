"""The WebAssembly binary format's small pieces: LEB128, names, vectors, sections.

One copy shared by :mod:`pywamr._limits` (which rewrites modules), the tests
(``tests/wasm_bytes.py``), the fuzzer (``tools/fuzz``) and
``tools/gen_large_module.py``.  Encoders build bytes; :func:`read_u32` is the
strict decoder (the spec's ``u32``), :func:`split_sections` a lenient one for
mutating modules.
"""

from __future__ import annotations

from collections.abc import Iterable

MAGIC = b"\0asm"
VERSION = b"\x01\x00\x00\x00"
HEADER = MAGIC + VERSION

# Section ids (the spec's order; 12 is the bulk-memory data count).
CUSTOM, TYPE, IMPORT, FUNCTION, TABLE, MEMORY, GLOBAL, EXPORT, START, ELEMENT, CODE, DATA, \
    DATA_COUNT = range(13)


class DecodeError(ValueError):
    """Malformed bytes at ``pos``; ``reason`` says what was wrong."""

    def __init__(self, reason: str, pos: int) -> None:
        super().__init__(f"{reason} at byte {pos}")
        self.reason, self.pos = reason, pos


def leb_u(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError(f"unsigned LEB128 of a negative number: {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def leb_s(value: int) -> bytes:
    """Signed LEB128."""
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        done = (value == 0 and not byte & 0x40) or (value == -1 and byte & 0x40)
        out.append(byte | (0 if done else 0x80))
        if done:
            return bytes(out)


def vec(items: Iterable[bytes]) -> bytes:
    """A vector: its length, then its items."""
    items = list(items)
    return leb_u(len(items)) + b"".join(items)


def name(text: str) -> bytes:
    """A name: UTF-8 bytes with their length."""
    raw = text.encode()
    return leb_u(len(raw)) + raw


def section(section_id: int, body: bytes | bytearray) -> bytes:
    """A section: id, size, body."""
    return bytes([section_id]) + leb_u(len(body)) + body


def limits(minimum: int, maximum: int | None) -> bytes:
    """Memory or table limits (flag 0: no maximum, 1: a maximum)."""
    if maximum is None:
        return b"\x00" + leb_u(minimum)
    return b"\x01" + leb_u(minimum) + leb_u(maximum)


def module(*sections: bytes) -> bytes:
    """A module: the header, then the given (encoded) sections."""
    return HEADER + b"".join(sections)


def read_u32(data: bytes | bytearray | memoryview, pos: int, end: int) -> tuple[int, int]:
    """Decode the spec's ``u32`` (LEB128, at most 5 bytes, fits 32 bits) from ``data[pos:end]``.

    Returns ``(value, position after it)``; raises :class:`DecodeError`.
    """
    result = shift = 0
    for i in range(5):
        if pos >= end:
            raise DecodeError("unexpected end of section", pos)
        byte = data[pos]
        pos += 1
        if i == 4 and byte & 0xF0:
            raise DecodeError("LEB128 integer too large for u32", pos)
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
    raise DecodeError("LEB128 integer too long", pos)


def split_sections(data: bytes) -> list[tuple[int, bytes]] | None:
    """Sections as ``(id, body)``, or None when the framing does not parse.

    Lenient on purpose (for mutating modules): any section id, and a size is any
    LEB128 of up to 5 bytes.
    """
    if len(data) < 8 or data[:4] != MAGIC:
        return None
    out, pos = [], 8
    while pos < len(data):
        section_id = data[pos]
        pos += 1
        size = shift = 0
        for _ in range(5):
            if pos >= len(data):
                return None
            byte = data[pos]
            pos += 1
            size |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                break
        else:
            return None
        if pos + size > len(data):
            return None
        out.append((section_id, data[pos:pos + size]))
        pos += size
    return out


def join_sections(header: bytes, sections: Iterable[tuple[int, bytes]]) -> bytes:
    """The inverse of :func:`split_sections`."""
    return header + b"".join(section(section_id, body) for section_id, body in sections)
