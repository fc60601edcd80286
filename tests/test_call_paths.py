"""The short call paths: exports called through a prepared ``pw_fastfn``
(by the C-API caller ``pywamr._fastcall``, or without it by a generated
caller over cffi) and Python host functions of integers called with C
integers (``pw_py_host0..4``).

Both must behave exactly like the general paths: values at the edges of
their types, results that equal the failure sentinel, errors, exceptions of
nested host calls, every mode.
"""

from __future__ import annotations

import math
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
  (import "env" "ret_i" (func $ret_i (param i32) (result i32)))
  (import "env" "ret_I" (func $ret_I (param i32) (result i64)))
  (import "env" "ret_v" (func $ret_v (param i32)))
  (import "env" "ret_F" (func $ret_F (param i32) (result f64)))
  (import "env" "ret_f" (func $ret_f (param i32) (result f32)))
  (import "env" "echo_f" (func $echo_f (param f32) (result f32)))
  (import "env" "mix" (func $mix (param i32 i64 f32 f64 i32) (result f64)))
  (import "env" "six" (func $six (param i32 i32 i32 i32 i32 i32) (result i32)))
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
  (func (export "call_ret_i") (param i32) (result i32) local.get 0 call $ret_i)
  (func (export "call_ret_I") (param i32) (result i64) local.get 0 call $ret_I)
  (func (export "call_ret_v") (param i32) local.get 0 call $ret_v)
  (func (export "call_ret_F") (param i32) (result f64) local.get 0 call $ret_F)
  (func (export "call_ret_f") (param i32) (result f32) local.get 0 call $ret_f)
  (func (export "call_echo_f") (param f32) (result f32) local.get 0 call $echo_f)
  (func (export "call_mix") (param i32 i64 f32 f64 i32) (result f64)
    local.get 0 local.get 1 local.get 2 local.get 3 local.get 4 call $mix)
  (func (export "call_six") (param i32) (result i32)
    local.get 0 i32.const 2 i32.const 3 i32.const 4 i32.const 5 i32.const 6 call $six)
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
            "ret_i": (lambda k: RESULTS[k], "(i)i"),
            "ret_I": (lambda k: RESULTS[k], "(i)I"),
            "ret_v": (lambda k: RESULTS[k], "(i)"),
            "ret_F": (lambda k: FLOAT_RESULTS[k], "(i)F"),
            "ret_f": (lambda k: FLOAT_RESULTS[k], "(i)f"),
            "echo_f": (lambda x: x, "(f)f"),
            "mix": (lambda a, b, x, y, p: (seen.append((a, b, x, y, p)), x + y)[1], "(iIfF*)F"),
            "six": (lambda *v: sum(v), "(iiiiii)i"),
        })
        rt.register_host("env", "outer", _outer, "(i)i", pass_instance=True)
        module = rt.load(wat(MODULE))
        with module.instantiate(heap_size=0) as instance:
            instance.seen = seen  # type: ignore[attr-defined]
            yield instance
        module.close()


# What the host functions ret_i/ret_I/ret_v return, by the index the guest passes.
RESULTS: list[object] = [
    (1 << 32) - 1, -(1 << 31), 1 << 31, True,            # 0-3: i32 edges (the upper half wraps)
    (1 << 64) - 1, 1 << 63, -(1 << 63), 1 << 40,         # 4-7: i64 edges
    1 << 32, -(1 << 31) - 1, 1 << 64, -(1 << 63) - 1,    # 8-11: out of range
    1.0, "1", None, 3,                                   # 12-15: not int; 15: an int for ret_v
]

# What ret_F/ret_f return: 0-3 accepted, 4-7 refused.
FLOAT_RESULTS: list[object] = [3, 1e300, -0.0, 1 << 200, True, 10 ** 400, "x", None]


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


def test_host_results_at_the_edges_of_their_types(inst: pywamr.Instance) -> None:
    ret_i, ret_I = inst.exports["call_ret_i"], inst.exports["call_ret_I"]
    assert [ret_i(k) for k in range(4)] == [-1, -(1 << 31), -(1 << 31), 1]
    assert [ret_I(k) for k in range(4, 8)] == [-1, -(1 << 63), -(1 << 63), 1 << 40]
    assert ret_I(0) == (1 << 32) - 1 and ret_I(3) == 1
    assert inst.exports["call_ret_v"](14) is None


@pytest.mark.parametrize(("export", "k", "error", "message"), [
    ("call_ret_i", 8, ValueError, "env.ret_i returned 4294967296, out of range for i32"),
    ("call_ret_i", 9, ValueError, "returned -2147483649, out of range for i32"),
    ("call_ret_I", 10, ValueError, "returned 18446744073709551616, out of range for i64"),
    ("call_ret_I", 11, ValueError, "returned -9223372036854775809, out of range for i64"),
    ("call_ret_i", 12, TypeError, "host function env.ret_i must return int, not float"),
    ("call_ret_I", 13, TypeError, "host function env.ret_I must return int, not str"),
    ("call_ret_i", 14, TypeError, "must return int, not NoneType"),
    ("call_ret_v", 15, TypeError, "host function env.ret_v has no result but returned int"),
])
def test_bad_host_results_trap_and_reraise(inst: pywamr.Instance, export: str, k: int,
                                           error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message) as info:
        inst.exports[export](k)
    assert any("raised by host function env.ret_" in note
               for note in getattr(info.value, "__notes__", []))
    assert inst.exports["call_ret_i"](1) == -(1 << 31)  # usable afterwards


def test_host_functions_of_floats_and_many_values(inst: pywamr.Instance) -> None:
    exports, seen = inst.exports, inst.seen  # type: ignore[attr-defined]
    assert [exports["call_ret_F"](k) for k in range(4)] == [3.0, 1e300, -0.0, float(1 << 200)]
    assert math.copysign(1, exports["call_ret_F"](2)) == -1
    assert exports["call_ret_f"](0) == 3.0 and exports["call_ret_f"](1) == math.inf
    assert exports["call_ret_f"](3) == math.inf  # f32 rounds (overflows to infinity)
    assert exports["call_echo_f"](1.1) == exports["call_echo_f"](exports["call_echo_f"](1.1))
    assert math.isnan(exports["call_echo_f"](math.nan))
    assert exports["call_echo_f"](-math.inf) == -math.inf
    assert exports["call_mix"](-1, -(1 << 40), 0.5, 0.25, 0xFFFFFFF0) == 0.75
    assert seen[-1] == (-1, -(1 << 40), 0.5, 0.25, 0xFFFFFFF0)  # a pointer as an offset
    assert exports["call_six"](1) == 21


@pytest.mark.parametrize(("export", "k", "error", "message"), [
    ("call_ret_F", 4, TypeError, "host function env.ret_F must return float, not bool"),
    ("call_ret_F", 5, OverflowError, "int too large to convert to float"),
    ("call_ret_f", 6, TypeError, "host function env.ret_f must return float, not str"),
    ("call_ret_f", 7, TypeError, "must return float, not NoneType"),
])
def test_bad_float_host_results_trap_and_reraise(inst: pywamr.Instance, export: str, k: int,
                                                 error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        inst.exports[export](k)
    assert inst.exports["call_ret_F"](0) == 3.0  # usable afterwards
