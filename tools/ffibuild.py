#!/usr/bin/env python3
"""Emit the cffi (out-of-line API mode) C source for one pywamr core.

CMake runs this at build time: ``python tools/ffibuild.py MODULE OUT.c [CDEF HEADER]``.
The declarations live in ``src/pywamr/_csrc/cdef.h`` (or CDEF, a file name in
that directory, with HEADER the C header the generated source includes; the
AOT compiler module uses ``compiler_cdef.h`` and ``compiler.h``); the
generated C is compiled together with the bridge and WAMR into ``pywamr.MODULE``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cffi

CSRC = Path(__file__).resolve().parent.parent / "src" / "pywamr" / "_csrc"


def make_ffi(module_name: str, cdef: str = "cdef.h", header: str = "bridge.h") -> cffi.FFI:
    """The FFI builder for ``pywamr.<module_name>``."""
    ffi = cffi.FFI()
    ffi.cdef((CSRC / cdef).read_text())
    ffi.set_source(f"pywamr.{module_name}", f'#include "{header}"')
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 5):
        print("usage: ffibuild.py MODULE OUT.c [CDEF HEADER]", file=sys.stderr)
        return 2
    out = Path(argv[2])
    make_ffi(argv[1], *argv[3:]).emit_c_code(str(out) + ".tmp")
    Path(str(out) + ".tmp").replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
