"""One set of argument rules (pywamr._function.check_argument) on both call
paths: the generated fast ``__call__`` and the generic ``call``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pywamr
from pywamr._function import check_argument

BASIC = Path(__file__).resolve().parent / "payloads" / "wasm" / "basic.wasm"


@pytest.fixture(scope="module", params=["fast-interp", "classic-interp"])
def inst(request: pytest.FixtureRequest) -> Iterator[pywamr.Instance]:
    with pywamr.Runtime(request.param) as runtime:
        instance = runtime.load(BASIC).instantiate()
        yield instance
        instance.close()


@pytest.mark.parametrize(("name", "args", "kind", "message"), [
    ("add", (1 << 32, 0), ValueError, "add: argument 0 = 4294967296 is out of range for i32"),
    ("add", (0, -(1 << 31) - 1), ValueError, "add: argument 1 = -2147483649 is out of range"),
    ("add", (0, 1 << 63), ValueError, "add: argument 1 = 9223372036854775808 is out of range"),
    ("add", (1.5, 2), TypeError, "add: argument 0 must be int for i32, not float"),
    ("add_i64", (1, "2"), TypeError, "add_i64: argument 1 must be int for i64, not str"),
    ("add_i64", (1 << 64, 0), ValueError, "argument 0 = 18446744073709551616 is out of range"),
    ("add_f64", (None, 1.0), TypeError, "add_f64: argument 0 must be float for f64, not NoneType"),
    ("add_f64", (1.0, 1 << 1100), ValueError, "add_f64: argument 1 = "),
    ("mixed", (1, 2, 3.0, "4"), TypeError, "mixed: argument 3 must be float for f64, not str"),
    ("mixed", (1 << 33, 0, 0.0, 0.0), ValueError, "mixed: argument 0 = 8589934592 is out"),
])
def test_both_paths_apply_the_same_rules(inst: pywamr.Instance, name: str, args: tuple,
                                         kind: type, message: str) -> None:
    function = inst.function(name)
    errors = []
    for call in (function, function.call):  # generated fast path, generic path
        with pytest.raises(kind) as info:
            call(*args)
        assert message in str(info.value)
        assert info.value.__context__ is None or info.value.__suppress_context__
        errors.append(str(info.value))
    assert errors[0] == errors[1]
    assert inst.call("add", 2, 3) == 5  # nothing entered wasm, the instance is fine


@pytest.mark.parametrize(("name", "args", "expected"), [
    ("add", (0xFFFFFFFF, 1), 0), ("add", (True, True), 2),
    ("add_i64", ((1 << 64) - 1, 0), -1), ("add_f64", (True, 1), 2.0),
    ("add_f64", (1 << 1000, 0.0), float(1 << 1000)),
])
def test_both_paths_accept_the_same_values(inst: pywamr.Instance, name: str, args: tuple,
                                           expected: float) -> None:
    function = inst.function(name)
    assert function(*args) == expected
    assert function.call(*args) == expected


def test_the_rules_directly() -> None:
    assert check_argument("f", 0, pywamr.ValType.I32, 0xFFFFFFFF) == -1
    assert check_argument("f", 0, pywamr.ValType.I64, 1 << 63) == -(1 << 63)
    assert check_argument("f", 0, pywamr.ValType.F32, 3) == 3
    with pytest.raises(TypeError):
        check_argument("f", 0, pywamr.ValType.F32, b"1")
    with pytest.raises(ValueError):
        check_argument("f", 2, pywamr.ValType.F64, -(1 << 1024))
