"""WASI commands: pywamr beside wasmtime-py's WASI, in the same run.

``python -m pytest bench/test_wasi.py --benchmark-only --benchmark-min-rounds=5``

* hello, cold: load (wasmtime: compile) + instantiate + run ``_start``;
* hello, warm: the module loaded once; instantiate + run (a command runs once
  per instance, in both engines);
* fd_write throughput: 256 writes of 64 KiB (16 MiB) into a file in a preopen;
* copy: a 16 MiB file copied through fd_read/fd_write with a 64 KiB buffer.

Output goes to files or /dev/null in both engines (no capture cost).  The
ratios are quoted in docs/wasi.md.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr
from pywamr import WasiConfig

from .conftest import payload

BENCH = payload("wasi_bench")
TOTAL = 16 << 20
CHUNK = 64 << 10
PYWAMR_MODES = ["fast-interp"] + (["aot"] if pywamr.aot_available() else [])

Runner = Callable[[], int]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("wasi-bench")
    (root / "in.bin").write_bytes(bytes(range(256)) * (TOTAL // 256))
    return root


CASES = {
    "hello": ["hello"],
    "write": ["write", "/w/out.bin", str(TOTAL // CHUNK), str(CHUNK)],
    "copy": ["copy", "/w/in.bin", "/w/copy.bin"],
}


def _check(case: str, workdir: Path) -> None:
    if case == "write":
        assert (workdir / "out.bin").stat().st_size == TOTAL
    elif case == "copy":
        assert (workdir / "copy.bin").stat().st_size == TOTAL


class _Wasmtime:
    """wasmtime-py's WASI: engine and linker once; compile per cold run."""

    def __init__(self) -> None:
        self.engine = wasmtime.Engine()
        self.linker = wasmtime.Linker(self.engine)
        self.linker.define_wasi()
        self.bytes = BENCH.read_bytes()
        self.module = wasmtime.Module(self.engine, self.bytes)

    def run(self, args: list[str], workdir: Path, cold: bool) -> int:
        module = wasmtime.Module(self.engine, self.bytes) if cold else self.module
        store = wasmtime.Store(self.engine)
        config = wasmtime.WasiConfig()
        config.argv = ["wasi_bench", *args]
        config.preopen_dir(str(workdir), "/w")
        config.stdout_file = "/dev/null"
        store.set_wasi(config)
        instance = self.linker.instantiate(store, module)
        try:
            instance.exports(store)["_start"](store)
        except wasmtime.ExitTrap as exc:
            return exc.code
        return 0


@pytest.fixture(scope="module")
def wasmtime_wasi() -> _Wasmtime:
    return _Wasmtime()


def _pywamr_runner(runtime: pywamr.Runtime, module: pywamr.Module | None, args: list[str],
                   workdir: Path) -> Runner:
    config = WasiConfig(argv=["wasi_bench", *args], preopens={"/w": str(workdir)},
                        stdout="/dev/null")

    def run() -> int:
        mod = module if module is not None else runtime.load(BENCH)
        with mod.instantiate(wasi=config) as instance:
            code = instance.run()
        if module is None:
            mod.close()
        return code

    return run


@pytest.fixture(params=PYWAMR_MODES)
def runtime(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(request.param) as rt:
        rt.load(BENCH).close()  # mode "aot": compile into the cache outside the timing
        yield rt


@pytest.mark.parametrize("temperature", ["cold", "warm"])
def test_hello_pywamr(benchmark: BenchmarkFixture, runtime: pywamr.Runtime, workdir: Path,
                      temperature: str) -> None:
    benchmark.group = f"wasi-hello-{temperature}"
    module = runtime.load(BENCH) if temperature == "warm" else None
    assert benchmark(_pywamr_runner(runtime, module, CASES["hello"], workdir)) == 0


@pytest.mark.parametrize("temperature", ["cold", "warm"])
def test_hello_wasmtime(benchmark: BenchmarkFixture, wasmtime_wasi: _Wasmtime, workdir: Path,
                        temperature: str) -> None:
    benchmark.group = f"wasi-hello-{temperature}"
    cold = temperature == "cold"
    assert benchmark(lambda: wasmtime_wasi.run(CASES["hello"], workdir, cold)) == 0


@pytest.mark.parametrize("case", ["write", "copy"])
def test_io_pywamr(benchmark: BenchmarkFixture, runtime: pywamr.Runtime, workdir: Path,
                   case: str) -> None:
    benchmark.group = f"wasi-{case}-16MiB"
    module = runtime.load(BENCH)
    assert benchmark(_pywamr_runner(runtime, module, CASES[case], workdir)) == 0
    _check(case, workdir)


@pytest.mark.parametrize("case", ["write", "copy"])
def test_io_wasmtime(benchmark: BenchmarkFixture, wasmtime_wasi: _Wasmtime, workdir: Path,
                     case: str) -> None:
    benchmark.group = f"wasi-{case}-16MiB"
    assert benchmark(lambda: wasmtime_wasi.run(CASES[case], workdir, False)) == 0
    _check(case, workdir)
