#!/usr/bin/env python3
"""Start-up and reuse costs, phase by phase: cold vs every reuse policy.

Invokes a Teaclave payload under each lifecycle policy (``cold`` is Teaclave's own sequence:
WAMR init, load, instantiate, call, destroy, every time) and prints the median of each phase
and of the whole invocation, with what each policy saves against ``cold``.

    python examples/startup_reuse.py [--payload PATH.wasm] [--invocations N] [--mode M]
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import pywamr
from pywamr import teaclave
from pywamr.teaclave._result import PHASES

ADDER = Path(__file__).resolve().parent / "payloads" / "wasm" / "adder.wasm"


def measure(payload: Path, mode: str, policy: str, invocations: int) -> dict[str, float]:
    """Median microseconds per phase, plus "total", over ``invocations`` invocations."""
    samples: list[dict[str, int]] = []
    with teaclave.Executor(payload, mode=mode, policy=policy) as executor:
        for _ in range(invocations):
            result = executor.invoke({"a": 1, "b": 2}, timings=True)
            assert result.ok and result.timings is not None, result.summary
            samples.append(result.timings)
    medians = {phase: statistics.median(s.get(phase, 0) for s in samples) / 1000
               for phase in PHASES if any(phase in s for s in samples)}
    medians["total"] = statistics.median(sum(s.values()) for s in samples) / 1000
    return medians


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payload", type=Path, default=ADDER)
    parser.add_argument("--invocations", type=int, default=200)
    parser.add_argument("--mode", default="fast-interp", choices=pywamr.MODES)
    args = parser.parse_args(argv)
    results = {policy: measure(args.payload, args.mode, policy, args.invocations)
               for policy in teaclave.POLICIES}
    cold = results["cold"]["total"]
    print(f"{args.payload.name}, {args.mode}, medians of {args.invocations} invocations (us)")
    print(f"{'phase':18}" + "".join(f"{policy:>16}" for policy in results))
    for phase in (*PHASES, "total"):
        cells = [f"{r[phase]:16.1f}" if phase in r else f"{'-':>16}" for r in results.values()]
        print(f"{phase:18}" + "".join(cells))
    savings = (f"{cold / r['total']:15.1f}x" for r in results.values())
    print(f"{'cold / policy':18}" + "".join(savings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
