"""Link-time checks of table and memory imports, which WAMR 1.1.2 does not make.

Built without multi-module, WAMR gives a module that imports a table or a
memory one of its own, made from the *import's* declared limits, whatever
(if anything) provides it.  pywamr links these imports itself, before WAMR
sees the module: an import must be provided by :meth:`Runtime.define_table`
or :meth:`Runtime.define_memory` with a type that matches the spec's import
rule (same element type; the definition's minimum at least the import's; if
the import has a maximum, the definition has one no larger), otherwise
:class:`~pywamr.LinkError` (also when the name is provided as a function or
global).  A matching import is rewritten to the definition's limits, so each
instance gets its own table or memory of exactly the defined type (not
shared between instances: WAMR 1.1.2 cannot share them).

Only the section framing and the import section are read, without copying
the module; bytes this reader cannot follow are left for WAMR's loader to
refuse.  AOT containers are not read: WAMR's AOT format compiles an imported
memory or table in as the module's own (a wasm module loaded in mode
``"aot"`` is linked before it is compiled).
"""

from __future__ import annotations

from collections.abc import Container, Mapping
from dataclasses import dataclass

from . import _wasm_encoding as _enc
from ._errors import LinkError
from ._types import ExternKind, MemoryType, TableType, ValType

_FUNC, _TABLE, _MEMORY, _GLOBAL = range(4)
_REF_TYPES = {0x70: ValType.FUNCREF, 0x6F: ValType.EXTERNREF}


@dataclass(frozen=True)
class _Import:
    module: str
    name: str
    kind: ExternKind
    limits_start: int   # the limits' bytes (table/memory imports), in the module
    limits_end: int
    element: ValType | None
    minimum: int
    maximum: int | None
    shared: bool


class _Unreadable(Exception):
    """The bytes are not what this reader follows (WAMR will judge them)."""


def _u32(data: bytes, pos: int, end: int) -> tuple[int, int]:
    try:
        return _enc.read_u32(data, pos, end)
    except _enc.DecodeError:
        raise _Unreadable from None


def _name(data: bytes, pos: int, end: int) -> tuple[str, int]:
    size, pos = _u32(data, pos, end)
    if size > end - pos:
        raise _Unreadable
    try:
        return data[pos:pos + size].decode(), pos + size
    except UnicodeDecodeError:
        raise _Unreadable from None


def _import_section(data: bytes) -> tuple[int, int, int] | None:
    """``(section start, content start, content end)`` of the import section,
    or None (no section)."""
    if len(data) < 8 or data[:4] != _enc.MAGIC or data[4:8] != _enc.VERSION:
        raise _Unreadable
    pos = 8
    while pos < len(data):
        section_id = data[pos]
        size, content = _u32(data, pos + 1, len(data))
        if size > len(data) - content:
            raise _Unreadable
        if section_id == _enc.IMPORT:
            return pos, content, content + size
        if section_id not in (_enc.CUSTOM, _enc.TYPE):
            return None  # sections are ordered: imports come before these
        pos = content + size
    return None


def _imports(data: bytes) -> list[_Import]:
    """The table and memory imports (other kinds are checked elsewhere); a
    name with a NUL byte, of any kind, is a :class:`LinkError`."""
    where = _import_section(data)
    if where is None:
        return []
    _, pos, end = where
    count, pos = _u32(data, pos, end)
    found = []
    for _ in range(count):
        module, pos = _name(data, pos, end)
        name, pos = _name(data, pos, end)
        if "\0" in module or "\0" in name:
            raise LinkError(f"cannot link import {module!r}.{name!r}: WAMR 1.1.2 keeps names as "
                            "C strings and would link the name cut at its NUL byte")
        if pos >= end:
            raise _Unreadable
        kind = data[pos]
        pos += 1
        if kind == _FUNC:
            _, pos = _u32(data, pos, end)
            continue
        if kind == _GLOBAL:
            pos += 2
            continue
        element = None
        if kind == _TABLE:
            if pos >= end or data[pos] not in _REF_TYPES:
                raise _Unreadable
            element = _REF_TYPES[data[pos]]
            pos += 1
        elif kind != _MEMORY:
            raise _Unreadable
        start = pos
        if pos >= end or data[pos] > 3:
            raise _Unreadable
        flag = data[pos]
        minimum, pos = _u32(data, pos + 1, end)
        maximum = None
        if flag & 1:
            maximum, pos = _u32(data, pos, end)
        found.append(_Import(module, name,
                             ExternKind.TABLE if kind == _TABLE else ExternKind.MEMORY,
                             start, pos, element, minimum, maximum, bool(flag & 2)))
    return found


def memory_imports(data: bytes) -> list[tuple[str, str, int, int | None]]:
    """The unshared memory imports of ``data`` as (module, name, minimum,
    maximum); [] when the import section cannot be read (loading reports it)."""
    try:
        return [(i.module, i.name, i.minimum, i.maximum) for i in _imports(data)
                if i.kind is ExternKind.MEMORY and not i.shared]
    except (_Unreadable, LinkError):
        return []


def _fits(have_min: int, have_max: int | None, want_min: int, want_max: int | None) -> bool:
    """The spec's limits matching: what is provided satisfies what is imported."""
    if have_min < want_min:
        return False
    return want_max is None or (have_max is not None and have_max <= want_max)


def _show(minimum: int, maximum: int | None) -> str:
    return f"{minimum}" if maximum is None else f"{minimum} {maximum}"


def link_tables_and_memories(data: bytes, tables: Mapping[tuple[str, str], TableType],
                             memories: Mapping[tuple[str, str], MemoryType],
                             functions: Container[tuple[str, str]],
                             globals_: Container[tuple[str, str]],
                             allow_unresolved: bool) -> bytes:
    """Check ``data``'s table and memory imports; return it with each matched
    import's limits set to its definition's.

    ``functions`` and ``globals_`` are the other names the runtime provides
    (host functions, host globals).  An import nobody provides is a
    :class:`LinkError` unless ``allow_unresolved`` (WAMR then makes it from
    the import's own limits, as it always did).
    """
    try:
        found = _imports(data)
    except _Unreadable:
        return data
    edits: list[tuple[int, int, bytes]] = []
    for imp in found:
        key = (imp.module, imp.name)
        what = f"{imp.module}.{imp.name}"
        if imp.kind is ExternKind.TABLE:
            wanted = f"table {_show(imp.minimum, imp.maximum)} {imp.element}"
            table = tables.get(key)
            if table is not None:
                if table.element is not imp.element or not _fits(
                        table.minimum, table.maximum, imp.minimum, imp.maximum):
                    raise LinkError(f"incompatible import type: {what} is imported as {wanted} "
                                    f"but defined as table {_show(table.minimum, table.maximum)} "
                                    f"{table.element}")
                edits.append((imp.limits_start, imp.limits_end,
                              _enc.limits(table.minimum, table.maximum)))
                continue
        else:
            wanted = f"memory {_show(imp.minimum, imp.maximum)}" + (" shared" if imp.shared
                                                                    else "")
            memory = memories.get(key)
            if memory is not None:
                if imp.shared or not _fits(memory.minimum, memory.maximum, imp.minimum,
                                           imp.maximum):
                    raise LinkError(f"incompatible import type: {what} is imported as {wanted} "
                                    f"but defined as memory "
                                    f"{_show(memory.minimum, memory.maximum)}")
                edits.append((imp.limits_start, imp.limits_end,
                              _enc.limits(memory.minimum, memory.maximum)))
                continue
        provided = ("table" if key in tables else "memory" if key in memories
                    else "function" if key in functions else "global" if key in globals_
                    else None)
        if provided is not None:
            raise LinkError(f"incompatible import type: {what} is imported as {wanted} "
                            f"but provided as a {provided}")
        if not allow_unresolved:
            define = "define_table" if imp.kind is ExternKind.TABLE else "define_memory"
            raise LinkError(f"unresolved import {what} ({wanted}): define it with "
                            f"Runtime.{define} before loading (or load with "
                            "allow_unresolved=True: the module then gets its own, made from "
                            "the import's limits)")
    if not edits:
        return data
    return _rewrite(data, edits)


def _rewrite(data: bytes, edits: list[tuple[int, int, bytes]]) -> bytes:
    """Apply byte edits inside the import section, re-framing the section."""
    where = _import_section(data)
    assert where is not None  # the edits were found in it
    start, content, end = where
    body = bytearray()
    pos = content
    for edit_start, edit_end, new in edits:
        body += data[pos:edit_start] + new
        pos = edit_end
    body += data[pos:end]
    return data[:start] + _enc.section(_enc.IMPORT, body) + data[end:]

