#!/usr/bin/env python3
"""Benchmark a Teaclave payload production-like: a file-processing payload, many invocations.

Runs the ``wordcount`` example payload (copies its input file to its output and counts the
lines) the way Teaclave's executor does, in each mode, and reports invocations per second and
throughput. Every invocation's output is checked against the input.

    python examples/teaclave_benchmark.py [--size-kib N] [--invocations N] [--modes M ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import pywamr
from pywamr import teaclave

PAYLOAD = Path(__file__).resolve().parent / "payloads" / "wasm" / "wordcount.wasm"


def measure(mode: str, source: Path, target: Path, invocations: int) -> list[float]:
    """Seconds per invocation; each output is verified."""
    expected = source.read_bytes()
    seconds: list[float] = []
    with teaclave.Executor(PAYLOAD, mode=mode) as executor:   # default policy: reuse-instance
        for _ in range(invocations):
            target.unlink(missing_ok=True)
            start = time.perf_counter()
            lines = executor.run({}, inputs={"input": source}, outputs={"output": target})
            seconds.append(time.perf_counter() - start)
            assert lines == expected.count(b"\n") and target.read_bytes() == expected
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-kib", type=int, default=1024, help="input size (default 1024)")
    parser.add_argument("--invocations", type=int, default=20)
    modes = [m for m in pywamr.MODES if m != "aot" or pywamr.aot_available()]
    parser.add_argument("--modes", nargs="+", default=modes, choices=pywamr.MODES)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source, target = Path(tmp) / "input.txt", Path(tmp) / "output.txt"
        source.write_bytes(os.urandom(args.size_kib * 1024))
        print(f"wordcount over {args.size_kib} KiB, {args.invocations} invocations per mode")
        print(f"{'mode':15} {'median ms':>10} {'invocations/s':>14} {'MB/s':>8}")
        for mode in args.modes:
            median = statistics.median(measure(mode, source, target, args.invocations))
            print(f"{mode:15} {median * 1e3:10.2f} {1 / median:14.1f} "
                  f"{args.size_kib * 1024 / median / 1e6:8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
