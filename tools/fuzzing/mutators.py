"""Mutations of wasm modules: byte-level, interesting LEB128 values, and section-aware ones
that keep the section framing valid (mutate inside a section, drop, duplicate, swap, splice
sections between modules). Every choice comes from the given RNG, so inputs can be made again.
"""

from __future__ import annotations

import random

from pywamr._wasm_encoding import join_sections, split_sections
from pywamr._wasm_encoding import leb_u as leb


def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    op = rng.randrange(9)
    pos = rng.randrange(len(buf)) if buf else 0
    if not buf:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    if op == 0:
        buf[pos] ^= 1 << rng.randrange(8)
    elif op == 1:
        buf[pos] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x40, rng.randrange(256)])
    elif op == 2:
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif op == 3:
        del buf[pos:pos + rng.randint(1, 32)]
    elif op == 4:
        n = rng.randint(1, 64)
        buf[pos:pos] = buf[pos:pos + n]
    elif op == 5:
        del buf[pos:]
    elif op == 6:  # an interesting LEB128 over what is there
        value = rng.choice([0, 0x7F, 0x80, 0x3FFF, 0x4000, 65536, 65537, 0xFFFFFFFF,
                            rng.randrange(1 << 32)])
        enc = leb(value)
        if rng.random() < 0.3:  # padded, non-minimal form
            enc = bytes(b | 0x80 for b in enc) + b"\x00"
        buf[pos:pos + len(enc)] = enc
    elif op == 7:
        for _ in range(rng.randint(2, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    else:
        i, j = sorted(rng.randrange(len(buf)) for _ in range(2))
        buf[i:j] = bytes(reversed(buf[i:j]))
    return bytes(buf)


def mutate_sections(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    sections = split_sections(data)
    if not sections:
        return mutate_bytes(data, rng)
    op = rng.randrange(7)
    i = rng.randrange(len(sections))
    sid, body = sections[i]
    if op <= 2:  # mutate inside a section and keep its size right
        sections[i] = (sid, mutate_bytes(body, rng))
    elif op == 3:
        del sections[i]
    elif op == 4:
        sections.insert(rng.randrange(len(sections) + 1), sections[i])
    elif op == 5:  # splice a section of the same id from another module
        other = split_sections(rng.choice(seeds)) or []
        same = [s for s in other if s[0] == sid] or other
        if same:
            sections[i] = rng.choice(same)
    else:
        j = rng.randrange(len(sections))
        sections[i], sections[j] = sections[j], sections[i]
    return join_sections(data[:8], sections)


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    for _ in range(rng.choice([1, 1, 1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.8:
            data = mutate_sections(data, rng, seeds)
        else:
            data = mutate_bytes(data, rng)
    return data
