"""Running one module in an engine, and comparing what two engines did."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field
from typing import Any

NUMERIC = {"i32", "i64", "f32", "f64"}
LOG_SIGNATURES = {"log-i32": "i32", "log-i64": "i64", "log-f32": "f32", "log-f64": "f64"}
HANG_RESET = "hangLimitInitializer"
MEMORY_HASH = "hashMemory"      # its result is a hash of memory, which is compared directly


@dataclass
class Call:
    """One export call: result (a tuple) or a trap category, logs, memory after."""

    name: str
    result: tuple[Any, ...] | None = None
    trap: str | None = None
    trap_message: str = ""
    logs: list[tuple[str, Any]] = field(default_factory=list)
    memory: bytes | None = None


@dataclass
class Outcome:
    """What an engine did with a module: refused it, or the calls made."""

    refused: str | None = None
    calls: list[Call] = field(default_factory=list)


TRAP_CATEGORIES = [
    ("unreachable", "unreachable"),
    ("divide by zero", "integer divide by zero"),
    ("integer overflow", "integer overflow"),
    ("invalid conversion", "invalid conversion to integer"),
    ("out of bounds memory", "out of bounds memory access"),
    ("memory access out of bounds", "out of bounds memory access"),
    ("indirect call type mismatch", "indirect call type mismatch"),
    ("signature mismatch", "indirect call type mismatch"),
    ("uninitialized element", "uninitialized element"),
    # wasmtime words every table index out of bounds (call_indirect, table.get/set/init/
    # copy/fill) "undefined element: out of bounds table access"; the spec and WAMR say
    # "undefined element" for call_indirect and "out of bounds table access" otherwise.
    ("undefined element", "table index out of bounds"),
    ("out of bounds table", "table index out of bounds"),
    ("null function", "uninitialized element"),
    ("stack overflow", "stack exhausted"),
    ("stack exhausted", "stack exhausted"),
]


def trap_category(message: str) -> str:
    """Engines word traps differently; compare what they mean."""
    lowered = message.lower()
    for needle, category in TRAP_CATEGORIES:
        if needle in lowered:
            return category
    return "other: " + message.splitlines()[0][:200] if message else "other"


def _float_bits(t: str, value: float) -> int:
    if t == "f32":
        return int(struct.unpack("<I", struct.pack("<f", value))[0])
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


def same_value(a: Any, b: Any) -> bool:
    """Bit-exact equality, except that any NaN equals any NaN: the spec lets
    arithmetic choose NaN payloads and signs."""
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) and math.isnan(b):
            return True
        return _float_bits("f64", a) == _float_bits("f64", b)
    if isinstance(a, int) and isinstance(b, int) and not isinstance(a, bool):
        return a == b
    return bool(a == b)


def _nan_window(mem: bytes, pos: int) -> bool:
    """Is byte ``pos`` inside an f32 or f64 NaN stored at any offset?"""
    for width, fmt, exp_mask, mant_mask in ((4, "<I", 0x7F800000, 0x7FFFFF),
                                            (8, "<Q", 0x7FF << 52, (1 << 52) - 1)):
        for start in range(max(0, pos - width + 1), min(pos, len(mem) - width) + 1):
            (bits,) = struct.unpack_from(fmt, mem, start)
            if bits & exp_mask == exp_mask and bits & mant_mask:
                return True
    return False


def memory_difference(ref: bytes | None, got: bytes | None) -> str | None:
    """None if equal (NaN payloads aside), else where they first differ."""
    if ref == got:
        return None
    if ref is None or got is None:
        return f"memory present in one engine only ({ref is None}, {got is None})"
    if len(ref) != len(got):
        return f"memory size {len(got)} instead of {len(ref)}"
    for pos in range(len(ref)):
        if ref[pos] != got[pos] and not (_nan_window(ref, pos) and _nan_window(got, pos)):
            return (f"memory byte {pos}: 0x{got[pos]:02x} instead of 0x{ref[pos]:02x} "
                    f"(around: {got[max(0, pos - 4):pos + 4].hex()} vs "
                    f"{ref[max(0, pos - 4):pos + 4].hex()})")
    return None


def compare(ref: Outcome, got: Outcome) -> tuple[str, str] | None:
    """The first divergence as ``(kind, detail)``, or None.

    Kinds: ``refused`` (a valid module refused), ``result``, ``trap``
    (trapped differently or only in one engine), ``log`` (host calls),
    ``memory``.  After a stack-exhaustion trap in either engine (engines may
    legitimately differ in stack depth) the rest is not compared.
    """
    if ref.refused is not None:
        return None
    if got.refused is not None:
        return "refused", got.refused
    for r, g in zip(ref.calls, got.calls):
        where = f"export {r.name!r}"
        if "stack exhausted" in (r.trap, g.trap):
            return None
        if r.trap != g.trap:
            return "trap", (f"{g.trap or 'no trap'} instead of {r.trap or 'no trap'} in "
                            f"{where} ({g.trap_message!r}, result {g.result!r}; reference "
                            f"result {r.result!r})")
        if r.name != MEMORY_HASH and r.trap is None and (
                r.result is None or g.result is None or len(r.result) != len(g.result)
                or not all(same_value(a, b) for a, b in zip(r.result, g.result))):
            return "result", f"{where}: {g.result!r} instead of {r.result!r}"
        if len(r.logs) != len(g.logs) or not all(
                ra[0] == ga[0] and same_value(ra[1], ga[1]) for ra, ga in zip(r.logs, g.logs)):
            return "log", f"{where}: host calls {g.logs[:20]!r} instead of {r.logs[:20]!r}"
        diff = memory_difference(r.memory, g.memory)
        if diff is not None:
            return "memory", f"after {where}: {diff}"
    if len(ref.calls) != len(got.calls):
        return "calls", f"{len(got.calls)} calls instead of {len(ref.calls)}"
    return None


def signature(found: tuple[str, str]) -> str:
    """What a reduced module must keep showing: the kind, and for traps which
    trap turned into which (so reduction does not drift to another bug)."""
    kind, detail = found
    if kind == "trap":
        return "trap: " + detail.split(" in export ")[0]
    if kind == "refused":
        return "refused: " + detail
    return kind
