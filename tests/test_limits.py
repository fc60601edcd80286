"""Resource limits: memory caps (rewritten maxima), stack and app-heap sizes."""

from __future__ import annotations

import random

import pytest
from fuzzing.mutators import mutate
from helpers import example, payload
from wasm_bytes import grow_module, leb, section

import pywamr
from pywamr import _limits, teaclave

PAGE = 65536
HOOK = {"env": {"hook": (lambda n: n, "(i)i")}}  # tc_hook: entrypoint = memory.grow(argc)



# -- the rewriter ----------------------------------------------------------
def test_declared_limits_are_read() -> None:
    assert _limits.memory_limits(payload("basic").read_bytes()) == [
        _limits.MemoryLimits(1, 4, imported=False)]
    assert _limits.memory_limits(payload("tc_hook").read_bytes()) == [
        _limits.MemoryLimits(1, None, imported=False)]
    assert _limits.memory_limits(grow_module(2, 9, imported=True)) == [
        _limits.MemoryLimits(2, 9, imported=True)]


@pytest.mark.parametrize("imported", [False, True], ids=["defined", "imported"])
@pytest.mark.parametrize("maximum", [None, 3, 10])
def test_cap_rewrites_only_the_maximum(imported: bool, maximum: int | None) -> None:
    data = grow_module(1, maximum, imported)
    capped = _limits.cap_memory_pages(data, 5)
    expected = 5 if maximum is None else min(maximum, 5)
    assert _limits.memory_limits(capped) == [_limits.MemoryLimits(1, expected, imported)]
    if maximum is not None and maximum <= 5:
        assert capped == data  # nothing to lower: the bytes are untouched


def test_sections_after_the_memory_are_copied_verbatim() -> None:
    for name in ("basic", "tc_probe", "cpu", "libc"):
        data = payload(name).read_bytes()
        capped = _limits.cap_memory_pages(data, 100)
        assert len(capped) - len(data) in range(8)
        assert all(m.maximum is not None and m.maximum <= 100
                   for m in _limits.memory_limits(capped))
        tail = data[-200:]
        assert capped.endswith(tail)


@pytest.mark.parametrize("data, message", [
    (b"\0aot\x03\0\0\0", "bytecode only"),
    (b"\0asm\x02\0\0\0", "unsupported .wasm version"),
    (b"\0asm\x01\0\0\0\x05\x10\x01", "past the end"),
    (b"\0asm\x01\0\0\0\x05\x03\x01\x07\x01", "limits flag"),
    (b"\0asm\x01\0\0\0\x05\x03\x01\x00\x80", "end of section"),
    (b"\0asm\x01\0\0\0\x05\x07\x01\x00\xff\xff\xff\xff\x7f", "too large"),
    (b"\0asm\x01\0\0\0\x05\x04\x01\x00\x01\x00", "trailing bytes"),
    (b"\0asm\x01\0\0\0\x05\x04\x01\x01\x05\x02", "invalid memory limits"),
    (b"\0asm\x01\0\0\0\x0d\x00", "unknown section id 13"),
    (b"\0asm\x01\0\0\0\x02\x06\x01\x00\x00\x09\x00\x00", "unknown import kind"),
    (b"\0asm\x01\0\0\0" + section(5, b"\x01\x00\x01") * 2, "duplicate section"),
    (b"\0asm\x01\0\0\0" + section(5, b"\x01\x00" + leb(70000)), "invalid memory limits"),
])
def test_unparsable_modules_are_refused(data: bytes, message: str) -> None:
    with pytest.raises(pywamr.LoadError, match=message):
        _limits.cap_memory_pages(data, 4)


def test_cap_argument_checks() -> None:
    data = payload("basic").read_bytes()
    with pytest.raises(TypeError):
        _limits.cap_memory_pages(data, True)
    with pytest.raises(TypeError):
        _limits.cap_memory_pages(data, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        _limits.cap_memory_pages(data, 65537)
    with pytest.raises(pywamr.LoadError, match="starts at 1 pages, more than max_memory_pages=0"):
        _limits.cap_memory_pages(data, 0)


def test_rewriter_never_fails_with_anything_but_load_error() -> None:
    rng = random.Random(7)
    seeds = [payload(n).read_bytes() for n in ("basic", "host", "tc_probe", "tc_hook")]
    seeds.append(grow_module(1, None, imported=True))
    outcomes = {"ok": 0, "refused": 0}
    for _ in range(3000):
        data = mutate(rng.choice(seeds), rng, seeds)
        try:
            capped = _limits.cap_memory_pages(data, rng.randrange(0, 70))
        except pywamr.LoadError:
            outcomes["refused"] += 1
            continue
        outcomes["ok"] += 1
        assert all(m.maximum is not None for m in _limits.memory_limits(capped))
    assert outcomes["ok"] > 100 and outcomes["refused"] > 100


# -- WAMR enforces the rewritten maximum -----------------------------------
def test_memory_grow_fails_past_the_cap(runtime: pywamr.Runtime) -> None:
    module = runtime.load(payload("basic"), max_memory_pages=2)
    inst = module.instantiate(heap_size=0)
    assert inst.call("pages") == 1
    assert inst.call("grow", 1) == 1
    assert inst.call("grow", 1) == -1  # as the spec says: no trap
    assert inst.call("pages") == 2 and len(inst.memory) == 2 * PAGE
    assert inst.call("grow", 0) == 2
    inst.close()
    # Without a cap the module's own maximum (4) applies.
    inst = runtime.load(payload("basic")).instantiate(heap_size=0)
    assert inst.call("grow", 3) == 1 and inst.call("grow", 1) == -1
    inst.close()


@pytest.mark.parametrize("imported", [False, True], ids=["defined", "imported"])
def test_cap_applies_without_a_declared_maximum(runtime: pywamr.Runtime, imported: bool) -> None:
    data = grow_module(1, None, imported)
    free = runtime.load(data).instantiate(heap_size=0)
    assert free.call("grow", 100) == 1  # 65536 pages allowed by default
    capped = runtime.load(data, max_memory_pages=3).instantiate(heap_size=0)
    assert capped.call("grow", 3) == -1 and capped.call("grow", 2) == 1
    assert capped.call("grow", 1) == -1 and capped.call("pages") == 3


def test_app_heap_pages_come_on_top(runtime: pywamr.Runtime) -> None:
    inst = runtime.load(payload("basic"), max_memory_pages=2).instantiate(heap_size=64 * 1024)
    assert inst.call("pages") == 2  # 1 page of the module + 1 page of app heap
    assert inst.call("grow", 1) == 2 and inst.call("grow", 1) == -1


def test_initial_size_above_the_cap_is_refused(runtime: pywamr.Runtime) -> None:
    with pytest.raises(pywamr.LoadError, match="max_memory_pages=1"):
        runtime.load(grow_module(2, None, imported=False), max_memory_pages=1)


def test_teaclave_executor_cap(mode: str) -> None:
    heap_pages = teaclave.TEACLAVE_HEAP_SIZE // PAGE
    with teaclave.Executor(payload("tc_hook"), mode=mode, hosts=HOOK,
                           max_memory_pages=4) as executor:
        assert executor.run({}) == 1 + heap_pages  # grow(0): current size
        assert executor.run({"a": 1}) == 1 + heap_pages  # grow(2) fits: 1 + 2 <= 4
        assert executor.run({"a": 1, "b": 2}) == -1  # grow(4) would make 5 pages
    with teaclave.Executor(payload("tc_hook"), mode=mode, hosts=HOOK) as executor:
        assert executor.run({"a": 1, "b": 2}) == 1 + heap_pages


def test_one_shot_caps() -> None:
    assert teaclave.run(example("adder"), {"a": 1, "b": 2}, max_memory_pages=20) == 3
    with pytest.raises(pywamr.LoadError, match="max_memory_pages"):
        teaclave.run(example("adder"), {"a": 1, "b": 2}, max_memory_pages=1)
    # the command line's --max-memory-pages: tests/test_cli.py


# -- stack and app heap ----------------------------------------------------
@pytest.mark.parametrize("stack_size", [4 * 1024, 64 * 1024, 1024 * 1024])
def test_deep_recursion_traps_at_any_stack_size(runtime: pywamr.Runtime, stack_size: int) -> None:
    module = runtime.load(payload("basic"))
    with module.instantiate(stack_size=stack_size, heap_size=0) as inst:
        for _ in range(2):
            with pytest.raises(pywamr.Trap, match="stack overflow"):
                inst.call("recurse", 0)
            assert inst.call("add", 2, 3) == 5


def test_recursion_depth_grows_with_the_stack(runtime: pywamr.Runtime) -> None:
    cpu = runtime.load(payload("cpu"))
    with cpu.instantiate(stack_size=2 * 1024, heap_size=0) as small:
        with pytest.raises(pywamr.Trap, match="stack overflow"):
            small.call("fib", 25)
    with cpu.instantiate(stack_size=64 * 1024, heap_size=0) as big:
        assert big.call("fib", 25) == 75025


@pytest.mark.parametrize("heap_size", [0, 4096, 64 * 1024])
def test_app_heap_too_small_for_the_arguments(heap_size: int) -> None:
    # strict: refused before the call (teaclave: a NULL argv entry, tests/test_teaclave_fidelity.py)
    with teaclave.Executor(example("adder"), heap_size=heap_size, profile="strict") as executor:
        with pytest.raises(MemoryError, match=rf"app heap \({heap_size} bytes\) cannot hold"):
            executor.run({"a": "1" * 100_000, "b": "2"})
    with teaclave.Executor(example("adder"), heap_size=256 * 1024) as executor:
        assert executor.run({"a": "0" * 100_000 + "5", "b": "2"}) == 7  # enough heap: fine
