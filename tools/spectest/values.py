"""Spec-test values: wast2json's JSON encoding to Python and back, and the
spec's comparison rules (bit-exact, with ``nan:canonical``/``nan:arithmetic``)."""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

F32_SIGN, F32_QUIET, F32_EXP = 0x80000000, 0x00400000, 0x7F800000
F64_SIGN, F64_QUIET, F64_EXP = 1 << 63, 1 << 51, 0x7FF << 52
SCALARS = ("i32", "i64", "f32", "f64")


class Unsupported(Exception):
    """An assertion needs something the embedding API does not offer; the
    message is the cause recorded with the failure."""


@dataclass(frozen=True)
class Value:
    """One wast2json value: ``type`` and its raw JSON ``value`` (bit pattern
    as unsigned decimal, a NaN class, ``null``, or a v128 lane list)."""

    type: str
    raw: Any
    lane_type: str | None = None

    @classmethod
    def parse(cls, obj: dict[str, Any]) -> Value:
        return cls(obj["type"], obj.get("value"), obj.get("lane_type"))

    def __str__(self) -> str:
        if self.type == "v128":
            return f"v128 {self.lane_type} {self.raw}"
        if self.type in ("f32", "f64") and str(self.raw).isdigit():
            return f"{self.type} {describe_float(self.type, int(self.raw))}"
        return f"{self.type} {self.raw}"


def describe_float(type_: str, bits: int) -> str:
    """A float bit pattern, readably: ``0x7fc00000 (nan)`` or ``0x3f800000 (1.0)``."""
    width = 8 if type_ == "f32" else 16
    return f"0x{bits:0{width}x} ({bits_to_float(type_, bits)!r})"


def bits_to_float(type_: str, bits: int) -> float:
    if type_ == "f32":
        return float(struct.unpack("<f", struct.pack("<I", bits))[0])
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def float_to_bits(type_: str, value: float) -> int:
    if type_ == "f32":
        return int(struct.unpack("<I", struct.pack("<f", value))[0])
    return int(struct.unpack("<Q", struct.pack("<d", value))[0])


def is_signalling_nan(type_: str, bits: int) -> bool:
    """A NaN whose quiet bit is clear: Python floats cannot carry an f32 one."""
    if type_ == "f32":
        return bits & F32_EXP == F32_EXP and bits & 0x7FFFFF != 0 and not bits & F32_QUIET
    if type_ == "f64":
        return bits & F64_EXP == F64_EXP and bits & ((1 << 52) - 1) != 0 and not bits & F64_QUIET
    return False


@dataclass(frozen=True)
class ExternToken:
    """The Python object standing for the script's ``(ref.extern N)``."""

    number: int


LANE_BITS = {"i8": 8, "i16": 16, "i32": 32, "i64": 64, "f32": 32, "f64": 64}


def v128_supported() -> bool:
    """Does this pywamr pass v128 values (as 128-bit ints, lane 0 lowest)?"""
    import pywamr
    return hasattr(pywamr.ValType, "V128")


def v128_from_lanes(value: Value) -> int:
    """A v128 argument as pywamr takes it: an unsigned 128-bit int, lane 0 in the low bits."""
    if not v128_supported():
        raise Unsupported("api: no v128 values")
    width = LANE_BITS[value.lane_type or "i32"]
    result = 0
    for i, lane in enumerate(value.raw):
        result |= (int(lane) & ((1 << width) - 1)) << (i * width)
    return result


def v128_matches(expected: Value, actual: Any) -> bool:
    """Lane by lane: bit patterns, or a NaN class for float lanes."""
    if not v128_supported():
        raise Unsupported("api: no v128 values")
    if isinstance(actual, bool) or not isinstance(actual, int):
        return False
    lane_type = expected.lane_type or "i32"
    width = LANE_BITS[lane_type]
    for i, lane in enumerate(expected.raw):
        bits = (actual >> (i * width)) & ((1 << width) - 1)
        if lane in ("nan:canonical", "nan:arithmetic"):
            if not matches(Value(lane_type, lane), bits_to_float(lane_type, bits)
                           if lane_type == "f64" else _f32_lane(bits)):
                return False
        elif bits != int(lane) & ((1 << width) - 1):
            return False
    return True


class _F32Lane(float):
    """A float's bits carried exactly (a Python float would quiet an f32 signalling NaN)."""

    bits: int


def _f32_lane(bits: int) -> float:
    return exact_float("f32", bits)


def exact_float(type_: str, bits: int) -> float:
    """An f32/f64 result given as its bit pattern (``Function.call_bits``), as a
    float that remembers those bits for the comparison."""
    value = _F32Lane(bits_to_float(type_, bits))
    value.bits = bits
    return value


def reference_values_supported() -> bool:
    """Does this pywamr pass funcref/externref values (ValType.EXTERNREF exists)?"""
    import pywamr
    return hasattr(pywamr.ValType, "EXTERNREF")


def to_argument(value: Value) -> object:
    """The Python value to pass for ``value`` (ints unsigned, floats from bits,
    references as None or an :class:`ExternToken`)."""
    if value.type in ("i32", "i64"):
        return int(value.raw)
    if value.type in ("f32", "f64"):
        return bits_to_float(value.type, int(value.raw))
    if value.type == "v128":
        return v128_from_lanes(value)
    if not reference_values_supported():
        raise Unsupported("api: no reference values")
    if value.raw == "null":
        return None
    if value.type == "externref":
        return ExternToken(int(value.raw))
    raise Unsupported("runner: a non-null funcref argument has no Python form")


def result_bits(type_: str, result: Any) -> int:
    """A pywamr result as the unsigned bit pattern of its wasm type."""
    if isinstance(result, _F32Lane):
        return result.bits
    if type_ == "i32":
        return int(result) & 0xFFFFFFFF
    if type_ == "i64":
        return int(result) & 0xFFFFFFFFFFFFFFFF
    return float_to_bits(type_, float(result))


def matches(expected: Value, actual: Any) -> bool:
    """Does a pywamr result match an expected value as the spec says?"""
    if expected.type in ("funcref", "externref"):
        if not reference_values_supported():
            raise Unsupported("api: no reference values")
        if expected.raw == "null":
            return actual is None
        if expected.type == "externref" and expected.raw is not None:
            return bool(actual == ExternToken(int(expected.raw)))
        return actual is not None                # any non-null funcref
    if expected.type == "v128":
        return v128_matches(expected, actual)
    if expected.type not in SCALARS:
        raise Unsupported(f"runner: unknown value type {expected.type}")
    if isinstance(actual, bool) or not isinstance(actual, (int, float)):
        return False
    if expected.type in ("f32", "f64") and isinstance(actual, int):
        return False
    if expected.type in ("i32", "i64") and not isinstance(actual, int):
        return False
    bits = result_bits(expected.type, actual)
    if expected.raw in ("nan:canonical", "nan:arithmetic"):
        if expected.type == "f32":
            mask, canonical = 0x7FFFFFFF, 0x7FC00000
            quiet = F32_EXP | F32_QUIET
        else:
            mask, canonical = (1 << 63) - 1, 0x7FF8 << 48
            quiet = F64_EXP | F64_QUIET
        if expected.raw == "nan:canonical":
            return bits & mask == canonical
        return bits & quiet == quiet
    return bits == int(expected.raw)


def show(type_: str, actual: Any) -> str:
    """A pywamr result for failure messages."""
    if type_ in ("f32", "f64") and isinstance(actual, float):
        return f"{type_} {describe_float(type_, float_to_bits(type_, actual))}"
    if type_ in ("i32", "i64") and isinstance(actual, int):
        return f"{type_} {result_bits(type_, actual)}"
    return f"{type_} {actual!r}"


def quieted_f32_nan(expected: Value, actual: Any) -> bool:
    """The result is the expected f32 signalling NaN with its quiet bit set,
    i.e. what a Python float does to it (not the engine's doing)."""
    if expected.type != "f32" or not str(expected.raw).isdigit() or not isinstance(actual, float):
        return False
    bits = int(expected.raw)
    return (is_signalling_nan("f32", bits) and math.isnan(actual)
            and result_bits("f32", actual) == bits | F32_QUIET)
