"""The ``pywamr`` command line: run payloads and inspect modules."""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from typing import Any

from . import (
    MODES,
    WAMR_VERSION,
    __version__,
    _wasi_cli,  # `run` of a WASI command: see _wasi_cli.py
    natives,
)
from ._aot import compile_aot, load_key, unseal
from ._batch_cli import add_batch_command, run_batch
from ._errors import WamrError
from ._file_cli import add_file_command, add_run_options, protect, run_file
from ._lib import DEFAULT_MODE
from ._runtime import Runtime
from ._types import ExternKind
from .teaclave import (
    DEFAULT_POLICY,
    DEFAULT_PROFILE,
    POLICIES,
    PROFILES,
    STRICT_MAX_INVOCATION_BYTES,
    STRICT_MAX_OUTPUT_BYTES,
    TEACLAVE_HEAP_SIZE,
    TEACLAVE_STACK_SIZE,
    Executor,
)
from .teaclave._result import PHASES


def _pairs(values: Sequence[str] | None, flag: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values or ():
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"pywamr: {flag} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def _cap(text: str) -> int | str:
    """A cap option's value: a byte count, or "none" for unbounded."""
    if text.lower() == "none":
        return "none"
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("a cap must be a byte count >= 0, or none")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pywamr", description="Run WebAssembly payloads on "
                                     f"WAMR {WAMR_VERSION} (Teaclave's executor convention).")
    parser.add_argument("--version", action="version",
                        version=f"pywamr {__version__} (WAMR {WAMR_VERSION})")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run a payload's entrypoint and print its result")
    run.add_argument("payload", help="a .wasm file exporting entrypoint(argc, argv)")
    run.add_argument("--arg", action="append", metavar="KEY=VALUE", help="an argument (repeat)")
    run.add_argument("--input", action="append", metavar="FID=PATH", help="an input file")
    run.add_argument("--output", action="append", metavar="FID=PATH", help="an output file")
    run.add_argument("--profile", choices=sorted(PROFILES), default=DEFAULT_PROFILE,
                     help="teaclave: behave as Teaclave's executor; strict: pywamr's checks "
                     "(see docs/teaclave-fidelity.md)")
    run.add_argument("--mode", choices=sorted(MODES),
                     help="default: the profile's (teaclave: 'teaclave', strict: "
                     f"{DEFAULT_MODE!r})")
    run.add_argument("--policy", choices=POLICIES, default=DEFAULT_POLICY,
                     help="what is kept between --repeat runs")
    run.add_argument("--repeat", type=int, default=1, metavar="N",
                     help="run N times and print timing (min/median) on stderr")
    run.add_argument("--timings", action="store_true",
                     help="print a per-phase table (min/median/p95) on stderr")
    run.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="stop a run that takes longer")
    run.add_argument("--stack-size", type=int, default=TEACLAVE_STACK_SIZE)
    run.add_argument("--heap-size", type=int, default=TEACLAVE_HEAP_SIZE)
    run.add_argument("--max-memory-pages", type=int, metavar="N",
                     help="cap the payload's linear memory at N 64 KiB pages (plus the app heap)")
    run.add_argument("--max-output-bytes", type=_cap, metavar="N|none",
                     help="cap bytes written per output (default: the profile's; strict: "
                     f"{STRICT_MAX_OUTPUT_BYTES})")
    run.add_argument("--max-invocation-bytes", type=_cap, metavar="N|none",
                     help="cap bytes written per run over all outputs (default: the "
                     f"profile's; strict: {STRICT_MAX_INVOCATION_BYTES})")

    add_run_options(run)  # --input-crypto / --output-crypto (_file_cli.py)

    inspect = commands.add_parser("inspect", help="list a module's imports and exports")
    inspect.add_argument("payload")
    inspect.add_argument("--mode", choices=sorted(MODES), default=DEFAULT_MODE)

    # AOT (see _aot.py)
    compile_ = commands.add_parser("compile", help="compile a .wasm ahead of time into a "
                                   "pywamr AOT container (integrity-checked when loaded)")
    compile_.add_argument("payload", help="a .wasm file")
    compile_.add_argument("-o", "--output", required=True, metavar="OUT.aot")
    compile_.add_argument("--opt-level", type=int, default=3, choices=range(4))
    compile_.add_argument("--size-level", type=int, default=3, choices=range(4))
    compile_.add_argument("--cpu", help="x86-64-v2 (default, portable), x86-64-v3, x86-64-v4, "
                          "or host (the best level this CPU has)")
    compile_.add_argument("--target", help="target architecture (default: this machine's)")
    add_file_command(commands)  # pywamr file: Teaclave's encrypted formats (_file_cli.py)
    add_batch_command(commands)  # pywamr batch: manifests on a Dask cluster (_batch_cli.py)
    return parser


def _compile(args: argparse.Namespace) -> int:
    container = compile_aot(args.payload, opt_level=args.opt_level, size_level=args.size_level,
                            target=args.target, cpu=args.cpu)
    with open(args.output, "wb") as handle:
        handle.write(container)
    meta = unseal(container, load_key())[0]
    print(f"{args.output}: {len(container)} bytes, target {meta['target']}, cpu {meta['cpu']}, "
          f"opt level {meta['opt_level']}")
    return 0


def _percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _run(args: argparse.Namespace) -> int:
    if args.repeat < 1:
        raise SystemExit("pywamr: --repeat must be at least 1")
    arguments = _pairs(args.arg, "--arg")
    inputs = protect(_pairs(args.input, "--input"), args.input_crypto, "--input-crypto")
    outputs = protect(_pairs(args.output, "--output"), args.output_crypto, "--output-crypto")
    caps: dict[str, Any] = {}
    for name in ("max_output_bytes", "max_invocation_bytes"):
        value = getattr(args, name)  # None: the profile's default; "none": unbounded
        if value is not None:
            caps[name] = None if value == "none" else value
    with Executor(args.payload, profile=args.profile, mode=args.mode, policy=args.policy,
                  stack_size=args.stack_size, heap_size=args.heap_size, timeout=args.timeout,
                  max_memory_pages=args.max_memory_pages, **caps) as executor:
        elapsed: list[int] = []
        phases: dict[str, list[int]] = {}
        for _ in range(args.repeat):
            start = time.perf_counter_ns()
            result = executor.invoke(arguments, inputs, outputs, timings=args.timings)
            elapsed.append(time.perf_counter_ns() - start)
            for phase, ns in (result.timings or {}).items():
                phases.setdefault(phase, []).append(ns)
            if result.trap is not None:
                break
    sys.stdout.buffer.write(result.stdout)
    for error in result.file_errors:
        print(f"pywamr: file API: {error}", file=sys.stderr)
    for fid, tag in result.output_tags.items():
        print(f"pywamr: output {fid} tag {tag.hex()}", file=sys.stderr)
    if args.repeat > 1:
        print(f"pywamr: {len(elapsed)} runs: min {min(elapsed) / 1e3:.1f} µs, "
              f"median {statistics.median(elapsed) / 1e3:.1f} µs", file=sys.stderr)
    if args.timings:
        print(f"{'phase':<18}{'min µs':>12}{'median µs':>12}{'p95 µs':>12}", file=sys.stderr)
        for phase in PHASES:
            if phase in phases:
                values = phases[phase]
                print(f"{phase:<18}{min(values) / 1e3:>12.1f}"
                      f"{statistics.median(values) / 1e3:>12.1f}"
                      f"{_percentile(values, 0.95) / 1e3:>12.1f}", file=sys.stderr)
    if result.trap is not None:
        print(f"pywamr: trap: {result.trap}", file=sys.stderr)
        return 3 if result.timed_out else 2
    print(result.summary)
    if result.error is not None:  # the payload returned, but the task failed
        print(f"pywamr: task failed: {result.error}", file=sys.stderr)
        return 4
    return 0


def _inspect(args: argparse.Namespace) -> int:
    with Runtime(args.mode) as runtime:
        runtime.register_hosts("env", natives.FILE_API)
        module = runtime.load(args.payload, allow_unresolved=True)
        print(f"{args.payload}: {module.kind} module")
        print("imports:")
        for imp in module.imports:
            detail = f" {imp.type}" if imp.type else ""
            provider = f"  [{imp.provider or 'unresolved'}]" if imp.kind is ExternKind.FUNC else ""
            print(f"  {imp.kind!s:<7} {imp.module}.{imp.name}{detail}{provider}")
        print("exports:")
        for exp in module.exports:
            detail = f" {exp.type}" if exp.type else ""
            print(f"  {exp.kind!s:<7} {exp.name}{detail}")
        module.close()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if _wasi_cli.handles(argv):
        return _wasi_cli.main(argv[1:])
    args = _parser().parse_args(argv)
    try:
        return {"run": _run, "inspect": _inspect, "compile": _compile,
                "file": run_file, "batch": run_batch}[args.command](args)
    except (WamrError, OSError, ValueError, TypeError) as exc:
        print(f"pywamr: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
