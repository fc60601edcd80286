"""Loading modules: sources, malformed input, imports/exports, linking."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import payload

import pywamr
from pywamr import ExternKind


def test_load_from_bytes_path_and_memoryview(runtime: pywamr.Runtime) -> None:
    data = payload("basic").read_bytes()
    sources = (data, bytearray(data), memoryview(data), payload("basic"), str(payload("basic")))
    for source in sources:
        module = runtime.load(source)
        assert module.kind == "wasm" and not module.is_aot
        assert module.instantiate().call("add", 1, 2) == 3


@pytest.mark.parametrize("data, message", [
    (b"", "unexpected end"),
    (b"\0asm", "unexpected end"),
    (b"not wasm at all", "magic header not detected"),
    (b"\0asm\x02\0\0\0", "unknown binary version"),
])
def test_malformed_modules_raise_load_error(runtime: pywamr.Runtime, data: bytes,
                                            message: str) -> None:
    with pytest.raises(pywamr.LoadError, match=message):
        runtime.load(data)


def test_load_error_is_a_value_error(runtime: pywamr.Runtime) -> None:
    with pytest.raises(ValueError):
        runtime.load(b"junk")


def test_bad_source_types(runtime: pywamr.Runtime, tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        runtime.load(42)  # type: ignore[arg-type]
    with pytest.raises(FileNotFoundError):
        runtime.load(tmp_path / "missing.wasm")


def test_exports_listing(runtime: pywamr.Runtime) -> None:
    exports = {e.name: e for e in runtime.load(payload("basic")).exports}
    assert exports["memory"].kind is ExternKind.MEMORY
    assert exports["g_answer"].kind is ExternKind.GLOBAL
    assert exports["table"].kind is ExternKind.TABLE
    assert str(exports["pair"].type) == "(i32) -> (i32, i32)"


def test_imports_listing(runtime: pywamr.Runtime) -> None:
    module = runtime.load(payload("libc"))
    imports = {i.name: i for i in module.imports}
    assert imports["printf"].module == "env"
    assert imports["printf"].provider == "builtin"
    assert imports["malloc"].type is not None


def test_unresolved_import_fails_at_load(runtime: pywamr.Runtime) -> None:
    with pytest.raises(pywamr.LinkError, match=r"env\.nobody_registered"):
        runtime.load(payload("unresolved"))


def test_unresolved_import_allowed_traps_on_call(runtime: pywamr.Runtime) -> None:
    module = runtime.load(payload("unresolved"), allow_unresolved=True)
    assert [i.provider for i in module.imports] == [None]
    inst = module.instantiate()
    assert inst.call("fine") == 7
    with pytest.raises(pywamr.Trap, match="nobody_registered"):
        inst.call("call_it", 1)
    assert inst.call("fine") == 7


def test_instantiate_arguments(runtime: pywamr.Runtime) -> None:
    module = runtime.load(payload("basic"))
    with pytest.raises(TypeError):
        module.instantiate(stack_size="big")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        module.instantiate(heap_size=-1)
    assert module.instantiate(stack_size=16 * 1024, heap_size=0).call("add", 1, 1) == 2


# memory of 1 page with a data segment at 65536: valid, but cannot be instantiated
DATA_OUT_OF_BOUNDS = bytes.fromhex("0061736d0100000005030100010b090100418080040b0178")


def test_instantiation_error(runtime: pywamr.Runtime) -> None:
    module = runtime.load(DATA_OUT_OF_BOUNDS)
    with pytest.raises(pywamr.InstantiationError, match="out of bounds memory access"):
        module.instantiate(heap_size=0)
    with pytest.raises(pywamr.InstantiationError):
        module.instantiate(heap_size=0)  # the module stays usable for another attempt
