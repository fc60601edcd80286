"""Export names with NUL bytes, which WAMR 1.1.2 cuts short.

WAMR keeps names as C strings: to it the export ``"\\x00\\x01..."`` is
``""``, and two function exports ``"\\x00a"``, ``"\\x00b"`` are both ``""``
(its lookup by name finds the first).  pywamr keeps the module's export
section (a copy of those bytes only), and when a name in it has a NUL byte,
reports the real names (:attr:`Module.exports`) and finds functions by their
place in the export list instead of by name (``pw_instance_func_at``).
Import names with NUL are refused at load with :class:`~pywamr.LinkError`
(:mod:`pywamr._linking`): WAMR would link the cut name.
"""

from __future__ import annotations

from . import _wasm_encoding as _enc


def export_section(data: bytes) -> bytes | None:
    """A copy of the export section's content, or None (none, or bytes this
    reader does not follow: WAMR's loader judges them)."""
    if len(data) < 8 or data[:4] != _enc.MAGIC:
        return None
    pos = 8
    try:
        while pos < len(data):
            section_id = data[pos]
            size, content = _enc.read_u32(data, pos + 1, len(data))
            if section_id == _enc.EXPORT:
                return data[content:content + size]
            if section_id > _enc.EXPORT:
                return None  # sections are ordered: no export section
            pos = content + size
    except _enc.DecodeError:
        return None
    return None


def export_names(section: bytes) -> list[str] | None:
    """The export names in module order, or None if the section does not parse."""
    try:
        count, pos = _enc.read_u32(section, 0, len(section))
        names = []
        for _ in range(count):
            size, pos = _enc.read_u32(section, pos, len(section))
            names.append(section[pos:pos + size].decode())
            pos += size + 1  # the name, the kind
            _, pos = _enc.read_u32(section, pos, len(section))
    except (_enc.DecodeError, UnicodeDecodeError):
        return None
    return names

