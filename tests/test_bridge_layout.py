"""The C bridge's structure: generated cffi declarations, one status table,
no dependency cycles between its C files."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

import pywamr
from pywamr import _lib
from pywamr._errors import (
    ClosedError,
    InstanceBusy,
    InstantiationError,
    LinkError,
    LoadError,
    Timeout,
    Trap,
    WamrError,
)

ROOT = Path(__file__).resolve().parent.parent
CSRC = ROOT / "src" / "pywamr" / "_csrc"
PACKAGE = ROOT / "src" / "pywamr"
_COMMENT = re.compile(r"/\*.*?\*/|//[^\n]*", re.DOTALL)


def _ffibuild() -> object:
    spec = importlib.util.spec_from_file_location("ffibuild", ROOT / "tools" / "ffibuild.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("ffibuild", module)
    spec.loader.exec_module(module)
    return module


def _python_sources() -> str:
    return "\n".join(p.read_text() for p in PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("header", ["bridge.h", "compiler.h"])
def test_cffi_declarations_come_from_the_header_and_are_all_used(header: str) -> None:
    ffibuild = _ffibuild()
    cdef = ffibuild.make_cdef(header)  # type: ignore[attr-defined]
    ffibuild.make_ffi("_check", header)  # type: ignore[attr-defined]  # cffi parses it
    functions = re.findall(r"\b(pwc?_\w+)\s*\(", cdef)
    assert len(functions) >= 4
    python = _python_sources()
    unused = [name for name in functions if not re.search(rf"\b{name}\b", python)]
    assert not unused, f"{header} declares functions Python never calls: {unused}"


def test_status_codes_come_from_c_only() -> None:
    # No Python status table or literal status comparisons (e.g. "rc == -4").
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        table = re.search(r"^\s*(?:OK\s*=\s*0|\w*ERR_[A-Z]+\s*=\s*-\d)", text, re.MULTILINE)
        assert not table, path
        assert not re.search(r"\brc\s*[!=]=\s*-\d", text), path
    lib = _lib.core("fast-interp").lib
    codes = {name: getattr(lib, name) for name in dir(lib) if name.startswith("PW_ERR_")}
    assert len(set(codes.values())) == len(codes), "status codes must be distinct"
    assert lib.PW_OK == 0 and all(code < 0 for code in codes.values())


@pytest.mark.parametrize(("name", "kind"), [
    ("PW_ERR_TRAP", Trap), ("PW_ERR_TIMEOUT", Timeout), ("PW_ERR_CLOSED", ClosedError),
    ("PW_ERR_BUSY", InstanceBusy), ("PW_ERR_NOMEM", MemoryError), ("PW_ERR_RANGE", ValueError),
    ("PW_ERR_LOAD", LoadError), ("PW_ERR_LINK", LinkError),
    ("PW_ERR_INSTANTIATE", InstantiationError), ("PW_ERR_STATE", WamrError),
    ("PW_ERR_HOST", WamrError),
])
def test_one_helper_maps_each_status_to_its_exception(name: str, kind: type) -> None:
    native = _lib.core("fast-interp")
    err = native.ffi.new("char[]", b"what WAMR said")
    with pytest.raises(kind) as info:
        _lib.raise_status(native, getattr(native.lib, name), err)
    assert type(info.value) is kind
    if name not in ("PW_ERR_CLOSED", "PW_ERR_BUSY"):
        assert str(info.value) == "what WAMR said"


def test_an_unresolved_import_is_a_link_error_with_its_own_status() -> None:
    wasm = bytes.fromhex(  # (import "env" "missing" (func)) and nothing else
        "0061736d01000000"  # magic, version
        "010401600000"  # type section: () -> ()
        "020f0103656e76076d697373696e670000")  # import section
    with pywamr.Runtime() as runtime:
        with pytest.raises(LinkError, match=r"unresolved import env\.missing"):
            runtime.load(wasm)


def _c_files() -> dict[str, str]:
    return {p.name: _COMMENT.sub(" ", p.read_text()) for p in sorted(CSRC.glob("*.c"))}


def _definitions(text: str) -> set[str]:
    """Functions and variables a C file defines with external linkage."""
    found = set()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        m = re.match(r"(pwc?_\w+)\s*\(", line)
        if m and i and not lines[i - 1].startswith("static") and not line.rstrip().endswith(";"):
            found.add(m.group(1))
        m = re.match(r"(?!static|extern|typedef)\S.*?\b(pwc?_\w+)\s*(?:=.*)?;$", line)
        if m:
            found.add(m.group(1))
    return found


def test_the_bridge_files_depend_on_each_other_without_cycles() -> None:
    files = _c_files()
    owner = {name: path for path, text in files.items() for name in _definitions(text)}
    assert owner.get("pw_instance_start") == "instance.c"
    assert owner.get("pw_tls_current") == "instance.c"
    graph = {path: {owner[name] for name in set(re.findall(r"\bpwc?_\w+\b", text))
                    if name in owner and owner[name] != path}
             for path, text in files.items()}
    # Generic code never names an optional feature: they hook in through attachments.
    for generic in ("wamr_env.c", "hosts.c", "module.c", "instance.c", "memory.c",
                    "fastcall.c", "output.c"):
        assert not graph[generic] & {"reset.c", "teaclave_files.c", "teaclave_entry.c"}, generic
    visiting: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> None:
        assert node not in visiting, f"dependency cycle: {' -> '.join([*visiting, node])}"
        if node in done:
            return
        visiting.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        visiting.pop()
        done.add(node)

    for node in graph:
        visit(node)


def test_typing_stubs_of_the_compiled_modules_are_current() -> None:
    # src/pywamr/_native_*.pyi and _compiler.pyi are generated from the headers,
    # so mypy --strict checks every call into C against the real declarations.
    ffibuild = _ffibuild()
    assert ffibuild.stubs(check=True) == 0  # type: ignore[attr-defined]
    stub = (PACKAGE / "_native_fast.pyi").read_text()
    assert "\n        argv: CData,\n        timeout: float,\n    ) -> int: ..." in stub
    assert "    PW_ERR_LINK: int" in stub
