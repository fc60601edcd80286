"""Copying linear memory out to Python: pywamr vs wasmtime-py vs pywasm3.

Groups: ``read16`` (16 bytes at an offset) and ``read_all`` (the whole memory of
``basic.wasm``, grown to its maximum of 4 pages: 256 KiB), each a ``bytes``-like
copy the caller owns.  ``Memory.view()`` is the zero-copy alternative and is
not timed here.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr

from .conftest import STACK, WasmtimeInst, payload

PAGES = 4
SIZE = PAGES * 65536


@pytest.fixture(scope="module")
def wamr_memory(mode: str) -> Iterator[pywamr.Memory]:
    with pywamr.Runtime(mode) as rt:
        module = rt.load(payload("basic"))
        with module.instantiate(stack_size=STACK, heap_size=0) as inst:
            inst.exports["grow"](PAGES - 1)
            assert len(inst.memory) == SIZE
            yield inst.memory
        module.close()


@pytest.fixture(scope="module")
def wt_memory(wt_basic: WasmtimeInst) -> tuple[wasmtime.Store, wasmtime.Memory]:
    store, inst = wt_basic
    inst.exports(store)["grow"](store, PAGES - 1)
    memory = inst.exports(store)["memory"]
    assert isinstance(memory, wasmtime.Memory) and memory.data_len(store) == SIZE
    return store, memory


@pytest.fixture(scope="module")
def w3_runtime() -> Any:
    wasm3 = pytest.importorskip("wasm3")
    env = wasm3.Environment()
    runtime = env.new_runtime(STACK)
    runtime.load(env.parse_module(payload("basic").read_bytes()))
    runtime.find_function("grow")(PAGES - 1)
    assert len(runtime.get_memory(0)) == SIZE
    return runtime


@pytest.mark.benchmark(group="read16")
def test_read16_pywamr(benchmark: BenchmarkFixture, wamr_memory: pywamr.Memory) -> None:
    assert len(benchmark(wamr_memory.read, 1000, 16)) == 16


@pytest.mark.benchmark(group="read16")
def test_read16_wasmtime(benchmark: BenchmarkFixture,
                         wt_memory: tuple[wasmtime.Store, wasmtime.Memory]) -> None:
    store, memory = wt_memory
    assert len(benchmark(memory.read, store, 1000, 1016)) == 16


@pytest.mark.benchmark(group="read16")
def test_read16_wasm3(benchmark: BenchmarkFixture, w3_runtime: Any) -> None:
    assert len(benchmark(lambda: bytes(w3_runtime.get_memory(0)[1000:1016]))) == 16


@pytest.mark.benchmark(group="read_all")
def test_read_all_pywamr(benchmark: BenchmarkFixture, wamr_memory: pywamr.Memory) -> None:
    assert len(benchmark(wamr_memory.read, 0, SIZE)) == SIZE


@pytest.mark.benchmark(group="read_all")
def test_read_all_wasmtime(benchmark: BenchmarkFixture,
                           wt_memory: tuple[wasmtime.Store, wasmtime.Memory]) -> None:
    store, memory = wt_memory
    assert len(benchmark(memory.read, store, 0, SIZE)) == SIZE


@pytest.mark.benchmark(group="read_all")
def test_read_all_wasm3(benchmark: BenchmarkFixture, w3_runtime: Any) -> None:
    assert len(benchmark(lambda: bytes(w3_runtime.get_memory(0)))) == SIZE
