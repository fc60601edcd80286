"""The optional C-API module ``pywamr._fastcall`` (``_csrc/fastcall_module.h``):
calls of exports (:class:`~pywamr.Function`) and of Python host functions of
integers in C.  None when it is not built for this interpreter, or turned
off with ``PYWAMR_FASTCALL=OFF`` (or ``0``) in the environment; everything
then goes through cffi."""

from __future__ import annotations

import os
from typing import Any


def _load() -> Any:
    if os.environ.get("PYWAMR_FASTCALL", "").upper() in ("OFF", "0"):
        return None
    try:
        from . import _fastcall
    except ImportError:
        return None
    return _fastcall


#: The module, or None.
fastcall = _load()
