#!/usr/bin/env python3
"""The training run of the fast interpreter's profile-guided build.

CMake runs this at build time (``cmake/core/CMakeLists.txt``, ``PYWAMR_PGO``)
with the instrumented twin of ``pywamr._native_fast``::

    python tools/pgo_train.py path/to/_native_fast.<soabi>.so tests/payloads/wasm/cpu.wasm

It loads that extension by path (no installed pywamr needed), instantiates
``cpu.wasm`` through the C bridge and runs the CPU kernels of
``tests/payloads/src/cpu.c`` (recursive calls, loops over memory, float
arithmetic, bit mixing) with fixed arguments, checking their results.  The
run is single-threaded and deterministic, so the profile, and with it the
optimised build, is the same on every machine and every build.  GCC writes
the profile when the process exits.
"""

from __future__ import annotations

import hashlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

STACK = 1 << 20
SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"
# (export, argument, expected low 32 bits of the result or None): sizes for a
# few seconds of training in the instrumented (slower) build
KERNELS: list[tuple[str, int, int | None]] = [
    ("fib", 25, 75025),
    ("sieve", 1 << 18, 23000),
    ("matmul", 48, None),
    ("sha256_loop", 300,
     int.from_bytes(hashlib.sha256(SHA_MSG * 300).digest()[:4], "big")),
]


def load_extension(path: Path) -> Any:
    """Import a compiled ``_native_fast`` from ``path``."""
    spec = importlib.util.spec_from_file_location("_native_fast", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"pgo_train: cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def train(extension: Any, wasm: bytes, rounds: int = 3) -> None:
    lib, ffi = extension.lib, extension.ffi
    err = ffi.new("char[]", 1024)

    def check(rc: int, what: str) -> None:
        if rc != lib.PW_OK:
            raise SystemExit(f"pgo_train: {what} failed ({rc}): {ffi.string(err).decode()}")

    check(lib.pw_wamr_acquire(0, err, 1024), "runtime init")
    hosts = lib.pw_hosts_new()
    module_out = ffi.new("pw_module **")
    check(lib.pw_module_load(hosts, wasm, len(wasm), 0, module_out, err, 1024), "load")
    instance = lib.pw_instance_alloc(1)
    check(lib.pw_instance_start(instance, module_out[0], STACK, 0, err, 1024), "instantiate")
    sig = ffi.new("char[]", 64)
    argv = ffi.new("uint32_t[4]")
    for _ in range(rounds):
        for name, argument, expected in KERNELS:
            func = lib.pw_instance_func(instance, name.encode(), sig, 64)
            if func == ffi.NULL:
                raise SystemExit(f"pgo_train: cpu.wasm exports no {name}")
            argv[0] = argument
            check(lib.pw_call_deadline(instance, func, 1, argv, 0.0), name)
            if expected is not None and argv[0] != expected:
                raise SystemExit(f"pgo_train: {name}({argument}) = {argv[0]}, not {expected}")
    lib.pw_instance_free(instance)
    lib.pw_module_release(module_out[0])
    lib.pw_hosts_release(hosts)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: pgo_train.py EXTENSION.so cpu.wasm")
    train(load_extension(Path(argv[0])), Path(argv[1]).read_bytes())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
