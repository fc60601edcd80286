"""Typing stub of pywamr._fastcall: calls of exports and of integer host functions in C
(_csrc/fastcall_module.h)."""

from collections.abc import Callable
from typing import Any

MAX_CELLS: int

class FastCall:
    """An export called through vectorcall (base of pywamr.Function)."""

    def __call__(self, *args: Any) -> Any: ...
    def _arm(self, entry: int, fastfn: int, params: str, results: str) -> bool: ...

def enable_vectorcall(cls: type[FastCall], /) -> None: ...
def set_host_context(
    instance_of: Callable[[int], Any], failed: Callable[[int, int, BaseException], None], /
) -> None: ...
def set_host(
    py_id: int, func: Callable[..., Any], check: Callable[[Any], Any], result: str,
    pass_instance: bool, /
) -> None: ...
def drop_host(py_id: int, /) -> None: ...
def host_caller_address() -> int: ...
