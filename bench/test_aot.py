"""CPU-bound kernels: pywamr AOT vs both interpreters vs wasmtime-py vs native C.

Kernels from tests/payloads/src/cpu.c, one group each (fib30, sieve, matmul,
sha256): pywamr ``aot`` (cpu x86-64-v2, the default) and ``aot-host`` (the
best x86-64 level this CPU has), ``fast-interp``, ``classic-interp``,
wasmtime-py (Cranelift JIT), and cpu.c itself built with ``gcc -O2`` into a
shared library at session start and called through ctypes.  Compilation is
not timed (the AOT cache lives in a temporary directory).  Run::

    python -m pytest bench/test_aot.py --benchmark-only --benchmark-min-rounds=5
"""

from __future__ import annotations

import ctypes
import hashlib
import shutil
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr
from pywamr import _aot

from .conftest import ROOT, STACK, WasmtimeInst, payload

SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
SHA_ROUNDS = 5000
# (export, argument, expected result): the results are checked every round.
KERNELS: dict[str, tuple[str, int, Any]] = {
    "fib30": ("fib", 30, 832040),
    "sieve": ("sieve", 1 << 20, 82025),
    "matmul": ("matmul", 128, -1038.0),
    "sha256": ("sha256_loop", SHA_ROUNDS,
               int.from_bytes(hashlib.sha256(SHA_MSG * SHA_ROUNDS).digest()[:4], "big")),
}
ENGINES = ["aot", "aot-host", "fast-interp", "classic-interp"]

pytestmark = pytest.mark.skipif(not pywamr.aot_available(),
                                reason="pywamr was built without the AOT compiler")


def _u32(value: int) -> int:
    return value & 0xFFFFFFFF


@pytest.fixture(scope="module", autouse=True)
def _bench_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv(_aot.CACHE_ENV, str(tmp_path_factory.mktemp("aot-cache")))
        yield


@pytest.fixture(scope="module", params=ENGINES)
def wamr_kernels(request: pytest.FixtureRequest) -> Iterator[tuple[str, pywamr.Instance]]:
    engine = str(request.param)
    with pytest.MonkeyPatch.context() as mp:
        if engine == "aot-host":
            mp.setenv(_aot.CPU_ENV, "host")
        mode = "aot" if engine.startswith("aot") else engine
        with pywamr.Runtime(mode) as rt:
            module = rt.load(payload("cpu"))
            with module.instantiate(stack_size=STACK, heap_size=0) as inst:
                yield engine, inst
            module.close()


@pytest.fixture(scope="session")
def native_cpu(tmp_path_factory: pytest.TempPathFactory) -> ctypes.CDLL:
    gcc = shutil.which("gcc") or shutil.which("cc")
    if gcc is None:
        pytest.skip("no C compiler for the native baseline")
    lib = tmp_path_factory.mktemp("native") / "libcpu.so"
    subprocess.run([gcc, "-O2", "-shared", "-fPIC", "-o", str(lib),
                    str(ROOT / "tests" / "payloads" / "src" / "cpu.c")], check=True)
    cdll = ctypes.CDLL(str(lib))
    for name, restype in (("fib", ctypes.c_int), ("sieve", ctypes.c_int),
                          ("matmul", ctypes.c_double), ("sha256_loop", ctypes.c_uint)):
        getattr(cdll, name).argtypes = [ctypes.c_int]
        getattr(cdll, name).restype = restype
    return cdll


def _check(benchmark: BenchmarkFixture, kernel: str, call: Callable[[], Any]) -> None:
    _, _, expected = KERNELS[kernel]
    result = benchmark(call)
    assert (_u32(result) if kernel == "sha256" else result) == expected


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_kernel_pywamr(benchmark: BenchmarkFixture, kernel: str,
                       wamr_kernels: tuple[str, pywamr.Instance]) -> None:
    engine, inst = wamr_kernels
    name, arg, _ = KERNELS[kernel]
    benchmark.group = kernel
    benchmark.extra_info["engine"] = engine
    func = inst.exports[name]
    _check(benchmark, kernel, lambda: func(arg))


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_kernel_wasmtime(benchmark: BenchmarkFixture, kernel: str, wt_cpu: WasmtimeInst) -> None:
    store, inst = wt_cpu
    name, arg, _ = KERNELS[kernel]
    benchmark.group = kernel
    func = inst.exports(store)[name]
    assert isinstance(func, wasmtime.Func)
    _check(benchmark, kernel, lambda: func(store, arg))


@pytest.mark.parametrize("kernel", list(KERNELS))
def test_kernel_native(benchmark: BenchmarkFixture, kernel: str, native_cpu: ctypes.CDLL) -> None:
    name, arg, _ = KERNELS[kernel]
    benchmark.group = kernel
    func = getattr(native_cpu, name)
    _check(benchmark, kernel, lambda: func(arg))
