#!/usr/bin/env python3
"""Emit the cffi (out-of-line API mode) C source for one pywamr core.

CMake runs this at build time: ``python tools/ffibuild.py MODULE OUT.c``.
The declarations live in ``src/pywamr/_csrc/cdef.h``; the generated C is
compiled together with the bridge and WAMR into ``pywamr.MODULE``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

CSRC = Path(__file__).resolve().parent.parent / "src" / "pywamr" / "_csrc"


def make_ffi(module_name: str) -> cffi.FFI:
    """The FFI builder for ``pywamr.<module_name>``."""
    ffi = cffi.FFI()
    ffi.cdef((CSRC / "cdef.h").read_text())
    ffi.set_source(f"pywamr.{module_name}", '#include "bridge.h"')
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print("usage: ffibuild.py MODULE OUT.c", file=sys.stderr)
        return 2
    out = Path(argv[2])
    make_ffi(argv[1]).emit_c_code(str(out) + ".tmp")
    Path(str(out) + ".tmp").replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
