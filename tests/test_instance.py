"""Calling exports: value conversion, results, argument errors, traps."""

from __future__ import annotations

import math

import pytest
from helpers import payload

import pywamr
from pywamr import FuncType, ValType


def test_i32_add(basic: pywamr.Instance) -> None:
    assert basic.call("add", 2, 3) == 5
    assert basic.exports["add"](-7, 2) == -5
    assert basic.call("add", 0x7FFFFFFF, 1) == -(1 << 31)  # wraps, signed result


def test_unsigned_i32_accepted(basic: pywamr.Instance) -> None:
    assert basic.call("add", 0xFFFFFFFF, 0) == -1


def test_i64_f32_f64(basic: pywamr.Instance) -> None:
    assert basic.call("add_i64", 1 << 40, 5) == (1 << 40) + 5
    assert basic.call("add_i64", -(1 << 63), -1) == (1 << 63) - 1
    assert basic.call("add_f32", 1.5, 2.25) == 3.75
    assert basic.call("add_f64", 0.1, 0.2) == 0.1 + 0.2
    assert basic.call("add_f64", 1, 2) == 3.0  # ints accepted for floats
    assert math.isnan(basic.call("add_f64", math.nan, 1.0))
    assert basic.call("mixed", 1, 2, 3.5, 4.25) == 10.75


def test_several_and_no_results(basic: pywamr.Instance) -> None:
    assert basic.call("pair", 21) == (21, 42)
    assert basic.call("triple") == (1, 2, 3.5)
    assert basic.call("noop") is None
    assert basic.call("store", 100, 5) is None


def test_function_types(basic: pywamr.Instance) -> None:
    mixed = basic.exports["mixed"]
    assert mixed.type == FuncType((ValType.I32, ValType.I64, ValType.F32, ValType.F64),
                                  (ValType.F64,))
    assert str(mixed.type) == "(i32, i64, f32, f64) -> (f64)"
    assert basic.exports["add"].name == "add"
    assert "add" in repr(basic.exports["add"])


def test_exports_mapping(basic: pywamr.Instance) -> None:
    exports = basic.exports
    assert {"add", "memory", "g_answer"} <= set(exports)  # every kind (issue 10)
    assert isinstance(exports["memory"], pywamr.Memory)
    assert isinstance(exports["g_answer"], pywamr.Global)
    assert set(exports) >= {"add", "pair", "spin", "grow"}
    assert len(exports) == len(list(exports))
    assert exports.add(1, 1) == 2
    assert exports.get("nope") is None
    assert basic.function("add") is basic.function("add")  # looked up once


@pytest.mark.parametrize("name, args", [("add", (1,)), ("add", (1, 2, 3)), ("noop", (1,)),
                                         ("add_f64", (1.0,)), ("mixed", ())])
def test_wrong_argument_count(basic: pywamr.Instance, name: str, args: tuple) -> None:
    with pytest.raises(TypeError):
        basic.call(name, *args)


@pytest.mark.parametrize("name, args", [("add", (1.5, 2)), ("add", ("1", 2)), ("add", (None, 2)),
                                         ("add_i64", (1, 2.0)), ("add_f64", ("x", 1.0)),
                                         ("mixed", (1, 2, 3, "4")), ("add_f32", (None, 1.0))])
def test_wrong_argument_type(basic: pywamr.Instance, name: str, args: tuple) -> None:
    with pytest.raises(TypeError):
        basic.call(name, *args)
    assert basic.call("add", 1, 1) == 2


@pytest.mark.parametrize("name, args", [("add", (1 << 32, 0)), ("add", (-(1 << 31) - 1, 0)),
                                         ("add_i64", (1 << 64, 0)),
                                         ("mixed", (1 << 33, 0, 0.0, 0.0))])
def test_out_of_range_arguments(basic: pywamr.Instance, name: str, args: tuple) -> None:
    with pytest.raises(ValueError):
        basic.call(name, *args)


def test_unknown_export(basic: pywamr.Instance) -> None:
    with pytest.raises(pywamr.ExportNotFound, match="no exported function named 'nope'"):
        basic.call("nope")
    with pytest.raises(KeyError):
        basic.exports["nope"]
    with pytest.raises(pywamr.ExportNotFound):
        basic.function("memory")  # not a function
    with pytest.raises(AttributeError):
        basic.exports.nope  # noqa: B018
    with pytest.raises(TypeError):
        basic.function(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("name, args, message", [
    ("div_s", (1, 0), "integer divide by zero"),
    ("trunc", (1e300,), "integer overflow"),
    ("boom", (), "unreachable"),
    ("load", (1 << 20,), "out of bounds memory access"),
    ("store", (65535, 1), "out of bounds memory access"),
    ("recurse", (0,), "stack overflow"),
])
def test_traps_keep_instance_usable(basic: pywamr.Instance, name: str, args: tuple,
                                    message: str) -> None:
    for _ in range(3):
        with pytest.raises(pywamr.Trap, match=message) as info:
            basic.call(name, *args)
        assert message in info.value.message
        assert basic.call("add", 20, 22) == 42


def test_state_persists_between_calls(basic: pywamr.Instance) -> None:
    assert [basic.call("incr") for _ in range(3)] == [1, 2, 3]
    assert basic.call("get_counter") == 3


def test_fast_and_classic_agree() -> None:
    results = []
    for mode in ("fast-interp", "classic-interp"):
        with pywamr.Runtime(mode) as rt:
            inst = rt.load(payload("cpu")).instantiate()
            results.append((inst.call("fib", 20), inst.call("sieve", 10000),
                            inst.call("matmul", 8), inst.call("sha256_loop", 3)))
            inst.close()
    assert results[0] == results[1]
    assert results[0][0] == 6765 and results[0][1] == 1229
