"""Teaclave's argument convention: sorted key/value pairs as C strings.

String values pass as they are.  Anything else is rendered as text, in one
of two styles:

* ``serde`` (teaclave profile): what Teaclave's ``FunctionArguments::into_vec``
  gives, ``serde_json::Value::to_string``: compact separators, object keys
  sorted (a BTreeMap), non-ASCII kept, floats in Rust's shortest form
  (``1e16``, ``0.00001``, ``1e-7``, ``3.0``), integers outside i64/u64 as
  floats (``1.8446744073709552e19``), NaN and infinities refused (JSON has none);
* ``json`` (strict profile): Python's :func:`json.dumps` defaults.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

_I64_MIN, _U64_MAX = -(1 << 63), (1 << 64) - 1


def _serde_float(value: float) -> str:
    """A finite float as serde_json (ryu's shortest form) writes it."""
    if not math.isfinite(value):
        raise ValueError(f"{value!r} has no JSON form (Teaclave's arguments are JSON)")
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    # repr gives the shortest digits that round-trip, as ryu does
    _, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    k = exponent + len(digit_tuple) - len(digits)  # value = digits * 10^k
    length = len(digits)
    kk = length + k  # 10^(kk-1) <= value < 10^kk
    if k >= 0 and kk <= 16:
        out = digits + "0" * k + ".0"
    elif 0 < kk <= 16:
        out = digits[:kk] + "." + digits[kk:]
    elif -5 < kk <= 0:
        out = "0." + "0" * -kk + digits
    elif length == 1:
        out = f"{digits}e{kk - 1}"
    else:
        out = f"{digits[0]}.{digits[1:]}e{kk - 1}"
    return ("-" if value < 0 else "") + out


def serde_text(value: Any) -> str:
    """``value`` as ``serde_json::Value::to_string`` renders it."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # the same escapes as serde_json
    if isinstance(value, int):
        return str(value) if _I64_MIN <= value <= _U64_MAX else _serde_float(float(value))
    if isinstance(value, float):
        return _serde_float(value)
    if isinstance(value, Mapping):
        items = []
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"object keys must be str, not {type(key).__name__}")
        for key in sorted(value):
            items.append(f"{json.dumps(key, ensure_ascii=False)}:{serde_text(value[key])}")
        return "{" + ",".join(items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(serde_text(v) for v in value) + "]"
    raise TypeError(f"{type(value).__name__} values have no JSON form")


def _texts(arguments: Mapping[str, Any], serde: bool) -> list[str]:
    """``[k1, v1, k2, v2, ...]`` in sorted key order; values as text."""
    if type(arguments) is not dict and not isinstance(arguments, Mapping):
        raise TypeError(f"arguments must be a mapping, not {type(arguments).__name__}")
    try:
        keys = sorted(arguments)
    except TypeError:
        keys = list(arguments)  # mixed key types: the check below names the culprit
    texts: list[str] = []
    append = texts.append
    for key in keys:
        if type(key) is not str and not isinstance(key, str):
            raise TypeError(f"argument names must be str, not {type(key).__name__}")
        value = arguments[key]
        kind = type(value)
        append(key)
        if kind is str:
            append(value)
        elif kind is int and (not serde or _I64_MIN <= value <= _U64_MAX):
            append(str(value))  # what JSON writes for an int, without json's overhead
        elif serde:
            append(serde_text(value))
        else:
            append(json.dumps(value))
    return texts


def flatten(arguments: Mapping[str, Any] | None, profile: str = "teaclave") -> list[bytes]:
    """``{"b": 2, "a": "x"}`` -> ``[b"a", b"x", b"b", b"2"]``.

    Keys are sorted; string values pass as they are, anything else as text in
    the ``profile``'s style (see the module docstring).  NUL characters
    cannot cross a C string.
    """
    if arguments is None:
        return []
    flat = [text.encode("utf-8") for text in _texts(arguments, profile == "teaclave")]
    for i, item in enumerate(flat):
        if b"\0" in item:
            key = flat[i - i % 2].decode("utf-8", "replace")
            raise ValueError(f"argument {key!r} contains a NUL character")
    return flat


def pack(arguments: Mapping[str, Any] | None, serde: bool) -> tuple[int, bytes]:
    """The flattened strings, each NUL-terminated, back to back (and how many)."""
    if not arguments and (arguments is None or isinstance(arguments, Mapping)):
        return 0, b""
    texts = _texts(arguments, serde)
    data = "\0".join(texts).encode("utf-8") + b"\0"
    if data.count(b"\0") != len(texts):
        flatten(arguments, "teaclave" if serde else "strict")  # raises, naming the argument
    return len(texts), data
