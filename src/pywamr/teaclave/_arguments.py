"""Teaclave's argument convention: sorted key/value pairs as C strings."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def flatten(arguments: Mapping[str, Any] | None) -> list[bytes]:
    """``{"b": 2, "a": "x"}`` -> ``[b"a", b"x", b"b", b"2"]``.

    Keys are sorted; string values pass as they are, anything else as its
    JSON text (as Teaclave does).  NUL bytes cannot cross a C string.
    """
    if arguments is None:
        return []
    if type(arguments) is not dict and not isinstance(arguments, Mapping):
        raise TypeError(f"arguments must be a mapping, not {type(arguments).__name__}")
    flat: list[bytes] = []
    for key in sorted(arguments):
        if type(key) is not str and not isinstance(key, str):
            raise TypeError(f"argument names must be str, not {type(key).__name__}")
        value = arguments[key]
        kind = type(value)
        if kind is str:
            text = value
        elif kind is int:
            text = str(value)  # what JSON writes for an int, without json's overhead
        else:
            text = json.dumps(value)
        for item in (key, text):
            encoded = item.encode("utf-8")
            if b"\0" in encoded:
                raise ValueError(f"argument {key!r} contains a NUL character")
            flat.append(encoded)
    return flat


def pack(arguments: Mapping[str, Any] | None) -> tuple[int, bytes]:
    """The flattened strings, each NUL-terminated, back to back (and how many)."""
    if not arguments:
        if arguments is None or isinstance(arguments, Mapping):
            return 0, b""
    flat = flatten(arguments)
    return len(flat), b"\0".join(flat) + b"\0"
