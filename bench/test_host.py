"""Host-call round trips (wasm -> Python -> wasm): pywamr vs wasmtime-py vs plain Python.

Group "host_add": one round is ``call_add_loop(1000)``, i.e. 1000 calls of the Python
``env.h_add`` from inside wasm; the Python baseline makes the same 1000 calls in a loop.
Group "host_buf": one round is 100 Python-level ``call_buf(ptr, 4096)`` calls, each
handing a 4 KiB guest buffer to ``env.h_buf`` (pywamr ``*~`` memoryview, wasmtime a
zero-copy view from ``Memory.get_buffer_ptr``).  Per-call medians: see the summary.
"""

from __future__ import annotations

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr

WasmtimeInst = tuple[wasmtime.Store, wasmtime.Instance]
LOOP = 1000
LOOP_SUM = sum(i + 1 for i in range(LOOP))
BUF_CALLS, BUF_PTR, BUF_LEN = 100, 1024, 4096


def h_add(a: int, b: int) -> int:  # same body as the registered host functions
    return a + b


def h_buf(data: memoryview) -> int:
    return len(data)


def py_add_loop(n: int) -> int:
    total = 0
    for i in range(n):
        total += h_add(i, 1)
    return total


@pytest.mark.benchmark(group="host_add")
def test_host_add_python(benchmark: BenchmarkFixture) -> None:
    benchmark.extra_info["calls_per_round"] = LOOP
    assert benchmark(py_add_loop, LOOP) == LOOP_SUM


@pytest.mark.benchmark(group="host_add")
def test_host_add_pywamr(benchmark: BenchmarkFixture, wamr_host: pywamr.Instance) -> None:
    benchmark.extra_info["calls_per_round"] = LOOP
    assert benchmark(wamr_host.exports["call_add_loop"], LOOP) == LOOP_SUM


@pytest.mark.benchmark(group="host_add")
def test_host_add_wasmtime(benchmark: BenchmarkFixture, wt_host: WasmtimeInst) -> None:
    store, inst = wt_host
    benchmark.extra_info["calls_per_round"] = LOOP
    assert benchmark(inst.exports(store)["call_add_loop"], store, LOOP) == LOOP_SUM


@pytest.mark.benchmark(group="host_buf")
def test_host_buf_python(benchmark: BenchmarkFixture) -> None:
    view = memoryview(bytearray(BUF_LEN))

    def run() -> int:
        return sum(h_buf(view[0:BUF_LEN]) for _ in range(BUF_CALLS))

    benchmark.extra_info["calls_per_round"] = BUF_CALLS
    assert benchmark(run) == BUF_CALLS * BUF_LEN


@pytest.mark.benchmark(group="host_buf")
def test_host_buf_pywamr(benchmark: BenchmarkFixture, wamr_host: pywamr.Instance) -> None:
    call_buf = wamr_host.exports["call_buf"]

    def run() -> int:
        return sum(call_buf(BUF_PTR, BUF_LEN) for _ in range(BUF_CALLS))

    benchmark.extra_info["calls_per_round"] = BUF_CALLS
    assert benchmark(run) == BUF_CALLS * BUF_LEN


@pytest.mark.benchmark(group="host_buf")
def test_host_buf_wasmtime(benchmark: BenchmarkFixture, wt_host: WasmtimeInst) -> None:
    store, inst = wt_host
    call_buf = inst.exports(store)["call_buf"]

    def run() -> int:
        return sum(call_buf(store, BUF_PTR, BUF_LEN) for _ in range(BUF_CALLS))

    benchmark.extra_info["calls_per_round"] = BUF_CALLS
    assert benchmark(run) == BUF_CALLS * BUF_LEN
