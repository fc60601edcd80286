"""Regression tests for findings of the long differential-fuzzing runs (issue 10,
docs/differential-fuzzing.md), each with its minimal module, in every mode."""

from __future__ import annotations

import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr


@pytest.fixture(params=ALL_MODES)
def any_mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def rt(any_mode: str) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(any_mode) as runtime:
        yield runtime


# -- vendor/patches/0024: ref.func of a declared function ---------------------
DECLARED = {
    "exported": '(func $f (export "f") (result funcref) (ref.func $f))',
    "active segment": '(table 1 funcref) (elem (i32.const 0) $f) '
                      '(func $f (export "f") (result funcref) (ref.func $f))',
    "passive segment": '(elem func $f) (func $f (export "f") (result funcref) (ref.func $f))',
    "declarative segment": '(elem declare func $f) '
                           '(func $f (export "f") (result funcref) (ref.func $f))',
    "global initialiser": '(global funcref (ref.func $f)) '
                          '(func $f (export "f") (result funcref) (ref.func $f))',
    "another function": '(func $g) (elem declare func $g) '
                        '(func (export "f") (result funcref) (ref.func $g))',
}


@pytest.mark.parametrize("how", sorted(DECLARED))
def test_ref_func_of_a_declared_function_validates(rt: pywamr.Runtime, how: str) -> None:
    """D6: WAMR refused a function taking a reference to itself unless it was in a
    declarative element segment ("undeclared function reference")."""
    with rt.load(wat(f"(module {DECLARED[how]})")) as module, module.instantiate() as inst:
        assert callable(inst.call("f"))


@pytest.mark.parametrize("body", [
    "(func $f (drop (ref.func $f)))",               # itself, referenced nowhere else
    "(func $g) (func (drop (ref.func $g)))",        # another function (was not checked)
])
def test_ref_func_of_an_undeclared_function_is_invalid(rt: pywamr.Runtime, body: str) -> None:
    with pytest.raises(pywamr.LoadError, match="undeclared function reference"):
        rt.load(wat(f"(module {body})", "--no-check"))   # wabt would refuse it too


# -- vendor/patches/0025 (D7): select of the unknown value of another select -------
@pytest.mark.parametrize("body", [
    "unreachable select i32.const 1 select drop",
    "unreachable select i32.const 1 select i32.const 1 select drop",
    "unreachable select i32.const 1 select i64.eqz drop",
    "unreachable select i32.const 1 select f32.neg drop",
    "unreachable select i64.const 7 i32.const 1 select i64.eqz drop",
    "ref.null func unreachable select i32.const 1 select drop",
])
def test_select_of_an_unknown_value_validates(rt: pywamr.Runtime, body: str) -> None:
    """D7: a select taking the unknown-typed value another select left in
    stack-polymorphic code was refused ("type mismatch")."""
    source = f'(module (func {body}) (func (export "f") (result i32) i32.const 3))'
    with rt.load(wat(source)) as module, module.instantiate() as inst:
        assert inst.call("f") == 3



# -- vendor/patches/0025 (D8): the fast interpreter's offset stack in polymorphic code
OFFSET_STACK_CRASH = """
(module
  (func (result f64) (local f32)
    i64.const 3
    loop (result i64) block (result i64)
      unreachable f32.const 0 f32.ge br_if 1
    end end
    drop drop f64.const 0))"""

OPERATOR_AFTER_BR = """
(module
  (func (export "f") (result i64)
    i64.const 3
    block (result i64)
      i64.const 5
      br 0
      f32.const 0 f32.ge drop
      i64.const 6
    end
    drop)
  (func (export "g") (param i64) (result i64)
    local.get 0
    block (result i32)
      i32.const 1
      br 0
      i64.const 0 i64.add i32.wrap_i64
    end
    drop
    i64.const 1
    i64.add))"""


def test_operators_in_unreachable_code_keep_the_offset_stack(any_mode: str) -> None:
    """D8: in stack-polymorphic code a binary operator took an operand offset from
    the enclosing block; a later drop moved the fast interpreter's offset pointer
    before its buffer (heap corruption: the process aborted while loading, or
    crashed running the function).  The modules run in a child process, so a
    regression fails the test, not the test run."""
    code = """if True:
        import sys, pywamr
        rt = pywamr.Runtime(sys.argv[1])
        rt.load(open(sys.argv[2], "rb").read())
        with rt.load(open(sys.argv[3], "rb").read()) as module, module.instantiate() as inst:
            print(inst.call("f"), inst.call("g", 41))"""
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "crash.wasm", Path(tmp) / "after_br.wasm"]
        paths[0].write_bytes(wat(OFFSET_STACK_CRASH))
        paths[1].write_bytes(wat(OPERATOR_AFTER_BR))
        proc = subprocess.run([sys.executable, "-c", code, any_mode, *map(str, paths)],
                              capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["3", "42"]


# -- vendor/patches/0026: reference-typed locals start null -------------------
REFERENCE_LOCALS = """
(module
  (table 1 funcref)
  (type $t (func))
  (func $f0)
  (func (export "g") (result i32) (local funcref) (ref.is_null (local.get 0)))
  (func (export "h") (result i32) (local externref) (ref.is_null (local.get 0)))
  (func (export "k") (local funcref)
    (table.set 0 (i32.const 0) (local.get 0))
    (call_indirect (type $t) (i32.const 0))))"""


def test_reference_locals_start_null(rt: pywamr.Runtime) -> None:
    """D9: the interpreters zero-filled reference-typed locals, and 0 is function 0
    (or an externref), not null: table.set stored function 0, call_indirect called it."""
    with rt.load(wat(REFERENCE_LOCALS)) as module, module.instantiate() as inst:
        assert inst.call("g") == 1
        assert inst.call("h") == 1
        with pytest.raises(pywamr.Trap, match="uninitialized element"):
            inst.call("k")


# -- vendor/patches/0027: memory.init's offset and length are unsigned --------
MEMORY_INIT = """
(module (memory (export "memory") 1) (data "abcdefgh")
  (func (export "init") (param i32 i32 i32)
    (memory.init 0 (local.get 0) (local.get 1) (local.get 2))))
"""


@pytest.mark.parametrize("offset, length", [(-2, 7), (-1, 2), (-(2 ** 31), 2 ** 16)])
def test_memory_init_offsets_are_unsigned(rt: pywamr.Runtime, offset: int, length: int) -> None:
    # fast-interp sign-extended them: offset -2 passed the bounds check and
    # copied from 2 bytes before the segment's host buffer.
    with rt.load(wat(MEMORY_INIT)).instantiate() as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.exports["init"](0, offset, length)
        assert inst.memory.read(0, 16) == bytes(16)
        inst.exports["init"](8, 2, 6)  # in bounds: copied
        assert inst.memory.read(8, 6) == b"cdefgh"
