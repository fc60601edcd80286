"""Shared fixtures for the call-overhead benchmarks (pywamr vs wasmtime-py vs Python).

pyproject's ``addopts`` contains ``--benchmark-skip`` and ``testpaths = ["tests"]``;
``--benchmark-only`` overrides the skip and an explicit path overrides testpaths,
so from the repository root run::

    python -m pytest bench/ --benchmark-only --benchmark-min-rounds=5

(about a minute on 2 cores).  Tests that loop inside one round set
``extra_info["calls_per_round"]``; the summary at the end shows the median per call.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "payloads" / "wasm"
MODES = ["fast-interp", "classic-interp"]
STACK = 160 * 1024

_per_call: list[tuple[str, str, int, float]] = []  # (group, test, calls, median ns per call)


def payload(name: str) -> Path:
    return PAYLOADS / f"{name}.wasm"


@pytest.fixture(autouse=True)
def _record_per_call(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a benchmark, record its median per call (``calls_per_round`` default 1)."""
    yield
    benchmark = request.node.funcargs.get("benchmark")
    if not isinstance(benchmark, BenchmarkFixture) or benchmark.stats is None:
        return
    calls = int(benchmark.extra_info.setdefault("calls_per_round", 1))
    ns = benchmark.stats.stats.median / calls * 1e9
    benchmark.extra_info["median_ns_per_call"] = ns
    _per_call.append((benchmark.group or "", benchmark.name, calls, ns))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _per_call:
        return
    terminalreporter.section("median per call (ns)")
    for group, name, calls, ns in sorted(_per_call):
        terminalreporter.write_line(f"{group:<16} {name:<45} {calls:>5} calls/round {ns:>14.1f} ns")


# -- pywamr ------------------------------------------------------------
@pytest.fixture(scope="module", params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _instance(rt: pywamr.Runtime, name: str) -> Iterator[pywamr.Instance]:
    module = rt.load(payload(name))
    with module.instantiate(stack_size=STACK, heap_size=0) as inst:
        yield inst
    module.close()


@pytest.fixture(scope="module")
def wamr_basic(mode: str) -> Iterator[pywamr.Instance]:
    with pywamr.Runtime(mode) as rt:
        yield from _instance(rt, "basic")


@pytest.fixture(scope="module")
def wamr_cpu(mode: str) -> Iterator[pywamr.Instance]:
    with pywamr.Runtime(mode) as rt:
        yield from _instance(rt, "cpu")


def h_add(a: int, b: int) -> int:
    return a + b


def h_buf(data: memoryview) -> int:
    return len(data)


@pytest.fixture(scope="module")
def wamr_host(mode: str) -> Iterator[pywamr.Instance]:
    """host.wasm with all 8 imports; only h_add and h_buf are exercised."""
    with pywamr.Runtime(mode) as rt:
        rt.register_hosts("env", {
            "h_add": (h_add, "(ii)i"),
            "h_buf": (h_buf, "(*~)i"),
            "h_str": (lambda s: len(s), "($)i"),
            "h_ptr": (lambda p: p, "(*)i"),
            "h_i64": (lambda x: x, "(I)I"),
            "h_f32": (lambda x: x, "(f)f"),
            "h_f64": (lambda x: x, "(F)F"),
            "h_void": (lambda: None, "()"),
        })
        yield from _instance(rt, "host")


# -- wasmtime-py ---------------------------------------------------------
WasmtimeInst = tuple[wasmtime.Store, wasmtime.Instance]


@pytest.fixture(scope="session")
def wt_engine() -> wasmtime.Engine:
    return wasmtime.Engine()


def _wt(engine: wasmtime.Engine, name: str) -> WasmtimeInst:
    store = wasmtime.Store(engine)
    module = wasmtime.Module.from_file(engine, str(payload(name)))
    return store, wasmtime.Instance(store, module, [])


@pytest.fixture(scope="module")
def wt_basic(wt_engine: wasmtime.Engine) -> WasmtimeInst:
    return _wt(wt_engine, "basic")


@pytest.fixture(scope="module")
def wt_cpu(wt_engine: wasmtime.Engine) -> WasmtimeInst:
    return _wt(wt_engine, "cpu")


@pytest.fixture(scope="module")
def wt_host(wt_engine: wasmtime.Engine) -> WasmtimeInst:
    """host.wasm with Python host functions, supplied in import order."""
    store = wasmtime.Store(wt_engine)
    module = wasmtime.Module.from_file(wt_engine, str(payload("host")))
    memory: list[wasmtime.Memory] = []

    def buf(caller: wasmtime.Caller, ptr: int, n: int) -> int:
        # Zero-copy view of the guest bytes, like pywamr's "*~".
        return len(memoryview(memory[0].get_buffer_ptr(caller, n, ptr)))

    impls: dict[str, tuple[Callable[..., Any], bool]] = {
        "h_add": (h_add, False),
        "h_buf": (buf, True),
        "h_str": (lambda p: 0, False),
        "h_ptr": (lambda p: p, False),
        "h_i64": (lambda x: x, False),
        "h_f32": (lambda x: x, False),
        "h_f64": (lambda x: x, False),
        "h_void": (lambda: None, False),
    }
    imports: list[wasmtime.AsExtern] = []
    for imp in module.imports:
        assert imp.name is not None and isinstance(imp.type, wasmtime.FuncType)
        fn, caller = impls[imp.name]
        imports.append(wasmtime.Func(store, imp.type, fn, access_caller=caller))
    inst = wasmtime.Instance(store, module, imports)
    mem = inst.exports(store)["memory"]
    assert isinstance(mem, wasmtime.Memory)
    memory.append(mem)
    return store, inst


# -- pywasm3 (wasm3's interpreter) -------------------------------------------------
def _wasm3_function(name: str, export: str) -> Any:
    """An export of a fresh wasm3 runtime holding payload ``name``; skips without pywasm3."""
    wasm3 = pytest.importorskip("wasm3")
    env = wasm3.Environment()
    runtime = env.new_runtime(STACK)
    runtime.load(env.parse_module(payload(name).read_bytes()))
    return runtime.find_function(export)


@pytest.fixture(scope="module")
def w3_basic_add() -> Any:
    return _wasm3_function("basic", "add")


@pytest.fixture(scope="module")
def w3_basic_add_f64() -> Any:
    return _wasm3_function("basic", "add_f64")


@pytest.fixture(scope="module")
def w3_cpu_fib() -> Any:
    return _wasm3_function("cpu", "fib")
