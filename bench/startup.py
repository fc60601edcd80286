"""Start-up cases shared by ``bench/report.py`` and ``bench/test_startup.py``.

A *case* is a payload with its arguments and files.  For each case this
module builds callables that perform one Teaclave-style invocation:

* pywamr, per lifecycle policy (``cold``, ``reuse-runtime``, ``reuse-module``,
  ``reuse-instance``) through :class:`pywamr.teaclave.Executor`;
* wasmtime-py's equivalent paths: ``cold`` (fresh engine, compile),
  ``precompiled`` (deserialize a serialized module), ``instantiate`` (module
  kept, new store and instance) and ``warm`` (instance kept: write argv, call).

wasmtime has no app heap, so its argv strings and pointer array go to a page
grown at the end of linear memory; the Teaclave file API and the two
libc-builtin functions the adder imports are provided in Python.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import wasmtime

from pywamr import teaclave

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
POLICIES = teaclave.POLICIES
WASMTIME_PATHS = ("cold", "precompiled", "instantiate", "warm")
# the wasmtime path that corresponds to each pywamr policy
PEERS = {"cold": "cold", "reuse-runtime": "precompiled", "reuse-module": "instantiate",
         "reuse-instance": "warm"}


@dataclass
class Case:
    """A payload and what one invocation passes to it."""

    name: str
    wasm: bytes
    arguments: dict[str, str]
    inputs: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, str] = field(default_factory=dict)
    expected: int | None = None


@contextmanager
def cases(large_functions: int = 40000) -> Iterator[list[Case]]:
    """The adder, a file-processing payload (64 KiB in, copy out) and a
    generated large module (about 3.4 MB of code)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("gen_large_module",
                                                  ROOT / "tools" / "gen_large_module.py")
    assert spec and spec.loader
    gen = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen)
    with tempfile.TemporaryDirectory(prefix="pywamr-startup-") as tmp:
        data = (b"0123456789abcdef" * 63 + b"0123456789abcde\n") * 64  # 64 KiB, 64 lines
        source = Path(tmp) / "input.txt"
        source.write_bytes(data)
        yield [
            Case("adder", (EXAMPLES / "adder.wasm").read_bytes(), {"a": "40", "b": "2"},
                 expected=42),
            Case("wordcount", (EXAMPLES / "wordcount.wasm").read_bytes(), {},
                 {"input": str(source)}, {"output": str(Path(tmp) / "output.txt")},
                 expected=64),
            Case("large", gen.generate(large_functions), {"a": "1"}),
        ]


# -- pywamr -------------------------------------------------------------------
def pywamr_invoker(case: Case, mode: str, policy: str,
                   timings: bool = False) -> tuple[Callable[[], Any], Callable[[], None]]:
    """(invoke, close) for one policy; invoke returns a RunResult."""
    # the strict profile, as when the published figures were measured
    # (bench/results/profiles.md compares the two profiles)
    executor = teaclave.Executor(case.wasm, profile="strict", mode=mode, policy=policy)

    def invoke() -> Any:
        return executor.invoke(case.arguments, case.inputs, case.outputs, timings=timings)

    return invoke, executor.close


# -- wasmtime-py -----------------------------------------------------------------
class _WasmtimeHost:
    """The imports our payloads need, in Python, for one store."""

    def __init__(self, case: Case) -> None:
        self.case = case
        self.files: dict[int, Any] = {}
        self.memory: wasmtime.Memory | None = None

    def _string(self, caller: wasmtime.Caller, ptr: int) -> str:
        assert self.memory is not None
        raw = self.memory.read(caller, ptr, min(ptr + 4096, self.memory.data_len(caller)))
        return raw[: raw.index(b"\0")].decode()

    def define(self, linker: wasmtime.Linker) -> None:
        i32 = wasmtime.ValType.i32()
        one, two, three = [i32], [i32, i32], [i32, i32, i32]

        def func(name: str, params: list[Any], fn: Callable[..., int]) -> None:
            linker.define_func("env", name, wasmtime.FuncType(params, [i32]), fn,
                               access_caller=True)

        def atoi(caller: wasmtime.Caller, ptr: int) -> int:
            return int(self._string(caller, ptr) or 0)

        def strcmp(caller: wasmtime.Caller, a: int, b: int) -> int:
            x, y = self._string(caller, a), self._string(caller, b)
            return (x > y) - (x < y)

        def open_file(table: dict[str, str], mode: str, flag: int) -> Callable[..., int]:
            def opener(caller: wasmtime.Caller, ptr: int) -> int:
                path = table.get(self._string(caller, ptr))
                if path is None:
                    return -1
                handle = (len(self.files) + 1) | flag
                self.files[handle] = open(path, mode)  # noqa: SIM115
                return handle
            return opener

        def read(caller: wasmtime.Caller, handle: int, ptr: int, size: int) -> int:
            assert self.memory is not None
            data = self.files[handle].read(size)
            self.memory.write(caller, data, ptr)
            return len(data)

        def write(caller: wasmtime.Caller, handle: int, ptr: int, size: int) -> int:
            assert self.memory is not None
            return self.files[handle].write(self.memory.read(caller, ptr, ptr + size))

        def close(caller: wasmtime.Caller, handle: int) -> int:
            self.files.pop(handle).close()
            return 0

        func("atoi", one, atoi)
        func("strcmp", two, strcmp)
        func("teaclave_open_input", one, open_file(self.case.inputs, "rb", 0))
        func("teaclave_create_output", one, open_file(self.case.outputs, "wb", 0x40000000))
        func("teaclave_read_file", three, read)
        func("teaclave_write_file", three, write)
        func("teaclave_close_file", one, close)


def _instantiate(engine: wasmtime.Engine, module: wasmtime.Module,
                 case: Case) -> tuple[wasmtime.Store, Any, Any, int, _WasmtimeHost]:
    store = wasmtime.Store(engine)
    host = _WasmtimeHost(case)
    linker = wasmtime.Linker(engine)
    linker.allow_shadowing = True
    host.define(linker)
    instance = linker.instantiate(store, module)
    exports = instance.exports(store)
    memory = exports["memory"]
    host.memory = memory
    scratch = memory.grow(store, 1) * 65536  # argv lives in a fresh page at the end
    return store, exports["entrypoint"], memory, scratch, host


def _call(store: wasmtime.Store, entry: Any, memory: Any, scratch: int, case: Case,
          host: _WasmtimeHost) -> int:
    flat = teaclave.flatten(case.arguments)
    strings = b"".join(s + b"\0" for s in flat)
    pointers, offset = [], scratch + 4 * (len(flat) + 1)
    for s in flat:
        pointers.append(offset)
        offset += len(s) + 1
    table = b"".join(p.to_bytes(4, "little") for p in pointers) + b"\0\0\0\0"
    memory.write(store, table + strings, scratch)
    result = int(entry(store, len(flat), scratch))
    for handle in list(host.files):
        host.files.pop(handle).close()
    return result


def wasmtime_invoker(case: Case, path: str) -> tuple[Callable[[], int], Callable[[], None]]:
    """(invoke, close) for one of wasmtime-py's start-up paths."""
    if path == "cold":
        def cold() -> int:
            engine = wasmtime.Engine()
            module = wasmtime.Module(engine, case.wasm)
            store, entry, memory, scratch, host = _instantiate(engine, module, case)
            return _call(store, entry, memory, scratch, case, host)
        return cold, lambda: None
    engine = wasmtime.Engine()
    module = wasmtime.Module(engine, case.wasm)
    if path == "precompiled":
        serialized = module.serialize()

        def precompiled() -> int:
            loaded = wasmtime.Module.deserialize(engine, serialized)
            store, entry, memory, scratch, host = _instantiate(engine, loaded, case)
            return _call(store, entry, memory, scratch, case, host)
        return precompiled, lambda: None
    if path == "instantiate":
        def instantiate() -> int:
            store, entry, memory, scratch, host = _instantiate(engine, module, case)
            return _call(store, entry, memory, scratch, case, host)
        return instantiate, lambda: None
    store, entry, memory, scratch, host = _instantiate(engine, module, case)

    def warm() -> int:
        return _call(store, entry, memory, scratch, case, host)
    return warm, lambda: None


def rss_kib() -> int:
    """Resident set size of this process."""
    with open(f"/proc/{os.getpid()}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0
