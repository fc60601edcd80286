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

``python tools/ffibuild.py --stubs [--check]`` writes (or checks) the typing
stubs ``src/pywamr/<module>.pyi`` of the compiled modules, generated from the
same declarations (:func:`make_stub`), so ``mypy --strict`` checks every call
into C: ``const char *`` parameters take ``bytes`` (or a cdata), other
pointers a cdata, integers ``int``, ``double`` ``float``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

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


# The compiled modules and the header each is built from.
STUBS = {"_native_fast": "bridge.h", "_native_classic": "bridge.h", "_native_teaclave": "bridge.h",
         "_compiler": "compiler.h"}
_INT_TYPES = {"int", "unsigned", "char", "uint8_t", "uint32_t", "uint64_t", "int8_t", "int32_t",
              "int64_t", "size_t", "uintptr_t"}
# cffi passes a bytes object to a (const) pointer to these.
_BYTE_TYPES = {"char", "signed char", "unsigned char", "uint8_t", "int8_t"}
_STUB_HEAD = '''"""Typing stub of pywamr.{module}: generated from {header}, do not edit.

Regenerate with ``python tools/ffibuild.py --stubs`` after changing {header}.
"""

from collections.abc import Callable
from typing import Any

class CData:
    """A cffi C object (pointer, array, struct)."""

    def __getitem__(self, index: int) -> Any: ...
    def __setitem__(self, index: int, value: Any) -> None: ...
    def __add__(self, offset: int) -> CData: ...
    def __bool__(self) -> bool: ...
    def __getattr__(self, name: str) -> Any: ...  # struct fields
    def __setattr__(self, name: str, value: Any) -> None: ...

class FFI:
    NULL: CData
    def new(self, cdecl: str, init: Any = ...) -> CData: ...
    def cast(self, cdecl: str, value: Any) -> CData: ...
    def addressof(self, cdata: Any, *fields: str) -> CData: ...
    def string(self, cdata: CData, maxlen: int = ...) -> bytes: ...
    def unpack(self, cdata: CData, length: int) -> bytes: ...
    def buffer(self, cdata: CData, size: int = ...) -> Any: ...
    def from_buffer(self, data: Any, require_writable: bool = ...) -> CData: ...
    def gc(self, cdata: CData, destructor: Callable[[CData], object], size: int = ...) -> CData: ...
    def def_extern(self, name: str = ..., error: Any = ..., onerror: Any = ...) -> Any: ...
    def memmove(self, dest: Any, src: Any, n: int) -> None: ...

'''


def _stub_type(node: Any, typedefs: dict[str, str], param: bool) -> str:
    from pycparser import c_ast

    if isinstance(node, c_ast.PtrDecl):
        inner = node.type
        is_char = (isinstance(inner, c_ast.TypeDecl)
                   and isinstance(inner.type, c_ast.IdentifierType)
                   and " ".join(inner.type.names) in _BYTE_TYPES)
        if param and is_char and "const" in inner.quals:
            return "bytes | CData"
        return "CData"
    names = node.type.names if isinstance(node.type, c_ast.IdentifierType) else []
    name = " ".join(names)
    if name in typedefs:
        return typedefs[name]
    if name == "void":
        return "None"
    if name in ("double", "float"):
        return "float"
    if set(names) <= _INT_TYPES:
        return "int"
    raise ValueError(f"no Python type for C type {name!r}")


def make_stub(module_name: str, header: str) -> str:
    """The ``.pyi`` of ``pywamr.<module_name>``: its ``lib`` and ``ffi``."""
    from pycparser import c_ast, c_parser

    cdef = make_cdef(header)
    constants = re.findall(r"^#define (\w+) \.\.\.$", cdef, re.MULTILINE)
    body = re.sub(r"^#define .*$", "", cdef, flags=re.MULTILINE)
    body = body.replace('extern "Python+C" ', "extern ")
    ints = "".join(f"typedef int {t};\n" for t in sorted(_INT_TYPES - {"int", "unsigned", "char"}))
    tree = c_parser.CParser().parse(ints + body)
    typedefs: dict[str, str] = dict.fromkeys(_INT_TYPES, "int")
    lines = [f"    {name}: int" for name in constants]
    for node in tree.ext:
        if isinstance(node, c_ast.Typedef):
            typedefs[node.name] = "CData" if not isinstance(node.type, c_ast.TypeDecl) else (
                "CData" if isinstance(node.type.type, c_ast.Struct) else
                _stub_type(node.type, typedefs, False))
        elif isinstance(node, c_ast.Decl) and isinstance(node.type, c_ast.FuncDecl):
            if "extern" in node.storage:
                continue  # implemented in Python (cffi def_extern)
            params = []
            for arg in (node.type.args.params if node.type.args else []):
                if isinstance(arg, c_ast.Typename):  # (void)
                    continue
                params.append(f"{arg.name}: {_stub_type(arg.type, typedefs, True)}")
            result = _stub_type(node.type.type, typedefs, False)
            line = f"    def {node.name}({', '.join(['self', *params])}) -> {result}: ..."
            if len(line) > 100:
                line = "\n".join([f"    def {node.name}(", "        self,"]
                                  + [f"        {p}," for p in params] + [f"    ) -> {result}: ..."])
            lines.append(line)
    head = _STUB_HEAD.format(module=module_name, header=header)
    return head + "class Lib:\n" + "\n".join(lines) + "\n\nffi: FFI\nlib: Lib\n"


def alias_stub(module_name: str, first: str, header: str) -> str:
    """The stub of a further core built from ``header``: the first one's API."""
    return (f'"""Typing stub of pywamr.{module_name}: the API of pywamr.{first} ({header}).\n\n'
            f'Generated by ``python tools/ffibuild.py --stubs``, do not edit.\n"""\n\n'
            f"from .{first} import ffi as ffi\nfrom .{first} import lib as lib\n")


def stubs(check: bool) -> int:
    """Write the stubs, or (check) report the ones that differ; 1 if any.

    The first module of each header gets the full stub; later modules built
    from the same header re-export it (the cores share bridge.h's API).
    """
    stale = []
    first_of: dict[str, str] = {}
    for module_name, header in STUBS.items():
        path = CSRC.parent / f"{module_name}.pyi"
        first = first_of.setdefault(header, module_name)
        text = (make_stub(module_name, header) if first == module_name
                else alias_stub(module_name, first, header))
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path.name)
        if not check:
            path.write_text(text)
    if check and stale:
        print(f"stale stubs (run tools/ffibuild.py --stubs): {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[1] == "--stubs":
        return stubs(check="--check" in argv[2:])
    if len(argv) not in (3, 4):
        print("usage: ffibuild.py MODULE OUT.c [HEADER]", file=sys.stderr)
        return 2
    out = Path(argv[2])
    make_ffi(argv[1], *argv[3:]).emit_c_code(str(out) + ".tmp")
    Path(str(out) + ".tmp").replace(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
