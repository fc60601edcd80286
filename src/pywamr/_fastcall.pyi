"""Typing stub of pywamr._fastcall, the C-API caller of exports (_csrc/vectorcall.c)."""

from typing import Any

MAX_CELLS: int

class FastCall:
    """An export called through vectorcall (base of pywamr.Function)."""

    def __call__(self, *args: Any) -> Any: ...
    def _arm(self, entry: int, fastfn: int, params: str, results: str) -> bool: ...

def enable_vectorcall(cls: type[FastCall], /) -> None: ...
