#!/usr/bin/env python3
"""Generate a large Teaclave-style payload: a few MB of code, deterministic.

``python tools/gen_large_module.py OUT.wasm [--functions N]`` writes a module
with N arithmetic functions (about 160 bytes of code each) plus
``entrypoint(argc, argv)``, which chains eight of them over ``argc`` and
returns the result, and an exported memory.  It imports nothing, so every
engine can run it; it exists to measure load/compile cost at scale.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pywamr._wasm_encoding import leb_s, leb_u, name, section, vec

I32 = 0x7F


def worker_body(k: int) -> bytes:
    """f_k(x): x mixed with k through twenty add/mul/xor/rotl steps."""
    code = bytearray()
    code += b"\x20\x00"  # local.get 0
    for step in range(20):
        code += b"\x41" + leb_s((k * 31 + step * 7) % 1000 + 1)  # i32.const
        code += bytes([(0x6A, 0x6C, 0x73, 0x77)[step % 4]])  # add, mul, xor, rotl
    code += b"\x0b"
    return vec([]) + bytes(code)  # no locals


def entry_body(count: int) -> bytes:
    code = bytearray(b"\x20\x00")  # local.get 0 (argc)
    for i in range(8):
        code += b"\x10" + leb_u((i * 2654435761) % count)  # call f_(spread)
    code += b"\x0b"
    return vec([]) + bytes(code)


def generate(functions: int = 40000) -> bytes:
    """The module's bytes."""
    types = vec([b"\x60" + vec([bytes([I32])]) + vec([bytes([I32])]),
                 b"\x60" + vec([bytes([I32]), bytes([I32])]) + vec([bytes([I32])])])
    funcs = vec([leb_u(0)] * functions + [leb_u(1)])
    memory = vec([b"\x00" + leb_u(1)])
    exports = vec([name("memory") + b"\x02" + leb_u(0),
                   name("entrypoint") + b"\x00" + leb_u(functions)])
    bodies = [worker_body(k) for k in range(functions)] + [entry_body(functions)]
    code = vec([leb_u(len(body)) + body for body in bodies])
    return (b"\0asm\1\0\0\0" + section(1, types) + section(3, funcs) + section(5, memory)
            + section(7, exports) + section(10, code))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--functions", type=int, default=40000)
    args = parser.parse_args(argv)
    data = generate(args.functions)
    args.out.write_bytes(data)
    print(f"{args.out}: {len(data)} bytes, {args.functions + 1} functions")
    return 0


if __name__ == "__main__":
    sys.exit(main())
