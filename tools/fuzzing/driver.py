"""The driver: worker subprocesses per batch, progress over a pipe, crashes saved and
replayed, the atheris engine, and the command line (``python tools/fuzz.py``)."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import select
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path

from . import __doc__ as PACKAGE_DOC
from .corpus import ROOT
from .encoding import from_json, to_json
from .mutators import mutate
from .targets import MODES, TARGETS, Finding, LoadTarget, make_case

FUZZ_SCRIPT = Path(__file__).resolve().parent.parent / "fuzz.py"  # the entry point
STALL_SECONDS = 60.0  # no progress for this long: the worker is hung


def worker(args: argparse.Namespace) -> int:
    target = TARGETS[args.target]()
    report = os.fdopen(args.report_fd, "w", buffering=1)
    stats: Counter[str] = Counter()
    done = 0
    try:
        for index in range(args.start, args.count):
            if args.until and time.time() > args.until:
                break
            case = make_case(target, args.seed, index)
            report.write(f"I {index}\n")
            try:
                target.execute(case, stats)
            except Finding as finding:
                report.write(f"F {index} {json.dumps(str(finding))}\n")
            except BaseException as exc:  # noqa: BLE001 - a rule broken
                text = "".join(traceback.format_exception(exc))[-3000:]
                report.write(f"F {index} {json.dumps(text)}\n")
            done += 1
    finally:
        target.close()
        report.write(f"D {done} {json.dumps(dict(stats))}\n")
        report.close()
    return 0


def replay(path: Path) -> int:
    case = from_json(json.loads(path.read_text()))
    target = TARGETS[case["target"]]()
    stats: Counter[str] = Counter()
    try:
        target.execute(case, stats)
    except Finding as finding:
        print(f"finding: {finding}")
        return 1
    finally:
        target.close()
    print(f"no crash: {dict(stats)}")
    return 0


class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.target = TARGETS[args.target]()
        self.crashes_dir = Path(args.crashes)
        self.stats: Counter[str] = Counter()
        self.inputs = 0
        self.workers = 0
        self.found: list[Path] = []

    def save(self, kind: str, index: int, seed: int, detail: str) -> Path:
        case = make_case(self.target, seed, index)
        self.crashes_dir.mkdir(parents=True, exist_ok=True)
        stem = self.crashes_dir / f"{self.target.name}-{seed}-{index}"
        path = stem.with_suffix(".json")
        path.write_text(json.dumps(to_json(case), indent=1))
        if "wasm" in case:
            stem.with_suffix(".wasm").write_bytes(case["wasm"])
        reproduced = ""
        if kind == "crash":
            again = subprocess.run([sys.executable, str(FUZZ_SCRIPT), "--replay", str(path)],
                                   capture_output=True, text=True, timeout=120, check=False)
            reproduced = f"replayed alone: exit status {again.returncode}\n"
        stem.with_suffix(".txt").write_text(
            f"{kind} in target {self.target.name}, seed {seed}, input {index}\n{reproduced}"
            f"replay: python tools/fuzz.py --replay {path}\n\n{detail}\n")
        self.found.append(path)
        print(f"[{self.target.name}] {kind.upper()} at seed {seed} input {index}: saved {path}",
              flush=True)
        return path

    def run_batch(self, seed: int, start: int, until: float) -> int | None:
        """Run one worker; returns the index to resume at, or None when done."""
        read_fd, write_fd = os.pipe()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the worker
        cmd = [sys.executable, str(FUZZ_SCRIPT), "--worker", "--target", self.target.name,
               "--seed", str(seed), "--start", str(start), "--count", str(self.args.batch),
               "--report-fd", str(write_fd), "--until", str(until)]
        proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
        os.close(write_fd)
        self.workers += 1
        last: int | None = None
        finished = False
        buffer = b""
        reader = os.fdopen(read_fd, "rb", buffering=0)
        while True:
            ready, _, _ = select.select([reader], [], [], STALL_SECONDS)
            if not ready:
                proc.kill()
                break
            chunk = reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                kind, _, rest = raw.decode().partition(" ")
                if kind == "I":
                    last = int(rest)
                    self.inputs += 1
                elif kind == "F":
                    index, _, text = rest.partition(" ")
                    self.save("finding", int(index), seed, json.loads(text))
                elif kind == "D":
                    _, _, stats = rest.partition(" ")
                    self.stats.update(json.loads(stats))
                    finished = True
        reader.close()
        code = proc.wait()
        log.seek(0)
        tail = log.read()[-4000:].decode(errors="replace")
        log.close()
        if finished and code == 0:
            return None
        if last is None:
            raise SystemExit(f"fuzz worker failed before its first input (status {code}):\n"
                             f"{tail}")
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        if not finished and code == -9:
            how = f"no progress for {STALL_SECONDS:.0f} s (killed)"
        self.stats["crashes"] += 1
        self.save("crash", last, seed, f"worker died: {how}\n--- worker output ---\n{tail}")
        return last + 1

    def run(self) -> int:
        args = self.args
        start_time = time.time()
        until = start_time + args.seconds
        seed = args.seed
        last_report = start_time
        while time.time() < until and (not args.max_inputs or self.inputs < args.max_inputs):
            start: int | None = 0
            while start is not None and start < args.batch and time.time() < until:
                start = self.run_batch(seed, start, until)
            seed += 1
            if time.time() - last_report > 30 or time.time() >= until:
                last_report = time.time()
                self.progress(start_time)
        self.progress(start_time)
        summary = {"target": self.target.name, "seconds": round(time.time() - start_time, 1),
                   "inputs": self.inputs, "workers": self.workers,
                   "seeds": f"{args.seed}..{seed - 1}", "found": [str(p) for p in self.found],
                   "outcomes": dict(sorted(self.stats.items()))}
        print(json.dumps(summary, indent=1))
        return 1 if self.found else 0

    def progress(self, start_time: float) -> None:
        elapsed = time.time() - start_time
        print(f"[{self.target.name}] {elapsed:7.1f}s inputs={self.inputs} "
              f"({self.inputs / max(elapsed, 1e-9):.0f}/s) workers={self.workers} "
              f"found={len(self.found)}", flush=True)


def run_atheris(args: argparse.Namespace, extra: list[str]) -> int:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("--engine atheris needs `pip install atheris`") from None
    target = LoadTarget()

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        choice = fdp.ConsumeIntInRange(0, 255)
        wasm = fdp.ConsumeBytes(fdp.remaining_bytes())
        if choice < 128:  # mutate a corpus module with the remaining bytes as a seed
            wasm = mutate(target.seeds[choice % len(target.seeds)],
                          random.Random(hashlib.sha256(wasm).digest()), target.seeds)
        case = {"wasm": wasm, "mode": MODES[choice % 2], "max_memory_pages": 64,
                "allow_unresolved": True, "stack_size": 64 * 1024, "heap_size": 4096,
                "exec_seed": choice}
        target.execute(case, Counter())

    import pywamr  # noqa: F401 - loaded before instrumenting

    # Coverage of the Python layer (the limits rewriter, the bridge wrappers) guides
    # libFuzzer; the native code is not instrumented.
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *extra], one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=(PACKAGE_DOC or "").splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="load")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-inputs", type=int, default=0, help="stop after this many")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--batch", type=int, default=2000, help="inputs per worker process")
    parser.add_argument("--crashes", default=str(ROOT / "crashes"),
                        help="where crashing inputs are saved (default: crashes/)")
    parser.add_argument("--replay", type=Path, help="run one saved input in this process")
    parser.add_argument("--engine", choices=["random", "atheris"], default="random")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.worker:
        return worker(args)
    if args.engine == "atheris":
        return run_atheris(args, extra)
    print(f"[{args.target}] seed {args.seed}, {args.seconds:g} s, batches of {args.batch}, "
          f"crashes to {args.crashes}", flush=True)
    return Driver(args).run()


if __name__ == "__main__":
    sys.exit(main())
