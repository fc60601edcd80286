#!/usr/bin/env python3
"""Fuzz pywamr's WASI layer: random arguments to every preview-1 function.

Runs ``wasi_probe fuzz SEED CALLS`` (tests/payloads/src/wasi_probe.c) for a
range of seeds, in worker processes of BATCH seeds each, against a sandbox
tree (a preopen with symlinks planted to a secret next to it, and a second
preopen).  A worker that dies (a signal) or fails (a Python exception) is
re-run seed by seed to name the seed; afterwards the secret must be intact
and nothing may have appeared outside the preopens.

Usage: ``nice -n 19 python tools/fuzz_wasi.py [--seeds 0:2000] [--calls 300]
[--mode fast-interp] [--batch 100]``.  Reproduce one seed with
``--seeds S:S+1 --trace`` (prints every call before it is made).  Exit status
1 if a seed crashed or the sandbox was breached.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

WORKER = """
import json, sys
sys.path.insert(0, {tests!r})
import pywamr
from wasi_helpers import PROBE, fuzz_run
first, last, calls, mode, preopens = json.loads(sys.argv[1])
module = pywamr.Runtime(mode).load(PROBE)
made = traps = 0
for seed in range(first, last):
    n, trapped = fuzz_run(module, seed, calls, preopens)
    made, traps = made + n, traps + trapped
print(json.dumps([made, traps]))
"""


def run_batch(first: int, last: int, calls: int, mode: str,
              preopens: dict[str, str]) -> tuple[int, int] | str:
    """(calls made, traps) of seeds [first, last) in one process, or what went
    wrong: "signal N" if it died, the last line of a Python error otherwise."""
    code = WORKER.format(tests=str(ROOT / "tests"))
    proc = subprocess.run([sys.executable, "-c", code,
                           json.dumps([first, last, calls, mode, preopens])],
                          capture_output=True, text=True, timeout=3600, check=False)
    if proc.returncode < 0:
        return f"signal {-proc.returncode}"
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or [f"exit status {proc.returncode}"])[-1]
    made, traps = json.loads(proc.stdout.strip().splitlines()[-1])
    return made, traps


def main(argv: list[str] | None = None) -> int:
    from wasi_helpers import sandbox_tree

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="0:2000", help="FIRST:LAST (LAST excluded)")
    ap.add_argument("--calls", type=int, default=300, help="random calls per seed")
    ap.add_argument("--mode", default="fast-interp")
    ap.add_argument("--batch", type=int, default=100, help="seeds per worker process")
    ap.add_argument("--trace", action="store_true", help="print each call (one seed)")
    args = ap.parse_args(argv)
    first, last = (int(x) for x in args.seeds.split(":"))
    with tempfile.TemporaryDirectory(prefix="pywamr-fuzz-wasi-") as tmp:
        root = Path(tmp)
        preopens = sandbox_tree(root)
        if args.trace:
            from wasi_helpers import PROBE

            import pywamr

            module = pywamr.Runtime(args.mode).load(PROBE)
            for seed in range(first, last):
                config = pywamr.WasiConfig(argv=["p", "fuzz", str(seed), str(args.calls),
                                                 "trace"], preopens=preopens,
                                           stdout=pywamr.Stdio.INHERIT)
                with module.instantiate(wasi=config) as inst:
                    try:
                        inst.run()
                    except pywamr.Trap as exc:
                        print(f"trap: {exc}")
            return 0
        start = time.monotonic()
        made = traps = 0
        failed: dict[int, str] = {}
        for batch_first in range(first, last, args.batch):
            batch_last = min(last, batch_first + args.batch)
            result = run_batch(batch_first, batch_last, args.calls, args.mode, preopens)
            if isinstance(result, str):  # find the seed(s) that fail, one process each
                for seed in range(batch_first, batch_last):
                    one = run_batch(seed, seed + 1, args.calls, args.mode, preopens)
                    if isinstance(one, str):
                        failed[seed] = one
                    else:
                        made, traps = made + one[0], traps + one[1]
            else:
                made, traps = made + result[0], traps + result[1]
        breached = (sorted(os.listdir(root)) != ["other", "pre", "secret.txt"]
                    or (root / "secret.txt").read_text() != "the secret")
        print(f"fuzz_wasi: mode {args.mode}, seeds {first}:{last}, {made} calls, "
              f"{traps} runs ended by a trap, failed seeds: {failed or 'none'}, "
              f"sandbox {'BREACHED' if breached else 'intact'}, "
              f"{time.monotonic() - start:.0f} s")
        return 1 if failed or breached else 0


if __name__ == "__main__":
    sys.exit(main())
