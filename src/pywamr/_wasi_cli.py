"""``pywamr run PROGRAM.wasm [ARGS...]`` for WASI commands, iwasm-style.

``cli.py`` hands a ``run`` over to this module when the program imports WASI
(or ``--wasi`` forces it); Teaclave payloads keep their own ``run``.  Options
follow WAMR's ``iwasm`` so tools built around it can drive pywamr:
``--env=NAME=VALUE``, ``--dir=DIR``, ``--map-dir=GUEST::HOST`` (each
repeatable), ``--stack-size=N``, ``--heap-size=N``; everything after the
program path goes to the program (its ``argv[0]`` is the path, as in iwasm).
stdin, stdout and stderr pass through; the exit status is the program's exit
code.  A trap prints WAMR's message (``Exception: ...``) on stderr and exits
with status 1, like iwasm.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import MODES
from ._errors import Timeout, Trap, WamrError
from ._lib import DEFAULT_MODE
from ._module import DEFAULT_HEAP_SIZE, DEFAULT_STACK_SIZE
from ._runtime import Runtime
from ._source import read_source
from ._wasi import WasiConfig, wasm_imports_wasi
from ._wasi_command import load_program

TRAP_STATUS = 1
# Options of either `run` (Teaclave's or this one) that take a separate value.
_VALUED = {"--arg", "--input", "--output", "--mode", "--policy", "--repeat", "--timeout",
           "--stack-size", "--heap-size", "--max-memory-pages", "--env", "--dir", "--map-dir"}


def handles(argv: Sequence[str]) -> bool:
    """Whether ``pywamr ARGV`` is a ``run`` of a WASI command."""
    if len(argv) < 2 or argv[0] != "run":
        return False
    rest = list(argv[1:])
    i = 0
    while i < len(rest):
        token = rest[i]
        if token == "--wasi":
            return True
        if token.startswith("-"):
            i += 2 if token in _VALUED else 1
            continue
        try:
            with open(token, "rb") as handle:
                return bool(wasm_imports_wasi(handle.read()))
        except OSError:
            return False
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pywamr run", description="Run a WASI command (iwasm-compatible options).")
    parser.add_argument("--wasi", action="store_true",
                        help="treat PROGRAM as a WASI command (needed for AOT containers)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="an environment variable for the program (repeatable)")
    parser.add_argument("--dir", action="append", default=[], metavar="DIR",
                        help="give the program DIR, under the same name (repeatable)")
    parser.add_argument("--map-dir", action="append", default=[], metavar="GUEST::HOST",
                        help="give the program directory HOST under the name GUEST (repeatable)")
    parser.add_argument("--stack-size", type=int, default=DEFAULT_STACK_SIZE, metavar="N",
                        help=f"wasm stack in bytes (default {DEFAULT_STACK_SIZE})")
    parser.add_argument("--heap-size", type=int, default=DEFAULT_HEAP_SIZE, metavar="N",
                        help=f"app heap in bytes (default {DEFAULT_HEAP_SIZE})")
    parser.add_argument("--mode", choices=sorted(MODES), default=DEFAULT_MODE)
    parser.add_argument("--timeout", type=float, metavar="SECONDS",
                        help="stop the program after this long (status 1)")
    parser.add_argument("--max-memory-pages", type=int, metavar="N",
                        help="cap linear memory at N 64 KiB pages (plus the app heap)")
    parser.add_argument("program", help="a .wasm WASI command (or pywamr AOT container)")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="the program's arguments")
    return parser


def _config(args: argparse.Namespace) -> WasiConfig:
    env: dict[str, str] = {}
    for item in args.env:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise SystemExit(f"pywamr: --env expects NAME=VALUE, got {item!r}")
        env[name] = value
    preopens: dict[str, str] = {}
    for directory in args.dir:
        preopens[directory] = directory
    for item in args.map_dir:
        guest, sep, host = item.partition("::")
        if not sep or not guest or not host:
            raise SystemExit(f"pywamr: --map-dir expects GUEST::HOST, got {item!r}")
        preopens[guest] = host
    return WasiConfig.inherit([args.program, *args.args], env=env, preopens=preopens)


def main(argv: Sequence[str]) -> int:
    """Run the command; the process exit status."""
    args = _parser().parse_args(argv)
    try:
        config = _config(args)
        with Runtime(args.mode) as runtime:
            module = load_program(runtime, bytes(read_source(args.program, "program")),
                                  args.max_memory_pages)
            sys.stdout.flush()
            sys.stderr.flush()
            with module.instantiate(args.stack_size, args.heap_size, wasi=config) as instance:
                code = instance.run(timeout=args.timeout)
            module.close()
    except Timeout as exc:
        print(f"Exception: {exc.message} (pywamr: --timeout {args.timeout:g} s)",
              file=sys.stderr)
        return TRAP_STATUS
    except Trap as exc:
        print(f"Exception: {exc.message}", file=sys.stderr)
        return TRAP_STATUS
    except (WamrError, OSError, ValueError, TypeError) as exc:
        print(f"pywamr: error: {exc}", file=sys.stderr)
        return TRAP_STATUS
    return code & 0xFF  # what a process exit status holds
