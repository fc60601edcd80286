"""Bounded fuzzing of module loading: mutated modules load or raise LoadError."""

from __future__ import annotations

import random

from conftest import example, payload

import pywamr

SEEDS = ["basic", "host", "cpu", "libc", "unresolved"]


def mutate(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        op = rng.random()
        pos = rng.randrange(len(buf)) if buf else 0
        if op < 0.5 and buf:
            buf[pos] = rng.randrange(256)
        elif op < 0.7 and buf:
            del buf[pos:pos + rng.randint(1, 16)]
        elif op < 0.85:
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        elif buf:
            buf = buf[:pos]
    return bytes(buf)


def test_mutated_modules_load_or_raise(mode: str) -> None:
    rng = random.Random(20261121)
    seeds = [payload(n).read_bytes() for n in SEEDS] + [example("adder").read_bytes()]
    loaded = rejected = 0
    with pywamr.Runtime(mode) as rt:
        for _ in range(600):
            data = mutate(rng.choice(seeds), rng)
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
