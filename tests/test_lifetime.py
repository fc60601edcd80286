"""Lifetimes: repeated instantiate/close keeps memory flat."""

from __future__ import annotations

import gc
import resource
from pathlib import Path

from helpers import payload

import pywamr


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def test_100k_instantiate_close_cycles_stay_flat(mode: str) -> None:
    with pywamr.Runtime(mode) as rt:
        module = rt.load(payload("basic"))
        for _ in range(2000):  # warm up allocator pools
            module.instantiate(heap_size=0).close()
        gc.collect()
        before = _rss_kib()
        for i in range(100_000):
            inst = module.instantiate(heap_size=0)
            if i % 1000 == 0:
                assert inst.call("add", i, 1) == i + 1
            inst.close()
        gc.collect()
        growth = _rss_kib() - before
        module.close()
    assert growth < 8 * 1024, f"RSS grew by {growth} KiB over 100k cycles"


def test_load_close_cycles_stay_flat(mode: str) -> None:
    data = payload("cpu").read_bytes()
    with pywamr.Runtime(mode) as rt:
        for _ in range(200):
            rt.load(data).close()
        gc.collect()
        before = _rss_kib()
        for _ in range(5000):
            module = rt.load(data)
            module.instantiate().close()
            module.close()
        gc.collect()
        growth = _rss_kib() - before
    assert growth < 8 * 1024, f"RSS grew by {growth} KiB over 5000 loads"


def test_every_policy_keeps_memory_flat() -> None:
    from pywamr import teaclave

    adder = (Path(__file__).parent.parent / "examples" / "payloads" / "wasm" / "adder.wasm")
    teaclave.clear_cache()
    for policy in teaclave.POLICIES:
        with teaclave.Executor(adder, mode="classic-interp", policy=policy,
                               heap_size=64 * 1024) as executor:
            for _ in range(300):
                executor.run({"a": 1, "b": 2})
            gc.collect()
            before = _rss_kib()
            for _ in range(3000):
                assert executor.run({"a": 1, "b": 2}) == 3
            gc.collect()
            growth = _rss_kib() - before
        assert growth < 4 * 1024, f"{policy}: RSS grew by {growth} KiB over 3000 invocations"
