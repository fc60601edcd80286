"""The function exports of a module and their types, read from the binary.

wasmtime-py aborts the process when asked the kind of a v128 value type, so
the harness reads signatures itself (type, import, function, export sections).
"""

from __future__ import annotations

VALTYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128",
            0x70: "funcref", 0x6F: "externref"}


class _Reader:
    def __init__(self, data: bytes, pos: int = 0) -> None:
        self.data, self.pos = data, pos

    def byte(self) -> int:
        value = self.data[self.pos]
        self.pos += 1
        return value

    def u32(self) -> int:
        result, shift = 0, 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def name(self) -> str:
        n = self.u32()
        raw = self.data[self.pos:self.pos + n]
        self.pos += n
        return raw.decode("utf-8", errors="surrogateescape")

    def limits(self) -> None:
        flags = self.byte()
        self.u32()
        if flags & 1:
            self.u32()


def function_exports(wasm: bytes) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """``(name, params, results)`` of every function export, in export order."""
    r = _Reader(wasm, 8)
    types: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
    funcs: list[int] = []              # type index per function, imports first
    exports: list[tuple[str, int]] = []
    while r.pos < len(wasm):
        section, size = r.byte(), r.u32()
        end = r.pos + size
        if section == 1:
            for _ in range(r.u32()):
                r.byte()                                    # 0x60
                params = tuple(VALTYPES.get(r.byte(), "?") for _ in range(r.u32()))
                results = tuple(VALTYPES.get(r.byte(), "?") for _ in range(r.u32()))
                types.append((params, results))
        elif section == 2:
            for _ in range(r.u32()):
                r.name()
                r.name()
                kind = r.byte()
                if kind == 0:
                    funcs.append(r.u32())
                elif kind == 1:
                    r.byte()
                    r.limits()
                elif kind == 2:
                    r.limits()
                else:
                    r.byte()
                    r.byte()
        elif section == 3:
            funcs += [r.u32() for _ in range(r.u32())]
        elif section == 7:
            for _ in range(r.u32()):
                name, kind, index = r.name(), r.byte(), r.u32()
                if kind == 0:
                    exports.append((name, index))
        r.pos = end
    return [(name, *types[funcs[index]]) for name, index in exports]


def global_imports(wasm: bytes) -> list[tuple[str, str, str, bool]]:
    """``(module, name, value type, mutable)`` of every imported global."""
    r = _Reader(wasm, 8)
    found: list[tuple[str, str, str, bool]] = []
    while r.pos < len(wasm):
        section, size = r.byte(), r.u32()
        end = r.pos + size
        if section == 2:
            for _ in range(r.u32()):
                module, name, kind = r.name(), r.name(), r.byte()
                if kind == 0:
                    r.u32()
                elif kind == 1:
                    r.byte()
                    r.limits()
                elif kind == 2:
                    r.limits()
                else:
                    valtype, mutable = VALTYPES.get(r.byte(), "?"), bool(r.byte())
                    found.append((module, name, valtype, mutable))
            return found
        r.pos = end
    return found
