"""The embedding API of issue 10: exports of every kind, globals, tables,
reference and v128 values at the API, calls between instances."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr
from pywamr import GlobalType, TableType, ValType


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(str(request.param)) as runtime:
        yield runtime


KINDS = """
(module
  (memory (export "mem") 1)
  (global (export "answer") i32 (i32.const 42))
  (global $g (export "counter") (mut i64) (i64.const -5))
  (global (export "pi") (mut f64) (f64.const 3.5))
  (global (export "ext") (mut externref) (ref.null extern))
  (table $t (export "tab") 2 10 funcref)
  (table $x (export "refs") 1 externref)
  (elem (table $t) (i32.const 0) func $seven $add)
  (func $seven (result i32) i32.const 7)
  (func $add (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "bump") (result i64) (global.set $g (i64.add (global.get $g) (i64.const 1)))
    global.get $g)
  (func (export "call_at") (param i32) (result i32) (call_indirect $t (result i32) (local.get 0)))
  (func (export "id") (param externref) (result externref) local.get 0)
  (func (export "is_null") (param externref) (result i32) (ref.is_null (local.get 0)))
  (func (export "stash") (param externref) (table.set $x (i32.const 0) (local.get 0)))
  (func (export "unstash") (result externref) (table.get $x (i32.const 0)))
  (func (export "fref") (param i32) (result funcref) (table.get $t (local.get 0)))
  (func (export "pick") (param funcref funcref i32) (result funcref)
    (select (result funcref) (local.get 0) (local.get 1) (local.get 2)))
  (func (export "tsize") (result i32) (table.size $t))
  (func (export "tgrow") (param i32) (result i32) (table.grow $t (ref.null func) (local.get 0)))
  (func (export "v") (param v128) (result v128) (i32x4.add (local.get 0) (local.get 0))))
"""


def _load(rt: pywamr.Runtime) -> pywamr.Instance:
    source = wat(KINDS)
    if rt.mode != "aot":  # WAMR's interpreters have no SIMD: drop the v128 function
        source = wat(KINDS.replace(
            '(func (export "v") (param v128) (result v128) (i32x4.add (local.get 0) '
            '(local.get 0)))', ""))
    return rt.load(source).instantiate(heap_size=0)


def test_exports_of_every_kind(rt: pywamr.Runtime) -> None:
    inst = _load(rt)
    exports = inst.exports
    assert {"mem", "answer", "counter", "tab", "add"} <= set(exports)
    assert isinstance(exports["mem"], pywamr.Memory) and exports["mem"].size == 65536
    assert isinstance(exports["answer"], pywamr.Global)
    assert isinstance(exports["tab"], pywamr.Table)
    assert exports["add"](2, 3) == 5
    with pytest.raises(KeyError):
        exports["nope"]
    kinds = {e.name: e.kind for e in inst.module.exports}
    assert kinds["ext"] is pywamr.ExternKind.GLOBAL
    inst.close()


def test_globals_typed_get_and_set(rt: pywamr.Runtime) -> None:
    inst = _load(rt)
    answer, counter, pi = (inst.exports[n] for n in ("answer", "counter", "pi"))
    assert answer.type == GlobalType(ValType.I32, False) and answer.value == 42
    with pytest.raises(TypeError, match="immutable"):
        answer.value = 1
    assert counter.type == GlobalType(ValType.I64, True) and counter.value == -5
    assert inst.call("bump") == -4 and counter.value == -4
    counter.value = 2**63 - 1
    assert counter.get() == 2**63 - 1
    counter.set(-(2**63))
    assert inst.call("bump") == -(2**63) + 1
    with pytest.raises(ValueError):
        counter.value = 2**64
    with pytest.raises(TypeError):
        counter.value = 1.5
    pi.value = 0.25
    assert pi.value == 0.25
    marker = object()
    ext = inst.exports["ext"]
    assert ext.type.content is ValType.EXTERNREF and ext.value is None
    ext.value = marker
    assert ext.value is marker
    inst.close()


def test_tables_get_set_grow(rt: pywamr.Runtime) -> None:
    inst = _load(rt)
    tab = inst.exports["tab"]
    assert tab.type == TableType(ValType.FUNCREF, 2, 10) and len(tab) == 2
    seven = tab.get(0)
    assert callable(seven) and seven() == 7
    assert tab[1](4, 5) == 9
    tab.set(0, inst.exports["add"])
    assert tab[0](1, 1) == 2
    assert inst.call("tsize") == 2
    assert tab.grow(3) == 2 and len(tab) == 5 and tab.get(4) is None
    assert inst.call("tsize") == 5
    assert tab.grow(6) == -1  # past the maximum, as table.grow
    assert inst.call("tgrow", 1) == 5 and len(tab) == 6
    with pytest.raises(pywamr.Trap, match="uninitialized element"):
        inst.call("call_at", 4)
    tab[4] = seven
    assert inst.call("call_at", 4) == 7
    tab.set(4, None)
    with pytest.raises(IndexError):
        tab.get(6)
    with pytest.raises(TypeError, match="funcref"):
        tab.set(0, len)
    inst.close()


def test_externref_carries_python_objects(rt: pywamr.Runtime) -> None:
    inst = _load(rt)
    payload = {"any": ["python", "object"]}
    assert inst.call("id", payload) is payload
    assert inst.call("id", None) is None
    assert inst.call("is_null", None) == 1 and inst.call("is_null", 0) == 0
    inst.call("stash", payload)
    del payload
    import gc
    gc.collect()
    kept = inst.call("unstash")  # the guest still holds it: still alive
    assert kept == {"any": ["python", "object"]}
    refs = inst.exports["refs"]
    refs[0] = "text"
    assert inst.call("unstash") == "text"
    inst.close()


def test_funcref_values(rt: pywamr.Runtime) -> None:
    inst = _load(rt)
    seven = inst.call("fref", 0)
    assert seven() == 7
    add = inst.exports["add"]
    picked = inst.call("pick", add, seven, 1)
    assert picked(20, 22) == 42
    assert inst.call("pick", None, seven, 1) is None
    other = _load(rt)
    with pytest.raises(TypeError, match="this instance"):
        inst.call("pick", other.exports["add"], None, 1)
    other.close()
    inst.close()


def test_v128_values_in_aot() -> None:
    if not pywamr.aot_available():
        pytest.skip("no AOT compiler in this build")
    with pywamr.Runtime("aot") as runtime:
        inst = _load(runtime)
        f = inst.exports["v"]
        assert f.type.params == (ValType.V128,)
        lanes = [1, 2, 3, 0xFFFFFFFF]
        value = sum(lane << (32 * i) for i, lane in enumerate(lanes))
        doubled = f(value)
        assert [(doubled >> (32 * i)) & 0xFFFFFFFF for i in range(4)] == [2, 4, 6, 0xFFFFFFFE]
        inst.close()


def test_module_types_with_v128_and_references() -> None:
    with pywamr.Runtime("fast-interp") as runtime:
        module = runtime.load(wat("""
          (module (import "env" "g" (func (param externref)))
            (func (export "f") (param funcref externref) (result externref) local.get 1)
            (table (export "t") 1 funcref))"""), allow_unresolved=True)
        exports = {e.name: e for e in module.exports}
        assert exports["f"].type is not None
        assert exports["f"].type.params == (ValType.FUNCREF, ValType.EXTERNREF)
        assert str(exports["f"].type) == "(funcref, externref) -> (externref)"
        assert module.imports[0].type is not None
        assert module.imports[0].type.params == (ValType.EXTERNREF,)


CALLEE = """(module
  (func (export "seven") (param i32) (result i32) (i32.add (local.get 0) (i32.const 7))))"""
CALLER = """(module (import "A" "seven" (func $s (param i32) (result i32)))
  (func (export "call") (param i32) (result i32) (call $s (local.get 0))))"""


def test_host_function_calls_another_instance(rt: pywamr.Runtime) -> None:
    with rt.load(wat(CALLEE)) as callee_module:
        callee = callee_module.instantiate(heap_size=0)
        seven = callee.exports["seven"]
    rt.register_host("A", "seven", lambda x: seven(x), "(i)i")
    with rt.load(wat(CALLER)) as caller_module, caller_module.instantiate(heap_size=0) as caller:
        assert caller.call("call", 5) == 12
        assert caller.call("call", -7) == 0
    callee.close()


IMPORTS_GLOBALS = """
(module
  (import "spectest" "global_i32" (global $a i32))
  (import "host" "big" (global $b (mut i64)))
  (import "host" "f" (global $f f64))
  (memory 1)
  (data (global.get $a) "x")
  (func (export "a") (result i32) global.get $a)
  (func (export "b") (result i64) global.get $b)
  (func (export "bump") (global.set $b (i64.add (global.get $b) (i64.const 1))))
  (func (export "f") (result f64) global.get $f)
  (func (export "at") (param i32) (result i32) (i32.load8_u (local.get 0))))
"""


def test_host_defined_globals(rt: pywamr.Runtime) -> None:
    rt.define_global("spectest", "global_i32", 666)
    rt.define_global("host", "big", -(2**40), "i64", mutable=True)
    rt.define_global("host", "f", 2.5, ValType.F64)
    with rt.load(wat(IMPORTS_GLOBALS)) as module:
        first = module.instantiate(heap_size=0)
        assert first.call("a") == 666 and first.call("at", 666) == ord("x")
        first.call("bump")
        assert first.call("b") == -(2**40) + 1
        second = module.instantiate(heap_size=0)  # a copy per instance
        assert second.call("b") == -(2**40) and second.call("f") == 2.5
        first.close()
        second.close()


def test_global_imports_must_link(rt: pywamr.Runtime) -> None:
    with pytest.raises(pywamr.LinkError, match=r"unresolved import spectest\.global_i32"):
        rt.load(wat(IMPORTS_GLOBALS))
    rt.define_global("spectest", "global_i32", 1)
    rt.define_global("host", "big", 1, "i64")  # immutable, imported as mutable
    rt.define_global("host", "f", 1.0, "f64")
    with pytest.raises(pywamr.LinkError, match="incompatible import type"):
        rt.load(wat(IMPORTS_GLOBALS))
    with pywamr.Runtime(rt.mode) as other:
        other.define_global("spectest", "global_i32", 1)
        with other.load(wat(IMPORTS_GLOBALS), allow_unresolved=True) as module, \
                module.instantiate(heap_size=0) as inst:
            assert inst.call("a") == 1 and inst.call("b") == 0  # undefined: reads 0
    with pytest.raises(ValueError):
        rt.define_global("host", "x", 2**32, "i32")
    with pytest.raises(ValueError, match="unknown value type"):
        rt.define_global("host", "x", 1, "int")
