"""Instantiation by linear-memory size, with the peers.

An instantiate/close cycle of a module whose memory has 1, 16 or 256 wasm
pages (64 KiB, 1 MiB, 16 MiB; no app heap) with a data segment, in every
pywamr mode beside wasmtime-py and pywasm3.  With recycled reservations (WAMR
patch 0022) the cost should hardly depend on the memory's size: a released
memory is zeroed by ``madvise``, which costs only what was touched.  Also a
cycle that writes one byte per page of the memory first (what a released
memory must zero).  Run::

    python -m pytest bench/test_instantiation.py --benchmark-only --benchmark-min-rounds=200
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr

from ._wat import wat_to_wasm

try:  # optional peer
    import wasm3
except ImportError:  # pragma: no cover - depends on the environment
    wasm3 = None

PAGES = {"64KiB": 1, "1MiB": 16, "16MiB": 256}
MODES = ["fast-interp", "classic-interp", *(["aot"] if pywamr.aot_available() else [])]


def _module(pages: int) -> bytes:
    """A memory of ``pages`` pages with a data segment and ``touch()``: one
    store into every page."""
    text = f"""(module
  (memory (export "memory") {pages} {pages})
  (data (i32.const 16) "data segment")
  (func (export "touch") (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (i32.const {pages})))
      (i32.store8 (i32.mul (local.get $i) (i32.const 65536)) (i32.const 7))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))"""
    return wat_to_wasm(text)


@pytest.fixture(scope="module", params=list(PAGES))
def wasm(request: pytest.FixtureRequest) -> bytes:
    return _module(PAGES[request.param])


@pytest.fixture(params=MODES)
def module(request: pytest.FixtureRequest, wasm: bytes) -> Iterator[pywamr.Module]:
    with pywamr.Runtime(request.param) as rt:
        loaded = rt.load(wasm)
        yield loaded
        loaded.close()


def test_pywamr_instantiate(benchmark: BenchmarkFixture, module: pywamr.Module) -> None:
    benchmark(lambda: module.instantiate(heap_size=0).close())


def test_pywamr_instantiate_touch_every_page(benchmark: BenchmarkFixture,
                                             module: pywamr.Module) -> None:
    def cycle() -> None:
        with module.instantiate(heap_size=0) as inst:
            inst.call("touch")
    benchmark(cycle)


def test_wasmtime_instantiate(benchmark: BenchmarkFixture, wasm: bytes) -> None:
    engine = wasmtime.Engine()
    compiled = wasmtime.Module(engine, wasm)
    benchmark(lambda: wasmtime.Instance(wasmtime.Store(engine), compiled, []))


def test_wasm3_instantiate(benchmark: BenchmarkFixture, wasm: bytes) -> None:
    if wasm3 is None:
        pytest.skip("pywasm3 is not installed")

    def cycle() -> Any:
        env = wasm3.Environment()
        runtime = env.new_runtime(160 * 1024)
        runtime.load(env.parse_module(wasm))
        return runtime
    benchmark(cycle)
