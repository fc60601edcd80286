"""What pywamr accepts as "bytes or a path", and its one reader."""

from __future__ import annotations

import os
from typing import Union

PathLike = Union[str, "os.PathLike[str]"]
# A module (or payload) given as its bytes, or as the path of a file holding them.
Source = Union[bytes, bytearray, memoryview, str, "os.PathLike[str]"]


def read_source(source: Source, what: str = "module") -> bytes | bytearray | memoryview:
    """The bytes of ``source``: read from the file if it is a path, as given otherwise.

    Raises ``TypeError`` naming ``what`` for anything else, and ``OSError``
    when the file cannot be read.
    """
    if isinstance(source, (bytes, bytearray, memoryview)):
        return source
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as handle:
            return handle.read()
    raise TypeError(f"{what} must be bytes or a path, not {type(source).__name__}")
