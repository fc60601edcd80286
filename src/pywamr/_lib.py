"""Loading the compiled cores and mapping their status codes to exceptions.

Only this module and ``_host`` touch the cffi modules.  Each WAMR core lives
in its own extension (the fast and classic interpreters share symbol names),
loaded on first use.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import Any, NoReturn

from ._errors import ClosedError, InstanceBusy, Timeout, Trap, WamrError

MODES: dict[str, str] = {
    "fast-interp": "_native_fast",
    "classic-interp": "_native_classic",
    "aot": "_native_fast",  # AOT code runs in the fast core (it has the AOT loader)
    # Teaclave's own WAMR build: classic interpreter, no AOT, no libc-builtin,
    # no bulk memory (pywamr.teaclave's default mode; see docs/teaclave-fidelity.md)
    "teaclave": "_native_teaclave",
}
DEFAULT_MODE = "fast-interp"
ERR_BUF = 1024

OK = 0
ERR_TRAP = -1
ERR_CLOSED = -2
ERR_BUSY = -3
ERR_RANGE = -4
ERR_NOMEM = -5
ERR_HOST = -6
ERR_TIMEOUT = -7
ERR_STATE = -8


@dataclass(frozen=True)
class Core:
    """One compiled WAMR core: its cffi ``ffi`` and ``lib``."""

    mode: str
    ffi: Any
    lib: Any


_cores: dict[str, Core] = {}
_cores_lock = threading.Lock()


def core(mode: str) -> Core:
    """The core for ``mode``, imported (and its host dispatch hooked) once."""
    found = _cores.get(mode)
    if found is not None:
        return found
    if mode not in MODES:
        choices = ", ".join(sorted(MODES))
        raise ValueError(f"unknown mode {mode!r}; choose one of: {choices}")
    with _cores_lock:
        if mode not in _cores:
            native = importlib.import_module(f"pywamr.{MODES[mode]}")
            from . import _host

            if not any(c.lib is native.lib for c in _cores.values()):  # "aot" shares a core
                _host.install(native.ffi)
            _cores[mode] = Core(mode, native.ffi, native.lib)
    return _cores[mode]


def raise_status(rc: int, message: str) -> NoReturn:
    """Raise the exception for a non-zero bridge status code."""
    if rc == ERR_TRAP:
        raise Trap(message)
    if rc == ERR_TIMEOUT:
        raise Timeout(message)
    if rc == ERR_CLOSED:
        raise ClosedError("the instance is closed")
    if rc == ERR_BUSY:
        raise InstanceBusy("the instance is running a call on another thread")
    if rc == ERR_NOMEM:
        raise MemoryError(message or "out of memory")
    if rc == ERR_RANGE:
        raise ValueError(message)
    raise WamrError(message or f"WAMR bridge error {rc}")
