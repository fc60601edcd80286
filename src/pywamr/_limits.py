"""Resource limits WAMR 1.1.2 has no API for: capping linear memory.

WAMR lets a memory grow to the module's declared maximum (65536 pages when
none is declared), plus the pages of the app heap it appends.  To enforce a
lower cap, :func:`cap_memory_pages` rewrites the declared maximum of every
memory (defined or imported) in the ``.wasm`` bytes before WAMR sees them;
``memory.grow`` past it then returns -1, as the spec says.

The rewriter parses only what it must: the section framing, the import
section and the memory section.  Everything else is copied byte for byte.
Anything it cannot parse with certainty is refused with :class:`LoadError`,
never guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import _wasm_encoding as _enc
from ._errors import LoadError

WASM_MAGIC = _enc.MAGIC
WASM_VERSION = _enc.VERSION
MAX_PAGES = 65536  # 4 GiB of 64 KiB pages: wasm32's ceiling
PAGE_SIZE = 65536

_SECTION_IMPORT = _enc.IMPORT
_SECTION_MEMORY = _enc.MEMORY
_KNOWN_SECTIONS = range(13)  # custom .. data count
_IMPORT_FUNC, _IMPORT_TABLE, _IMPORT_MEMORY, _IMPORT_GLOBAL = range(4)
_LIMIT_FLAGS = {0: False, 1: True, 2: False, 3: True}  # flag -> has max (2, 3: shared)


@dataclass(frozen=True)
class MemoryLimits:
    """The declared limits of one memory, in pages."""

    minimum: int
    maximum: int | None
    imported: bool
    shared: bool = False


class _Reader:
    """Bounds-checked reads over ``data[pos:end]``; every failure is a LoadError."""

    __slots__ = ("data", "end", "pos")

    def __init__(self, data: bytes, pos: int, end: int) -> None:
        self.data, self.pos, self.end = data, pos, end

    def fail(self, what: str) -> LoadError:
        return LoadError(f"cannot apply max_memory_pages: {what} at byte {self.pos}")

    def byte(self) -> int:
        if self.pos >= self.end:
            raise self.fail("unexpected end of section")
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u32(self) -> int:
        """An unsigned LEB128 of at most 5 bytes whose value fits 32 bits."""
        try:
            value, self.pos = _enc.read_u32(self.data, self.pos, self.end)
        except _enc.DecodeError as exc:
            self.pos = exc.pos
            raise self.fail(exc.reason) from None
        return value

    def skip(self, n: int) -> None:
        if n > self.end - self.pos:
            raise self.fail("length runs past the end of its section")
        self.pos += n

    def name(self) -> None:
        self.skip(self.u32())


def _sections(data: bytes) -> list[tuple[int, int, int, int]]:
    """``(id, header_start, content_start, content_end)`` for each section."""
    if len(data) < 8 or data[:4] != WASM_MAGIC:
        raise LoadError("cannot apply max_memory_pages: not a .wasm module (it applies to "
                        "WebAssembly bytecode only)")
    if data[4:8] != WASM_VERSION:
        raise LoadError("cannot apply max_memory_pages: unsupported .wasm version")
    out = []
    reader = _Reader(data, 8, len(data))
    while reader.pos < len(data):
        start = reader.pos
        section_id = reader.byte()
        if section_id not in _KNOWN_SECTIONS:
            raise reader.fail(f"unknown section id {section_id}")
        size = reader.u32()
        content = reader.pos
        reader.skip(size)
        out.append((section_id, start, content, reader.pos))
    return out


def _limits(reader: _Reader, imported: bool,
            edits: list[tuple[int, int, bytes]] | None, cap: int | None) -> MemoryLimits:
    """Read a memory's limits; with ``cap``, record the edit that applies it."""
    start = reader.pos
    flag = reader.byte()
    if flag not in _LIMIT_FLAGS:
        raise reader.fail(f"unknown memory limits flag {flag:#x}")
    min_start = reader.pos
    minimum = reader.u32()
    min_end = reader.pos
    maximum = reader.u32() if _LIMIT_FLAGS[flag] else None
    if minimum > MAX_PAGES or (maximum is not None and not minimum <= maximum <= MAX_PAGES):
        raise LoadError(f"cannot apply max_memory_pages: invalid memory limits "
                        f"(min {minimum}, max {maximum})")
    limits = MemoryLimits(minimum, maximum, imported, shared=flag >= 2)
    if cap is not None and edits is not None:
        if minimum > cap:
            raise LoadError(f"the module's memory starts at {minimum} pages, more than "
                            f"max_memory_pages={cap}")
        new_max = cap if maximum is None else min(maximum, cap)
        # Keep the minimum's original bytes; set the has-max bit and the maximum.
        new = bytes([flag | 1]) + reader.data[min_start:min_end] + _enc.leb_u(new_max)
        edits.append((start, reader.pos, new))
    return limits


def _scan(data: bytes, cap: int | None) -> tuple[list[MemoryLimits],
                                                  list[tuple[int, int, int, int,
                                                             list[tuple[int, int, bytes]]]]]:
    """Every memory's limits, and per touched section the edits applying ``cap``."""
    found: list[MemoryLimits] = []
    touched = []
    seen: set[int] = set()
    for section_id, start, content, end in _sections(data):
        if section_id not in (_SECTION_IMPORT, _SECTION_MEMORY):
            continue
        if section_id in seen:
            raise LoadError(f"cannot apply max_memory_pages: duplicate section {section_id}")
        seen.add(section_id)
        reader = _Reader(data, content, end)
        edits: list[tuple[int, int, bytes]] = []
        for _ in range(reader.u32()):
            if section_id == _SECTION_MEMORY:
                found.append(_limits(reader, False, edits, cap))
                continue
            reader.name()
            reader.name()
            kind = reader.byte()
            if kind == _IMPORT_FUNC:
                reader.u32()
            elif kind == _IMPORT_TABLE:
                reader.byte()  # element type
                _limits(reader, True, None, None)
            elif kind == _IMPORT_MEMORY:
                found.append(_limits(reader, True, edits, cap))
            elif kind == _IMPORT_GLOBAL:
                reader.byte()  # value type
                if reader.byte() not in (0, 1):
                    raise reader.fail("bad global mutability")
            else:
                raise reader.fail(f"unknown import kind {kind:#x}")
        if reader.pos != end:
            raise reader.fail("section has trailing bytes")
        if edits:
            touched.append((section_id, start, content, end, edits))
    return found, touched


def memory_limits(data: bytes | bytearray | memoryview) -> list[MemoryLimits]:
    """The declared limits of every memory (imported ones first), in pages.

    Raises:
        LoadError: the bytes are not a module this parser understands.
    """
    return _scan(bytes(data), None)[0]


def check_max_pages(max_pages: object) -> int:
    """Validate a ``max_memory_pages`` value."""
    if isinstance(max_pages, bool) or not isinstance(max_pages, int):
        raise TypeError(f"max_memory_pages must be int, not {type(max_pages).__name__}")
    if not 0 <= max_pages <= MAX_PAGES:
        raise ValueError(f"max_memory_pages must be between 0 and {MAX_PAGES}, got {max_pages}")
    return max_pages


def cap_memory_pages(data: bytes | bytearray | memoryview, max_pages: int) -> bytes:
    """Return ``data`` with every memory's maximum lowered to ``max_pages``.

    A memory without a maximum gets ``max_pages``; one with a lower maximum
    keeps it.  Sections other than imports and memories are copied as they
    are.  WAMR still appends the app heap (``heap_size``) on top of these pages.

    Raises:
        LoadError: the module is not ``.wasm`` bytecode this parser can
            rewrite safely, or a memory's initial size exceeds ``max_pages``.
        TypeError, ValueError: ``max_pages`` is not an int in 0..65536.
    """
    cap = check_max_pages(max_pages)
    source = bytes(data)
    _, touched = _scan(source, cap)
    if not touched:
        return source
    out = bytearray()
    copied = 0
    for section_id, start, content, end, edits in touched:
        body = bytearray()
        pos = content
        for edit_start, edit_end, new in edits:
            body += source[pos:edit_start] + new
            pos = edit_end
        body += source[pos:end]
        out += source[copied:start] + _enc.section(section_id, body)
        copied = end
    out += source[copied:]
    return bytes(out)
