"""Seeded module generation with ``wasm-opt -ttf`` (translate-to-fuzz)."""

from __future__ import annotations

import atexit
import hashlib
import os
import random
import subprocess
import tempfile

# Feature sets, as wasm-opt flags on top of --mvp-features.
BASE = ["--enable-sign-ext", "--enable-mutable-globals", "--enable-nontrapping-float-to-int",
        "--enable-bulk-memory", "--enable-multivalue"]
FEATURES: dict[str, list[str]] = {
    "base": BASE,
    "reftypes": [*BASE, "--enable-reference-types"],
    "simd": [*BASE, "--enable-simd"],
}
# Passes run on the generated module.  SIMD modules import fuzzing-support.log-v128, which
# neither wasmtime-py nor pywamr host functions can take: their imports become nops (so the
# simd set compares results, traps and memory, not host-call logs).
POST_PASSES: dict[str, list[str]] = {"simd": ["--remove-imports"]}
INPUT_BYTES = (1024, 16384)   # random input size range: more bytes, bigger modules


def random_input(seed: int, index: int) -> bytes:
    """The random bytes for module ``index`` of run ``seed`` (reproducible)."""
    rng = random.Random(hashlib.sha256(f"difffuzz:{seed}:{index}".encode()).digest())
    size = rng.randint(*INPUT_BYTES)
    return rng.randbytes(size)


def make_module(seed: int, index: int, features: str) -> bytes:
    """Module ``index`` of run ``seed`` with feature set ``features``."""
    flags = FEATURES[features]
    # No temporary directory per module: one input file, the output through a pipe.
    module = _wasm_opt(["-ttf", "--mvp-features", *flags], random_input(seed, index))
    if features in POST_PASSES:
        module = _wasm_opt(["--mvp-features", *flags, *POST_PASSES[features]], module)
    return module


_INPUT: list[str] = []   # one input file per process, rewritten for every call


def _wasm_opt(args: list[str], data: bytes) -> bytes:
    """``wasm-opt`` on ``data`` (it needs a seekable input file), the module through a pipe."""
    if not _INPUT:
        fd, name = tempfile.mkstemp(prefix="difffuzz-", suffix=".in")
        os.close(fd)
        atexit.register(os.unlink, name)
        _INPUT.append(name)
    with open(_INPUT[0], "wb") as handle:
        handle.write(data)
    proc = subprocess.run(["wasm-opt", _INPUT[0], *args, "-o", "/dev/stdout"],
                          check=True, capture_output=True, timeout=120)
    return proc.stdout


def call_arguments(seed: int, index: int, export_index: int, types: list[str]) -> list[object]:
    """Deterministic arguments for one export call: edge values and random ones."""
    rng = random.Random(f"{seed}:{index}:{export_index}")
    args: list[object] = []
    for t in types:
        if t == "i32":
            args.append(rng.choice([0, 1, -1, 0x7FFFFFFF, -0x80000000,
                                    rng.getrandbits(32) - (1 << 31)]))
        elif t == "i64":
            args.append(rng.choice([0, 1, -1, (1 << 63) - 1, -(1 << 63),
                                    rng.getrandbits(64) - (1 << 63)]))
        else:
            args.append(rng.choice([0.0, -0.0, 1.0, -1.5, float("inf"), float("-inf"), float("nan"),
                                    rng.uniform(-1e6, 1e6), rng.uniform(-1e-30, 1e30)]))
    return args


def denan(wasm: bytes, features: str) -> bytes:
    """``wasm`` instrumented by ``wasm-opt --denan``: every NaN a float operation
    produces becomes 0, so NaN payloads (the implementation's choice) cannot leak."""
    return _wasm_opt(["--mvp-features", *FEATURES[features], "--denan"], wasm)
