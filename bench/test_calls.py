"""Per-call cost of wasm exports: pywamr (both interpreters) vs wasmtime-py vs pywasm3 vs Python.

Exports are looked up once; each round is one call.  Groups: add, add_f64, fib25.
"""

from __future__ import annotations

from typing import Any

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr

WasmtimeInst = tuple[wasmtime.Store, wasmtime.Instance]


def py_add(a: int, b: int) -> int:
    return a + b


@pytest.mark.benchmark(group="add")
def test_add_python(benchmark: BenchmarkFixture) -> None:
    assert benchmark(py_add, 1, 2) == 3


@pytest.mark.benchmark(group="add")
def test_add_pywamr(benchmark: BenchmarkFixture, wamr_basic: pywamr.Instance) -> None:
    assert benchmark(wamr_basic.exports["add"], 1, 2) == 3


@pytest.mark.benchmark(group="add")
def test_add_wasmtime(benchmark: BenchmarkFixture, wt_basic: WasmtimeInst) -> None:
    store, inst = wt_basic
    assert benchmark(inst.exports(store)["add"], store, 1, 2) == 3


@pytest.mark.benchmark(group="add")
def test_add_wasm3(benchmark: BenchmarkFixture, w3_basic_add: Any) -> None:
    assert benchmark(w3_basic_add, 1, 2) == 3


@pytest.mark.benchmark(group="add_f64")
def test_add_f64_pywamr(benchmark: BenchmarkFixture, wamr_basic: pywamr.Instance) -> None:
    assert benchmark(wamr_basic.exports["add_f64"], 1.5, 2.25) == 3.75


@pytest.mark.benchmark(group="add_f64")
def test_add_f64_wasmtime(benchmark: BenchmarkFixture, wt_basic: WasmtimeInst) -> None:
    store, inst = wt_basic
    assert benchmark(inst.exports(store)["add_f64"], store, 1.5, 2.25) == 3.75


@pytest.mark.benchmark(group="add_f64")
def test_add_f64_wasm3(benchmark: BenchmarkFixture, w3_basic_add_f64: Any) -> None:
    assert benchmark(w3_basic_add_f64, 1.5, 2.25) == 3.75


FIB25 = 75025


@pytest.mark.benchmark(group="fib25")
def test_fib25_pywamr(benchmark: BenchmarkFixture, wamr_cpu: pywamr.Instance) -> None:
    assert benchmark(wamr_cpu.exports["fib"], 25) == FIB25


@pytest.mark.benchmark(group="fib25")
def test_fib25_wasmtime(benchmark: BenchmarkFixture, wt_cpu: WasmtimeInst) -> None:
    store, inst = wt_cpu
    assert benchmark(inst.exports(store)["fib"], store, 25) == FIB25


@pytest.mark.benchmark(group="fib25")
def test_fib25_wasm3(benchmark: BenchmarkFixture, w3_cpu_fib: Any) -> None:
    assert benchmark(w3_cpu_fib, 25) == FIB25
