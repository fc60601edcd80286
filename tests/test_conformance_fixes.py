"""Regression tests for the conformance findings of issue 10.

Each test holds the minimal module that showed the fault, in every mode it
concerns: host functions called by a start function, WAMR loader and segment
fixes (vendor/patches/0005, 0006), AOT code generation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr
from pywamr import natives, teaclave


@pytest.fixture(params=ALL_MODES)
def any_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rt(any_mode: str) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(any_mode) as runtime:
        yield runtime


# -- host functions called by the start function ----------------------------
START_CALLS_HOST = """
(module
  (import "env" "note" (func $note (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func $s (global.set $g (call $note (i32.const 41))))
  (func (export "g") (result i32) global.get $g)
  (start $s))
"""


def test_start_function_calls_python_host(rt: pywamr.Runtime) -> None:
    seen: list[int] = []
    rt.register_host("env", "note", lambda x: seen.append(x) or x + 1, "(i)i")
    with rt.load(wat(START_CALLS_HOST)) as module:
        for _ in range(3):
            with module.instantiate() as inst:
                assert inst.call("g") == 42
    assert seen == [41, 41, 41]


def test_start_function_host_sees_instance_memory(rt: pywamr.Runtime) -> None:
    sizes: list[int] = []

    def note(instance: pywamr.Instance, x: int) -> int:
        sizes.append(instance.memory.size)
        instance.memory.write(0, b"start")
        return x

    rt.register_host("env", "note", note, "(i)i", pass_instance=True)
    with rt.load(wat(START_CALLS_HOST)) as module, module.instantiate(heap_size=0) as inst:
        assert sizes == [65536]
        assert inst.memory.read(0, 5) == b"start"


def test_start_function_host_that_raises_fails_instantiation(rt: pywamr.Runtime) -> None:
    class Refused(Exception):
        pass

    def note(x: int) -> int:
        raise Refused(f"no {x}")

    rt.register_host("env", "note", note, "(i)i")
    with rt.load(wat(START_CALLS_HOST)) as module:
        for _ in range(2):
            with pytest.raises(Refused, match="no 41"):
                module.instantiate()


def test_start_function_host_cannot_call_the_unfinished_instance(rt: pywamr.Runtime) -> None:
    def note(instance: pywamr.Instance, x: int) -> int:
        return int(instance.call("g"))

    rt.register_host("env", "note", note, "(i)i", pass_instance=True)
    with rt.load(wat(START_CALLS_HOST)) as module, pytest.raises(pywamr.WamrError,
                                                                   match="still being"):
        module.instantiate()


TEACLAVE_START = """
(module
  (import "env" "teaclave_close_file" (func (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $r (mut i32) (i32.const 7))
  (func $s (global.set $r (call 0 (i32.const 1))))
  (func (export "entrypoint") (param i32 i32) (result i32) global.get $r)
  (start $s))
"""


def test_start_function_calls_teaclave_native(rt: pywamr.Runtime) -> None:
    rt.register_hosts("env", natives.FILE_API)
    with rt.load(wat(TEACLAVE_START)) as module, module.instantiate() as inst:
        assert inst.call("entrypoint", 0, 0) == -1  # no such handle


@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_teaclave_payload_with_start_function(policy: str) -> None:
    mode = "classic-interp" if policy == "cold" else "fast-interp"
    with teaclave.Executor(wat(TEACLAVE_START), mode=mode, policy=policy) as executor:
        results = [executor.invoke({}) for _ in range(3)]
    assert [r.return_value for r in results] == [-1, -1, -1]
    assert all(r.file_errors == [] for r in results)  # the start's own calls are forgotten


def test_all_modes_agree_on_start_calls(tmp_path: Path) -> None:
    results = []
    for mode in ALL_MODES:
        with pywamr.Runtime(mode) as runtime:
            runtime.register_host("env", "note", lambda x: x * 2, "(i)i")
            with runtime.load(wat(START_CALLS_HOST)) as module, module.instantiate() as inst:
                results.append(inst.call("g"))
    assert results == [82] * len(ALL_MODES)


# -- vendor/patches/0005: select in stack-polymorphic code --------------------
def test_select_in_unreachable_code_validates(rt: pywamr.Runtime) -> None:
    module = rt.load(wat("""
      (module
        (func unreachable i32.const 0 select drop)
        (func (export "f") (result i32)
          block (result i32) unreachable i32.const 0 select end)
        (func (export "ok") (result i32) i32.const 5))"""))
    with module, module.instantiate() as inst:
        assert inst.call("ok") == 5
        with pytest.raises(pywamr.Trap, match="unreachable"):
            inst.call("f")


# -- vendor/patches/0006: segment drop state per instance ---------------------
SEGMENTS = """
(module
  (memory (export "memory") 1)
  (table 4 funcref)
  (data $active (i32.const 0) "AB")
  (data $passive "xyz")
  (elem $eactive (i32.const 0) $f)
  (elem $epassive func $f $f)
  (elem $edecl declare func $f)
  (func $f (result i32) i32.const 9)
  (func (export "init_active") (param i32) (memory.init $active
    (i32.const 100) (i32.const 0) (local.get 0)))
  (func (export "init_passive") (memory.init $passive (i32.const 200) (i32.const 0) (i32.const 3)))
  (func (export "drop_passive") (data.drop $passive))
  (func (export "tinit_active") (param i32) (table.init $eactive
    (i32.const 1) (i32.const 0) (local.get 0)))
  (func (export "tinit_passive") (table.init $epassive (i32.const 1) (i32.const 0) (i32.const 2)))
  (func (export "tinit_decl") (param i32) (table.init $edecl
    (i32.const 1) (i32.const 0) (local.get 0)))
  (func (export "edrop_passive") (elem.drop $epassive))
  (func (export "tinit_oob_empty") (table.init $epassive (i32.const 5) (i32.const 0) (i32.const 0)))
  (func (export "load") (param i32) (result i32) (i32.load8_u (local.get 0))))
"""


def test_active_and_declarative_segments_are_dropped(rt: pywamr.Runtime) -> None:
    with rt.load(wat(SEGMENTS)) as module, module.instantiate(heap_size=0) as inst:
        assert inst.memory.read(0, 2) == b"AB"
        inst.call("init_active", 0)  # an empty copy from a dropped segment is fine
        for name in ("init_active", "tinit_active", "tinit_decl"):
            with pytest.raises(pywamr.Trap, match="out of bounds"):
                inst.call(name, 1)
        inst.call("tinit_active", 0)
        with pytest.raises(pywamr.Trap, match="out of bounds table access"):
            inst.call("tinit_oob_empty")  # bounds are checked for length 0 too


def test_drops_are_per_instance(rt: pywamr.Runtime) -> None:
    with rt.load(wat(SEGMENTS)) as module:
        first = module.instantiate(heap_size=0)
        first.call("drop_passive")
        first.call("edrop_passive")
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            first.call("init_passive")
        with pytest.raises(pywamr.Trap, match="out of bounds table access"):
            first.call("tinit_passive")
        second = module.instantiate(heap_size=0)  # starts as the spec says
        assert second.memory.read(0, 2) == b"AB"
        second.call("init_passive")
        second.call("tinit_passive")
        assert second.memory.read(200, 3) == b"xyz"
        first.close()
        second.close()


@pytest.mark.parametrize("mode", ALL_MODES)
def test_reuse_instance_reset_restores_dropped_segments(mode: str) -> None:
    source = wat(SEGMENTS)
    with pywamr.Runtime(mode) as runtime, runtime.load(source) as module:
        inst = module.instantiate(heap_size=0)
        lib = inst._core.lib
        assert lib.pw_instance_snapshot(inst._c) == 0
        for _ in range(2):
            inst.call("init_passive")
            inst.call("drop_passive")
            with pytest.raises(pywamr.Trap):
                inst.call("init_passive")
            with pytest.raises(pywamr.Trap):
                inst.call("init_active", 1)
            assert lib.pw_instance_reset(inst._c) == 0
            assert inst.memory.read(200, 3) == b"\0\0\0"
        inst.close()


# -- vendor/patches/0007, 0008: AOT code generation ---------------------------
SHIFTS = """
(module
  (func (export "shl32") (param i32) (result i32) (i32.shl (local.get 0) (i32.const 33)))
  (func (export "shr32") (param i32) (result i32) (i32.shr_u (local.get 0) (i32.const 32)))
  (func (export "sar64") (param i64) (result i64) (i64.shr_s (local.get 0) (i64.const 65)))
  (func (export "shl64") (param i64) (result i64) (i64.shl (local.get 0) (i64.const 64)))
  (func (export "rotl_folded") (param i32) (result i32)
    (i32.rotl (local.get 0) (i32.and (i32.const 32) (i32.const 32))))
  (func (export "rotr_folded") (param i64) (result i64)
    (i64.rotr (local.get 0) (i64.sub (i64.const 64) (i64.const 0))))
  (func (export "rotl") (param i32 i32) (result i32) (i32.rotl (local.get 0) (local.get 1))))
"""


def test_aot_shift_and_rotate_counts(rt: pywamr.Runtime) -> None:
    with rt.load(wat(SHIFTS)) as module, module.instantiate() as inst:
        assert inst.call("shl32", 3) == 6
        assert inst.call("shr32", -8) == -8
        assert inst.call("sar64", -8) == -4
        assert inst.call("shl64", 5) == 5
        assert inst.call("rotl_folded", 0x12345678) == 0x12345678
        assert inst.call("rotr_folded", 0x1234) == 0x1234
        assert inst.call("rotl", 0x80000001, 33) == 3
        assert inst.call("rotl", 0x12345678, 0) == 0x12345678


NO_DCE = """
(module
  (memory 1)
  (func (export "drop_load") (param i32) (drop (i32.load (local.get 0))))
  (func (export "drop_load64") (param i32) (drop (i64.load offset=8 (local.get 0))))
  (func (export "dead_chain") (param i32)
    (drop (i32.add (i32.clz (i32.load8_u (local.get 0))) (i32.const 1))))
  (func (export "dead_local") (param i32) (local i32)
    (local.set 1 (i32.load16_s (local.get 0))))
  (func (export "dead_f64") (param i32) (drop (f64.load (local.get 0))))
  (func (export "dead_overwritten") (param i32) (result i32) (local i32)
    (local.set 1 (i32.load (local.get 0))) (local.set 1 (i32.const 3)) (local.get 1))
  (func (export "sum") (param i32) (result i32) (i32.load (local.get 0))))
"""


@pytest.mark.parametrize("name", ["drop_load", "drop_load64", "dead_chain", "dead_local",
                                  "dead_f64", "dead_overwritten"])
def test_aot_unused_loads_trap(rt: pywamr.Runtime, name: str) -> None:
    with rt.load(wat(NO_DCE)) as module, module.instantiate(heap_size=0) as inst:
        inst.call(name, 0)
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call(name, 65536)
        assert inst.call("sum", 0) == 0  # the instance stays usable


# -- vendor/patches/0013: rounding a signalling NaN gives a quiet NaN ---------
ROUNDING = """
(module
  (func (export "floor") (param i64) (result i64)
    (i64.reinterpret_f64 (f64.floor (f64.reinterpret_i64 (local.get 0)))))
  (func (export "ceil") (param i64) (result i64)
    (i64.reinterpret_f64 (f64.ceil (f64.reinterpret_i64 (local.get 0)))))
  (func (export "trunc") (param i64) (result i64)
    (i64.reinterpret_f64 (f64.trunc (f64.reinterpret_i64 (local.get 0)))))
  (func (export "nearest") (param i64) (result i64)
    (i64.reinterpret_f64 (f64.nearest (f64.reinterpret_i64 (local.get 0)))))
  (func (export "floor32") (param i32) (result i32)
    (i32.reinterpret_f32 (f32.floor (f32.reinterpret_i32 (local.get 0))))))
"""


@pytest.mark.parametrize("name", ["floor", "ceil", "trunc", "nearest"])
def test_rounding_quiets_signalling_nans(rt: pywamr.Runtime, name: str) -> None:
    with rt.load(wat(ROUNDING)) as module, module.instantiate() as inst:
        signalling = 0x7FF4000000000000
        assert inst.call(name, signalling) & 0x7FF8000000000000 == 0x7FF8000000000000
        assert inst.call(name, signalling) & 0x7FFFFFFFFFFFF == 0x4000000000000  # payload kept
        assert inst.call(name, 0x4004000000000000) in (0x4000000000000000, 0x4008000000000000)
        assert inst.call("floor32", 0x7FA00000) == 0x7FE00000


# -- vendor/patches/0014: custom section with an empty name -------------------
def test_custom_section_with_empty_name(rt: pywamr.Runtime) -> None:
    header = b"\0asm\x01\0\0\0"
    for module_bytes in (header + b"\x00\x01\x00", header + b"\x00\x10\x00this is payload",
                         header + b"\x00\x01\x00" + wat("(module (func (export \"f\")))")[8:]):
        with rt.load(module_bytes) as module, module.instantiate():
            pass
    with pytest.raises(pywamr.LoadError):
        rt.load(header + b"\x00\x02\x05")  # the name runs past the section


# -- vendor/patches/0035: constant expressions and element segment types ------
CONSTANT_EXPRESSIONS_INVALID = {
    "offset of a missing global": ('(memory 1) (data (global.get 0) "a")', "unknown global 0"),
    "offset of a defined global": ('(memory 1) (global i32 (i32.const 0)) '
                                   '(data (global.get 0) "a")', "unknown global 0"),
    "element offset of a defined global": ("(table 1 funcref) (global i32 (i32.const 0)) "
                                           "(func $f) (elem (global.get 0) $f)",
                                           "unknown global 0"),
    "offset of a mutable import": ('(global (import "t" "g") (mut i32)) (memory 1) '
                                   "(data (global.get 0))", "constant expression required"),
    "element offset of a mutable import": ('(global (import "t" "g") (mut i32)) '
                                           "(table 1 funcref) (elem (global.get 0))",
                                           "constant expression required"),
    "initialiser of a mutable import": ('(global (import "t" "g") (mut i32)) '
                                        "(global i32 (global.get 0))",
                                        "constant expression required"),
    "initialiser of another type": ('(global (import "t" "g") externref) '
                                    "(global funcref (global.get 0))", "type mismatch"),
    "offset of an i64 import": ('(global (import "t" "g") i64) (memory 1) '
                                "(data (global.get 0))", "type mismatch"),
}


@pytest.mark.parametrize("case", sorted(CONSTANT_EXPRESSIONS_INVALID))
def test_constant_expression_rules(rt: pywamr.Runtime, case: str) -> None:
    """A global.get in a constant expression names an immutable imported global of
    the expected type; WAMR 1.1.2 accepted all of these (spec suite: data, elem, global)."""
    body, message = CONSTANT_EXPRESSIONS_INVALID[case]
    with pytest.raises(pywamr.LoadError, match=message):
        rt.load(wat(f"(module {body})", "--no-check"), allow_unresolved=True)


def test_constant_expression_of_an_immutable_import_still_works(rt: pywamr.Runtime) -> None:
    rt.define_global("t", "base", 8, "i32")
    module = rt.load(wat('(module (global (import "t" "base") i32) (memory 1) '
                         '(data (global.get 0) "\\2a") (global $copy i32 (global.get 0)) '
                         '(func (export "at") (result i32) (i32.load8_u (global.get $copy))))'))
    with module, module.instantiate() as inst:
        assert inst.call("at") == 42


@pytest.mark.parametrize("body", [
    "(func $f) (table 1 externref) (elem (i32.const 0) $f)",
    "(table 1 funcref) (elem (i32.const 0) externref (ref.null extern))",
    "(table 1 funcref) (table 1 externref) (elem (table 1) (i32.const 0) funcref (ref.null func))",
])
def test_element_segment_type_must_be_the_tables(rt: pywamr.Runtime, body: str) -> None:
    with pytest.raises(pywamr.LoadError, match="type mismatch"):
        rt.load(wat(f"(module {body})", "--no-check"))


def test_element_segments_of_the_tables_type_still_load(rt: pywamr.Runtime) -> None:
    module = rt.load(wat("(module (table 1 funcref) (table 1 externref) (func $f) "
                         "(elem (table 0) (i32.const 0) func $f) "
                         "(elem (table 1) (i32.const 0) externref (ref.null extern)) "
                         '(func (export "n") (result i32) (table.size 1)))'))
    with module, module.instantiate() as inst:
        assert inst.call("n") == 1


# -- vendor/patches/0036: br_table labels in stack-polymorphic code -----------
MEET_BOTTOM = """
(module
  (func (export "meet-bottom") (result f64)
    (block (result f64)
      (block (result f32)
        (unreachable)
        (br_table 0 1 1 (i32.const 1)))
      (drop)
      (f64.const 0))))
"""


def test_br_table_labels_of_different_types_after_unreachable(rt: pywamr.Runtime) -> None:
    """unreached-valid.wast 49: after `unreachable`, labels of different types with
    the same arity are valid; the function still traps where it runs."""
    with rt.load(wat(MEET_BOTTOM)) as module, module.instantiate() as inst:
        with pytest.raises(pywamr.Trap, match="unreachable"):
            inst.call("meet-bottom")


@pytest.mark.parametrize("body", [
    # a known f32 on the stack cannot go to an f64 label
    "(block (result f64) (block (result f32) (unreachable) (f32.const 0) "
    "(br_table 0 1 (i32.const 0))) (drop) (f64.const 0)) (drop)",
    # labels of different arities
    "(block (result i32) (block (unreachable) (br_table 0 1 (i32.const 0)))"
    " (i32.const 0)) (drop)",
    # a loop label's types are its parameters
    "(block (i32.const 1) (loop (param i32) (drop) "
    "(br_table 0 1 (i32.const 7) (i32.const 0))))",
])
def test_br_table_labels_still_checked(rt: pywamr.Runtime, body: str) -> None:
    with pytest.raises(pywamr.LoadError, match="type mismatch"):
        rt.load(wat(f"(module (func {body}))", "--no-check"))


def test_br_table_in_unreachable_code_keeps_the_rest_of_the_function(
        rt: pywamr.Runtime) -> None:
    """The stack saved for the labels is the one the code after the block sees."""
    module = rt.load(wat("""
(module
  (func (export "f") (param i32) (result i64)
    (block (result i64)
      (block (result f32)
        (br_if 1 (i64.const 5) (local.get 0))
        (unreachable)
        (br_table 0 1 0 (i32.const 1)))
      (drop) (i64.const 9))))"""))
    with module, module.instantiate() as inst:
        assert inst.call("f", 1) == 5
        with pytest.raises(pywamr.Trap, match="unreachable"):
            inst.call("f", 0)
