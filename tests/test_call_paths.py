"""The short call paths: exports called through a prepared ``pw_fastfn``
(by the C-API caller ``pywamr._fastcall``, or without it by a generated
caller over cffi) and Python host functions of integers called with C
integers (``pw_py_host0..4``).

Both must behave exactly like the general paths: values at the edges of
their types, results that equal the failure sentinel, errors, exceptions of
nested host calls, every mode.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr
from pywamr._host import int_call

MODULE = """
(module
  (import "env" "h0" (func $h0 (result i32)))
  (import "env" "h4" (func $h4 (param i32 i64 i32 i32) (result i64)))
  (import "env" "hv" (func $hv (param i32)))
  (import "env" "outer" (func $outer (param i32) (result i32)))
  (import "env" "inner" (func $inner (param i32) (result i32)))
  (memory (export "memory") 1)
  (global $g (mut i32) (i32.const 0))
  (func (export "call_h0") (result i32) call $h0)
  (func (export "call_h4") (param i32 i64 i32 i32) (result i64)
    local.get 0 local.get 1 local.get 2 local.get 3 call $h4)
  (func (export "call_hv") (param i32) local.get 0 call $hv)
  (func (export "call_outer") (param i32) (result i32) local.get 0 call $outer)
  (func (export "call_inner") (param i32) (result i32) local.get 0 call $inner)
  (func (export "i64_min") (result i64) i64.const 0x8000000000000000)
  (func (export "echo_i32") (param i32) (result i32) local.get 0)
  (func (export "echo_i64") (param i64) (result i64) local.get 0)
  (func (export "sum4") (param i32 i32 i64 i64) (result i64)
    local.get 0 i64.extend_i32_s local.get 1 i64.extend_i32_s i64.add
    local.get 2 i64.add local.get 3 i64.add)
  (func (export "set") (param i32) local.get 0 global.set $g)
  (func (export "get") (result i32) global.get $g)
  (func (export "nan") (result f64) f64.const nan)
  (func (export "trap") (result i32) unreachable)
)
"""


@pytest.fixture(params=ALL_MODES)
def inst(request: pytest.FixtureRequest) -> Iterator[pywamr.Instance]:
    if request.param == "aot" and not pywamr.aot_available():
        pytest.skip("AOT is not available in this build")
    seen: list[tuple[int, ...]] = []
    with pywamr.Runtime(request.param) as rt:
        rt.register_hosts("env", {
            "h0": (lambda: -7, "()i"),
            "h4": (lambda a, b, p, c: (seen.append((a, b, p, c)), b)[1], "(iI*i)I"),
            "hv": (lambda a: seen.append((a,)), "(i)"),
            "inner": (_inner, "(i)i"),
        })
        rt.register_host("env", "outer", _outer, "(i)i", pass_instance=True)
        module = rt.load(wat(MODULE))
        with module.instantiate(heap_size=0) as instance:
            instance.seen = seen  # type: ignore[attr-defined]
            yield instance
        module.close()


def _outer(instance: pywamr.Instance, x: int) -> int:
    """Calls back into wasm; a failure of the nested host call is caught here."""
    try:
        return int(instance.exports["call_inner"](x)) + 1
    except LookupError:
        return 100


def _inner(x: int) -> int:
    if x < 0:
        raise LookupError(f"inner refuses {x}")
    return x * 2


def test_fast_calls_at_the_edges_of_their_types(inst: pywamr.Instance) -> None:
    exports = inst.exports
    assert exports["echo_i32"](-(1 << 31)) == -(1 << 31)
    assert exports["echo_i32"]((1 << 32) - 1) == -1  # the upper half wraps
    assert exports["echo_i64"]((1 << 64) - 1) == -1  # beyond C's int64: the generic way
    assert exports["echo_i64"](-(1 << 63)) == -(1 << 63)  # equals the failure sentinel
    assert exports["i64_min"]() == -(1 << 63)
    assert exports["sum4"](-1, 2, 1 << 40, -(1 << 40)) == 1
    assert exports["set"](5) is None and exports["get"]() == 5
    result = exports["nan"]()
    assert result != result  # a NaN result is not a failure
    with pytest.raises(ValueError, match="echo_i32: argument 0 = 4294967296 is out of range"):
        exports["echo_i32"](1 << 32)
    with pytest.raises(TypeError, match="echo_i64: argument 0 must be int for i64, not float"):
        exports["echo_i64"](1.0)
    with pytest.raises(TypeError, match="echo_i32"):  # the caller is named after the export
        exports["echo_i32"]()
    with pytest.raises(pywamr.Trap, match="unreachable"):
        exports["trap"]()
    assert exports["echo_i32"](3) == 3  # usable after a trap and after refusals


def test_function_keeps_its_face_on_the_short_path(inst: pywamr.Instance) -> None:
    echo = inst.exports["echo_i32"]
    assert isinstance(echo, pywamr.Function)
    assert repr(echo).startswith("<pywamr.Function echo_i32")
    assert echo.name == "echo_i32" and echo.call(4, timeout=5.0) == 4
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(echo)
    inst.close()
    with pytest.raises(pywamr.WamrError):
        echo(1)  # a closed instance refuses, through the prepared call too


def test_host_functions_of_integers(inst: pywamr.Instance) -> None:
    seen = inst.seen  # type: ignore[attr-defined]
    exports = inst.exports
    assert exports["call_h0"]() == -7
    assert exports["call_h4"](-1, (1 << 63) + 5, 0xFFFFFFF0, 1 << 31) == -(1 << 63) + 5
    # i32 sign-extended, i64 signed, a pointer as an unsigned offset
    assert seen[-1] == (-1, -(1 << 63) + 5, 0xFFFFFFF0, -(1 << 31))
    assert exports["call_hv"](9) is None and seen[-1] == (9,)


def test_a_caught_failure_of_a_nested_host_call_stays_caught(inst: pywamr.Instance) -> None:
    assert inst.exports["call_outer"](4) == 9  # outer -> wasm -> inner, both int paths
    assert inst.exports["call_outer"](-1) == 100  # inner raised, outer caught it
    with pytest.raises(LookupError, match="inner refuses -3"):
        inst.exports["call_inner"](-3)
    assert inst.exports["call_outer"](1) == 3


def test_int_call_rule() -> None:
    assert int_call("", "") and int_call("iI*i", "I") and int_call("*", "i")
    assert not int_call("iiiii", "i")  # more than four
    assert not int_call("*~", "i") and not int_call("$", "i")  # need the memory
    assert not int_call("f", "i") and not int_call("i", "F")  # floats go the general way
