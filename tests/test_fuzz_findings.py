"""Regression tests for findings of the long differential-fuzzing runs (issue 10,
docs/differential-fuzzing.md), each with its minimal module, in every mode."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(str(request.param)) as runtime:
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


# -- vendor/patches/0025: select of the unknown value of another select -------
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

