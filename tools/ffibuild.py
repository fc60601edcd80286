#!/usr/bin/env python3
"""Emit the cffi (out-of-line API mode) C source for one pywamr extension.

CMake runs this at build time: ``python tools/ffibuild.py MODULE OUT.c HEADER``
(HEADER a file name in ``src/pywamr/_csrc``: ``bridge.h`` for the two cores,
``compiler.h`` for the AOT compiler).  The cffi declarations are generated
from HEADER itself (:func:`make_cdef`), so the header is their only source:

- comments and preprocessor lines go; ``#define NAME VALUE`` becomes
  ``#define NAME ...`` (cffi takes the value from the compiled header, so
  status codes are defined once, in C);
- ``extern`` function declarations become ``extern "Python+C"``: they are
  implemented in Python (cffi ``def_extern``);
- the WAMR handle types a header names are declared opaque (:data:`PRELUDES`).

The generated C includes HEADER and is compiled together with the bridge
(or the compiler) into ``pywamr.MODULE``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import cffi

CSRC = Path(__file__).resolve().parent.parent / "src" / "pywamr" / "_csrc"

# Types from wasm_export.h that a header's declarations name, as cffi sees them.
PRELUDES = {
    "bridge.h": ("typedef struct WASMExecEnv *wasm_exec_env_t;\n"
                 "typedef void *wasm_function_inst_t;\n"),
}

_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)
_DEFINE = re.compile(r"#\s*define\s+([A-Za-z_]\w*)(\s+\S.*)?$")
_EXTERN = re.compile(r"^extern\s+(?!\")", re.MULTILINE)


def make_cdef(header: str) -> str:
    """The cffi declarations for ``_csrc/<header>``."""
    text = _COMMENT.sub(" ", (CSRC / header).read_text())
    out: list[str] = [PRELUDES.get(header, "")]
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            match = _DEFINE.match(stripped)
            if match and match.group(2):  # not the include guard
                out.append(f"#define {match.group(1)} ...")
            continue
        out.append(line.rstrip())
    return _EXTERN.sub('extern "Python+C" ', "\n".join(out)) + "\n"


def make_ffi(module_name: str, header: str = "bridge.h") -> cffi.FFI:
    """The FFI builder for ``pywamr.<module_name>``."""
    ffi = cffi.FFI()
    ffi.cdef(make_cdef(header))
    ffi.set_source(f"pywamr.{module_name}", f'#include "{header}"')
    return ffi


def main(argv: list[str]) -> int:
    if len(argv) not in (3, 4):
        print("usage: ffibuild.py MODULE OUT.c [HEADER]", file=sys.stderr)
        return 2
    out = Path(argv[2])
    make_ffi(argv[1], *argv[3:]).emit_c_code(str(out) + ".tmp")
    Path(str(out) + ".tmp").replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
