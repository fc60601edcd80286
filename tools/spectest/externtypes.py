"""Declared types of a module's exported tables and memories, read from its bytes.

pywamr reports a table's current size but not its declared maximum, and
nothing of a memory's limits; ``register`` needs both to define what an
exporting module provides (``Runtime.define_table``/``define_memory``).
"""

from __future__ import annotations

from pywamr import _wasm_encoding as enc

REF_TYPES = {0x70: "funcref", 0x6F: "externref"}


class _Bytes:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u32(self) -> int:
        value, self.pos = enc.read_u32(self.data, self.pos, len(self.data))
        return value

    def name(self) -> str:
        size = self.u32()
        text = self.data[self.pos:self.pos + size].decode("utf-8", "surrogateescape")
        self.pos += size
        return text

    def limits(self) -> tuple[int, int | None]:
        flag = self.byte()
        minimum = self.u32()
        return minimum, (self.u32() if flag & 1 else None)


def exported_tables_and_memories(data: bytes) -> dict[str, tuple[str, str | None, int | None]]:
    """``export name -> ("table", element, max)`` or ``("memory", None, max)``."""
    tables: list[tuple[str, int | None]] = []
    memories: list[int | None] = []
    exports: dict[str, tuple[str, str | None, int | None]] = {}
    for section_id, body in enc.split_sections(data) or []:
        r = _Bytes(body)
        if section_id == enc.IMPORT:
            for _ in range(r.u32()):
                r.name()
                r.name()
                kind = r.byte()
                if kind == 0:
                    r.u32()
                elif kind == 1:
                    element = REF_TYPES.get(r.byte(), "?")
                    tables.append((element, r.limits()[1]))
                elif kind == 2:
                    memories.append(r.limits()[1])
                else:
                    r.pos += 2
        elif section_id == enc.TABLE:
            for _ in range(r.u32()):
                element = REF_TYPES.get(r.byte(), "?")
                tables.append((element, r.limits()[1]))
        elif section_id == enc.MEMORY:
            for _ in range(r.u32()):
                memories.append(r.limits()[1])
        elif section_id == enc.EXPORT:
            for _ in range(r.u32()):
                name, kind, index = r.name(), r.byte(), r.u32()
                if kind == 1 and index < len(tables):
                    exports[name] = ("table", tables[index][0], tables[index][1])
                elif kind == 2 and index < len(memories):
                    exports[name] = ("memory", None, memories[index])
    return exports
