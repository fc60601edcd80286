"""Two AOT compilations of the CPU kernels, side by side in one process.

How a change to the AOT compiler (a WAMR patch) affects the speed of compiled code:
compile ``tests/payloads/wasm/cpu.wasm`` with each build, then time both containers
here, alternating rounds, in CPU time (``time.process_time``, fair on a loaded machine)::

    pywamr compile tests/payloads/wasm/cpu.wasm -o before.aot     # with the old build
    pywamr compile tests/payloads/wasm/cpu.wasm -o after.aot      # with the new build
    python -m bench.aot_ab before.aot after.aot [--rounds 11]

Prints each kernel's median per build and the ratio after/before.  Identical
containers (``cmp``) mean identical machine code: the ratio is then noise.
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import time
from pathlib import Path

import pywamr

SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
SHA_ROUNDS = 20000
# kernel -> (export, argument, expected result or None)
KERNELS: dict[str, tuple[str, int, int | None]] = {
    "fib": ("fib", 32, 2178309),
    "sieve": ("sieve", 1 << 20, 82025),
    "matmul": ("matmul", 128, None),
    "sha256": ("sha256_loop", SHA_ROUNDS,
               int.from_bytes(hashlib.sha256(SHA_MSG * SHA_ROUNDS).digest()[:4], "big")),
}


def compare(before: Path, after: Path, rounds: int) -> list[tuple[str, float, float]]:
    """(kernel, median seconds before, median seconds after) for each kernel."""
    runtime = pywamr.Runtime("aot")
    instances = [runtime.load(path.read_bytes()).instantiate(stack_size=160 * 1024)
                 for path in (before, after)]
    rows = []
    for name, (export, arg, expected) in KERNELS.items():
        times: list[list[float]] = [[], []]
        results: list[object] = [None, None]
        for round_ in range(rounds):
            for k in ((0, 1) if round_ % 2 == 0 else (1, 0)):
                start = time.process_time()
                results[k] = instances[k].call(export, arg)
                times[k].append(time.process_time() - start)
        got = results[0] & 0xFFFFFFFF if isinstance(results[0], int) else results[0]
        if results[0] != results[1] or (expected is not None and got != expected):
            raise SystemExit(f"{name}: results differ: {results} (expected {expected})")
        rows.append((name, statistics.median(times[0]), statistics.median(times[1])))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--rounds", type=int, default=11)
    args = parser.parse_args()
    same = args.before.read_bytes() == args.after.read_bytes()
    print(f"containers {'identical' if same else 'differ'}; CPU time, median of "
          f"{args.rounds} rounds")
    for name, old, new in compare(args.before, args.after, args.rounds):
        print(f"{name:8s} before {old * 1e3:8.2f} ms  after {new * 1e3:8.2f} ms  "
              f"after/before {new / old:.3f}")


if __name__ == "__main__":
    main()
