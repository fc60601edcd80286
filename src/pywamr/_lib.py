"""Loading the compiled cores and mapping their status codes to exceptions.

Each WAMR core lives in its own extension (the fast and classic interpreters
share symbol names), loaded on first use.  The bridge's status codes are
defined once, in C (``bridge.h``), and read here from the cffi library by
name (``lib.PW_ERR_TRAP``); :func:`raise_status` is the one place that turns
a status and WAMR's message into an exception.
"""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn

from . import _host
from ._errors import (
    ClosedError,
    InstanceBusy,
    InstantiationError,
    LinkError,
    LoadError,
    Timeout,
    Trap,
    WamrError,
)

MODES: dict[str, str] = {
    "fast-interp": "_native_fast",
    "classic-interp": "_native_classic",
    "aot": "_native_fast",  # AOT code runs in the fast core (it has the AOT loader)
    # Teaclave's own WAMR build: classic interpreter, no AOT, no libc-builtin,
    # no bulk memory (pywamr.teaclave's default mode; see docs/teaclave-fidelity.md)
    "teaclave": "_native_teaclave",
}
DEFAULT_MODE = "fast-interp"
ERR_BUF = 1024  # bytes for WAMR's error messages


if TYPE_CHECKING:  # both cores have the API of the stub _native_fast.pyi (from bridge.h)
    from ._native_fast import FFI, Lib


@dataclass(frozen=True)
class Core:
    """One compiled WAMR core: its cffi ``ffi`` and ``lib``."""

    mode: str
    ffi: FFI
    lib: Lib


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
            if not any(c.lib is native.lib for c in _cores.values()):  # "aot" shares a core
                _host.install(native.ffi, native.lib)
            _cores[mode] = Core(mode, native.ffi, native.lib)
    return _cores[mode]


# Status name in bridge.h -> (exception, fixed message or None for WAMR's, default message).
_STATUS_ERRORS: dict[str, tuple[type[Exception], str | None, str]] = {
    "PW_ERR_TRAP": (Trap, None, ""),
    "PW_ERR_TIMEOUT": (Timeout, None, ""),
    "PW_ERR_CLOSED": (ClosedError, "the instance is closed", ""),
    "PW_ERR_BUSY": (InstanceBusy, "the instance is running a call on another thread", ""),
    "PW_ERR_NOMEM": (MemoryError, None, "out of memory"),
    "PW_ERR_RANGE": (ValueError, None, ""),
    "PW_ERR_LOAD": (LoadError, None, "WAMR could not load the module"),
    "PW_ERR_LINK": (LinkError, None, ""),
    "PW_ERR_INSTANTIATE": (InstantiationError, None, "instantiation failed"),
}
_by_code: dict[int, tuple[type[Exception], str | None, str]] = {}


def raise_status(native: Core, rc: int, message: Any = "") -> NoReturn:
    """Raise the exception for a non-zero bridge status ``rc`` of ``native``.

    ``message`` is WAMR's text: a ``str``, or the ``char[]`` error buffer the
    failing bridge function filled in.
    """
    if not isinstance(message, str):
        message = native.ffi.string(message).decode(errors="replace")
    if not _by_code:
        _by_code.update({getattr(native.lib, name): spec
                         for name, spec in _STATUS_ERRORS.items()})
    kind, fixed, default = _by_code.get(rc, (WamrError, None, f"WAMR bridge error {rc}"))
    raise kind(fixed or message or default)
