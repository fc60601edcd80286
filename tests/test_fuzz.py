"""Bounded fuzzing of module loading, in process: mutated modules load or raise LoadError.

The mutations are the fuzzer's own (tools/fuzzing/mutators.py); the long, crash-isolated
runs are tools/fuzz.py (tests/test_fuzz_teaclave.py runs it briefly).
"""

from __future__ import annotations

import random

from fuzzing.mutators import mutate
from helpers import example, payload

import pywamr

SEEDS = ["basic", "host", "cpu", "libc", "unresolved"]


def test_mutated_modules_load_or_raise(mode: str) -> None:
    rng = random.Random(20261121)
    seeds = [payload(n).read_bytes() for n in SEEDS] + [example("adder").read_bytes()]
    loaded = rejected = 0
    with pywamr.Runtime(mode) as rt:
        for _ in range(600):
            data = mutate(rng.choice(seeds), rng, seeds)
            try:
                module = rt.load(data, allow_unresolved=True)
            except pywamr.LoadError as exc:
                assert str(exc)
                rejected += 1
                continue
            loaded += 1
            try:
                module.instantiate(heap_size=4096).close()
            except pywamr.InstantiationError:
                pass
            module.close()
    assert rejected > 100 and loaded + rejected == 600
