"""Teaclave's argument convention: sorted key/value pairs as C strings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def _texts(arguments: Mapping[str, Any]) -> list[str]:
    """``[k1, v1, k2, v2, ...]`` in sorted key order; values as Teaclave writes them."""
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
        elif kind is int:
            append(str(value))  # what JSON writes for an int, without json's overhead
        else:
            append(json.dumps(value))
    return texts


def flatten(arguments: Mapping[str, Any] | None) -> list[bytes]:
    """``{"b": 2, "a": "x"}`` -> ``[b"a", b"x", b"b", b"2"]``.

    Keys are sorted; string values pass as they are, anything else as its
    JSON text (as Teaclave does).  NUL characters cannot cross a C string.
    """
    if arguments is None:
        return []
    flat = [text.encode("utf-8") for text in _texts(arguments)]
    for i, item in enumerate(flat):
        if b"\0" in item:
            key = flat[i - i % 2].decode("utf-8", "replace")
            raise ValueError(f"argument {key!r} contains a NUL character")
    return flat


def pack(arguments: Mapping[str, Any] | None) -> tuple[int, bytes]:
    """The flattened strings, each NUL-terminated, back to back (and how many)."""
    if not arguments and (arguments is None or isinstance(arguments, Mapping)):
        return 0, b""
    texts = _texts(arguments)
    data = "\0".join(texts).encode("utf-8") + b"\0"
    if data.count(b"\0") != len(texts):
        flatten(arguments)  # raises, naming the argument
    return len(texts), data
