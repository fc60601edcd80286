"""AOT runs like the interpreters: same results, traps, stack limits, timeouts and
Teaclave policies in mode "aot"."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_MODES, EXAMPLES, example, payload, requires_aot
from wasm_bytes import leb, name, section, vec

import pywamr
from pywamr import teaclave

pytestmark = [requires_aot, pytest.mark.usefixtures("aot_env")]

SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


# ---------------------------------------------------------------------------
# Same results in every mode
BASIC_CALLS: list[tuple[Any, ...]] = [
    ("add", 2, 3), ("add", -1, 1), ("add_i64", 1 << 40, -5), ("add_f32", 1.5, 2.25),
    ("add_f64", 0.1, 0.2), ("mixed", -3, 1 << 35, 0.5, 2.25), ("pair", 21), ("triple",),
    ("div_s", 7, -2), ("trunc", -3.9), ("grow", 1), ("pages",), ("incr",), ("incr",),
    ("get_counter",), ("spin", 10_000), ("store", 64, 0x01020304), ("load", 64),
    ("sum_bytes", 16, 6), ("noop",),
]
CPU_CALLS: list[tuple[Any, ...]] = [
    ("fib", 0), ("fib", 1), ("fib", 20), ("sieve", 2), ("sieve", 100_000), ("sieve", 1 << 21),
    ("matmul", 0), ("matmul", 48), ("matmul", 129), ("sha256_loop", 0), ("sha256_loop", 300),
]


def run_calls(mode: str, name: str, calls: list[tuple[Any, ...]]) -> list[Any]:
    with pywamr.Runtime(mode) as rt:
        module = rt.load(payload(name))
        assert module.kind == ("aot" if mode == "aot" else "wasm")
        with module.instantiate(heap_size=0) as inst:
            return [inst.call(*call) for call in calls]


@pytest.mark.parametrize("name, calls", [("basic", BASIC_CALLS), ("cpu", CPU_CALLS)])
def test_payload_results_identical_in_every_mode(name: str, calls: list[tuple[Any, ...]]) -> None:
    results = {mode: run_calls(mode, name, calls) for mode in ALL_MODES}
    assert results["aot"] == results["fast-interp"] == results["classic-interp"]
    if name == "cpu":
        by_call = dict(zip(calls, results["aot"]))
        assert by_call[("fib", 20)] == 6765 and by_call[("sieve", 100_000)] == 9592
        expected = int.from_bytes(hashlib.sha256(SHA_MSG * 300).digest()[:4], "big")
        assert by_call[("sha256_loop", 300)] & 0xFFFFFFFF == expected


def test_exports_and_globals_in_aot() -> None:
    with pywamr.Runtime("aot") as rt:
        module = rt.load(payload("basic"))
        wasm_module = pywamr.Runtime("fast-interp").load(payload("basic"))
        assert [(e.name, e.kind, e.type) for e in module.exports] == \
               [(e.name, e.kind, e.type) for e in wasm_module.exports]
        with module.instantiate(heap_size=0) as inst:
            assert inst.memory.read(16, 6) == b"hello\0"
            inst.memory.write(200, bytes(range(10)))
            assert inst.call("sum_bytes", 200, 10) == 45


def probe(mode: str, case: str, tmp: Path, **kwargs: Any) -> tuple[Any, ...]:
    inp = tmp / "in.txt"
    inp.write_bytes(b"input bytes\n" * 10)
    out = tmp / f"{mode}-{case}.txt"
    result = teaclave.invoke(payload("tc_probe"), {"case": case}, {"in": inp}, {"out": out},
                             mode=mode, **kwargs)
    text = out.read_bytes() if out.exists() else None
    return (result.return_value, result.summary, result.trap, result.file_errors,
            result.files_left_open, text)


def test_example_payloads_identical_in_every_mode(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("apple\nbanana\ncherry\n")
    (tmp_path / "b.txt").write_text("banana\ncherry\ndate\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20).replace(b"\n", b"x") + b"\n" * 7)
    assert {p.stem for p in EXAMPLES.glob("*.wasm")} == {"adder", "compare", "intersection",
                                                        "wordcount", "millionaire", "simple_add",
                                                        "psi"}
    outcomes = {}
    for mode in ALL_MODES:
        got: list[Any] = [teaclave.run(example("adder"), {"a": 40, "b": 2}, mode=mode),
                          teaclave.run(example("adder"), {"a": 1}, mode=mode)]
        for inputs in (("a.txt", "a.txt"), ("a.txt", "b.txt")):
            out = tmp_path / f"{mode}-result.txt"
            got += [teaclave.run(example("compare"), {}, {"input_a": tmp_path / inputs[0],
                                                          "input_b": tmp_path / inputs[1]},
                                 {"result": out}, mode=mode), out.read_text()]
        out = tmp_path / f"{mode}-common.txt"
        got += [teaclave.run(example("intersection"), {}, {"input_a": tmp_path / "a.txt",
                                                           "input_b": tmp_path / "b.txt"},
                             {"output": out}, mode=mode), out.read_text()]
        out = tmp_path / f"{mode}-copy.bin"
        got += [teaclave.run(example("wordcount"), {}, {"input": big}, {"output": out},
                             mode=mode), out.read_bytes() == big.read_bytes()]
        outcomes[mode] = got
    assert outcomes["aot"] == outcomes["fast-interp"] == outcomes["classic-interp"]
    assert outcomes["aot"] == [42, -1, 0, "same\n", 1, "different\n", 2, "banana\ncherry\n",
                               7, True]


@pytest.mark.parametrize("case", ["bad-handle", "wrong-direction", "closed-handle", "unknown-id",
                                  "out-of-bounds", "leave-open", "trap-after-write", "many",
                                  "handles", "copy"])
def test_file_api_probe_identical_in_every_mode(case: str, tmp_path: Path) -> None:
    results = [probe(mode, case, tmp_path) for mode in ALL_MODES]
    assert results[0] == results[1] == results[2]


def test_host_functions_and_libc_in_aot() -> None:
    with pywamr.Runtime("aot") as rt:
        seen: list[bytes] = []

        def h_buf(data: memoryview) -> int:
            seen.append(bytes(data))
            return len(data)

        rt.register_hosts("env", {
            "h_add": (lambda a, b: a + b, "(ii)i"), "h_buf": (h_buf, "(*~)i"),
            "h_str": (lambda s: len(s), "($)i"), "h_ptr": (lambda p: p, "(*)i"),
            "h_i64": (lambda v: v * 2, "(I)I"), "h_f32": (lambda v: v / 2, "(f)f"),
            "h_f64": (lambda v: v * 1.5, "(F)F"), "h_void": (lambda: None, "()")})
        module = rt.load(payload("host"))
        assert module.kind == "aot"
        assert {i.name: i.provider for i in module.imports}["h_add"] == "host"
        with module.instantiate() as inst:
            inst.memory.write(100, b"hello\0")
            assert inst.call("call_add", 2, 40) == 42
            assert inst.call("call_buf", 100, 5) == 5 and seen == [b"hello"]
            assert inst.call("call_str", 100) == 5
            assert inst.call("call_i64", 1 << 40) == 1 << 41
            assert inst.call("call_f64", 2.0) == 3.0
            with pytest.raises(pywamr.Trap, match="out of bounds"):
                inst.call("call_buf", len(inst.memory) - 2, 10)
        rt.register_host("env", "h_add", lambda a, b: 1 // 0, "(ii)i")
        with rt.load(payload("host")).instantiate() as inst:
            with pytest.raises(ZeroDivisionError):
                inst.call("call_add", 1, 2)
            assert inst.call("call_i64", 3) == 6
        with rt.load(payload("libc")).instantiate() as inst:
            inst.capture_output()
            assert inst.call("hello", 7) == 7
            assert inst.take_output() == b"hello 7\n"


# ---------------------------------------------------------------------------
# Traps and timeouts
@pytest.fixture
def aot_basic() -> Iterator[pywamr.Instance]:
    with pywamr.Runtime("aot") as rt:
        module = rt.load(payload("basic"))
        with module.instantiate(heap_size=0) as inst:
            yield inst


@pytest.mark.parametrize("call, message", [
    (("div_s", 1, 0), "integer divide by zero"),
    (("div_s", -(1 << 31), -1), "integer overflow"),
    (("trunc", 1e300), "integer overflow"),
    (("boom",), "unreachable"),
    (("load", 1 << 20), "out of bounds memory access"),
    (("store", (1 << 16) - 2, 1), "out of bounds memory access"),
    (("recurse", 0), "native stack overflow"),
])
def test_traps_in_aot(aot_basic: pywamr.Instance, call: tuple[Any, ...], message: str) -> None:
    for _ in range(2):
        with pytest.raises(pywamr.Trap) as info:
            aot_basic.call(*call)
        assert info.value.message == message
        assert aot_basic.call("add", 1, 2) == 3  # usable again


def test_stack_overflow_in_threads() -> None:
    caught: list[Any] = []

    def deep() -> None:
        with pywamr.Runtime("aot") as rt, rt.load(payload("basic")).instantiate() as inst:
            try:
                inst.call("recurse", 0)
            except pywamr.Trap as trap:
                caught.append(trap.message)
            caught.append(inst.call("add", 2, 2))

    for stack in (0, 1 << 20):  # the default thread stack, and 1 MiB
        previous = threading.stack_size(stack)
        try:
            worker = threading.Thread(target=deep)
            worker.start()
            worker.join()
        finally:
            threading.stack_size(previous)
    assert caught == ["native stack overflow", 4] * 2
    with (pywamr.Runtime("classic-interp") as rt, rt.load(payload("basic")).instantiate() as inst,
          pytest.raises(pywamr.Trap, match="out of bounds")):  # the other core still traps
        inst.call("load", 1 << 20)


def deep_host_module() -> bytes:
    """down(n) = h(n) + down(n + 1): recursion that calls the host at every depth."""
    body = (b"\x00" + b"\x20\x00\x10\x00" + b"\x20\x00\x41\x01\x6a\x10\x01" + b"\x6a"
            + b"\x0b")
    return (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x01\x7f\x01\x7f"]))
            + section(2, vec([name("env") + name("h") + b"\x00\x00"]))
            + section(3, vec([b"\x00"])) + section(7, vec([name("down") + b"\x00\x01"]))
            + section(10, vec([leb(len(body)) + body])))


def test_host_calls_at_the_native_stack_limit() -> None:
    """The host runs at the deepest level, just above the overflow check (the stack guard)."""
    calls: list[int] = []

    def h(depth: int) -> int:
        calls.append(depth)
        return len(json.dumps([[[{"depth": depth}]]] * 8))  # some real Python work

    def run() -> None:
        with pywamr.Runtime("aot") as rt:
            rt.register_host("env", "h", h, "(i)i")
            with rt.load(deep_host_module()).instantiate() as inst:
                for _ in range(2):  # and again: the instance stays usable
                    with pytest.raises(pywamr.Trap, match="native stack overflow"):
                        inst.call("down", 0)

    run()
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert len(calls) > 1000


def test_timeout_stops_aot_code(aot_basic: pywamr.Instance) -> None:
    # basic.wasm's "spin" has no side effects: LLVM computes its result without
    # looping.  runaway.wasm's loops store to memory on every iteration.
    with pywamr.Runtime("aot") as rt, rt.load(payload("runaway")).instantiate() as inst:
        for _ in range(3):
            start = time.monotonic()
            with pytest.raises(pywamr.Timeout, match="timed out"):
                inst.call("loop_br", 0, timeout=0.2)
            assert 0.15 < time.monotonic() - start < 2.0
            assert inst.call("calls", 10) == 55
    assert aot_basic.call("spin", 1000, timeout=5) == 1000


# ---------------------------------------------------------------------------
# The Teaclave executor
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_teaclave_executor_in_aot_with_every_policy(policy: str, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x\ny\nz\n")
    (tmp_path / "b").write_text("y\nz\n")
    with teaclave.Executor(example("intersection"), mode="aot", policy=policy) as executor:
        for _ in range(3):
            out = tmp_path / "out"
            result = executor.invoke({}, {"input_a": tmp_path / "a", "input_b": tmp_path / "b"},
                                     {"output": out}, timings=True)
            assert (result.return_value, out.read_text()) == (2, "y\nz\n")
            assert result.timings is not None and result.timings["call"] > 0
    with teaclave.Executor(example("adder"), mode="aot", policy=policy) as executor:
        assert [executor.run({"a": i, "b": 1}) for i in range(3)] == [1, 2, 3]
    (tmp_path / "in").write_bytes(b"input bytes\n" * 10)
    files = ({"in": tmp_path / "in"}, {"out": tmp_path / "o"})
    with teaclave.Executor(payload("tc_probe"), mode="aot", policy=policy,
                           profile="strict") as executor:  # tc_probe calls libc-builtin
        assert executor.invoke({"case": "leave-open"}, *files).files_left_open == 2
        second = executor.invoke({"case": "handles"}, *files)  # nothing leaks between runs
        assert (second.return_value, second.files_left_open, second.file_errors) == (1, 1, [])


def test_aot_shares_the_fast_core_for_cold_runs() -> None:
    gc.collect()
    rt = pywamr.Runtime("fast-interp")
    try:
        with pytest.raises(pywamr.WamrError, match="close other runtimes"):
            teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="aot", policy="cold")
    finally:
        rt.close()
    assert teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="aot", policy="cold") == 3
