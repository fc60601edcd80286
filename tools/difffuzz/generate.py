"""Seeded module generation with ``wasm-opt -ttf`` (translate-to-fuzz).

By default Debian's binaryen (``wasm-opt`` on PATH).  With ``DIFFFUZZ_BINARYEN``
naming the directory of npm's ``binaryen`` package (``--binaryen`` of the command
line), its ``wasm-opt`` (a node program) is used instead, run many times in one
node process (``binaryen_node.js``); its translate-to-fuzz imports more
``fuzzing-support`` functions than the harness provides, and all but ``log-*``
are replaced by functions of the module that return zero or null.  Module
``i`` of seed ``s`` is the same bytes for a given generator
(:func:`generator` names it; summaries record it).
"""

from __future__ import annotations

import atexit
import hashlib
import json
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import IO

BINARYEN_ENV = "DIFFFUZZ_BINARYEN"
NODE_HELPER = Path(__file__).with_name("binaryen_node.js")

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
# The wasm-opt flags above as binaryen.js feature names (for the node helper's rewrite).
JS_FEATURES = {"--enable-sign-ext": ["SignExt"], "--enable-mutable-globals": ["MutableGlobals"],
               "--enable-nontrapping-float-to-int": ["NontrappingFPToInt"],
               "--enable-bulk-memory": ["BulkMemory", "BulkMemoryOpt"],
               "--enable-multivalue": ["Multivalue"],
               "--enable-reference-types": ["ReferenceTypes", "CallIndirectOverlong"],
               "--enable-simd": ["SIMD128"]}


def random_input(seed: int, index: int) -> bytes:
    """The random bytes for module ``index`` of run ``seed`` (reproducible)."""
    rng = random.Random(hashlib.sha256(f"difffuzz:{seed}:{index}".encode()).digest())
    size = rng.randint(*INPUT_BYTES)
    return rng.randbytes(size)


def make_module(seed: int, index: int, features: str) -> bytes:
    """Module ``index`` of run ``seed`` with feature set ``features``."""
    flags = FEATURES[features]
    node = _node()
    if node is not None:
        module = node.generate(random_input(seed, index), flags, POST_PASSES.get(features, []))
        return module
    # No temporary directory per module: one input file, the output through a pipe.
    module = _wasm_opt(["-ttf", "--mvp-features", *flags], random_input(seed, index))
    if features in POST_PASSES:
        module = _wasm_opt(["--mvp-features", *flags, *POST_PASSES[features]], module)
    return module


def generator() -> str:
    """Which binaryen generates the modules (its ``wasm-opt --version``)."""
    node = _node()
    if node is not None:
        return f"{node.version()} (npm package in {node.package})"
    proc = subprocess.run(["wasm-opt", "--version"], capture_output=True, text=True, timeout=60)
    return proc.stdout.strip() + " (wasm-opt on PATH)"


_INPUT: list[str] = []   # one scratch file per process, rewritten for every call


def _scratch() -> str:
    if not _INPUT:
        fd, name = tempfile.mkstemp(prefix="difffuzz-", suffix=".wasm")
        os.close(fd)
        atexit.register(os.unlink, name)
        _INPUT.append(name)
    return _INPUT[0]


def _wasm_opt(args: list[str], data: bytes) -> bytes:
    """``wasm-opt`` on ``data`` (it needs a seekable input file), the module through a pipe."""
    node = _node()
    if node is not None:
        return node.wasm_opt(args, data)
    with open(_scratch(), "wb") as handle:
        handle.write(data)
    proc = subprocess.run(["wasm-opt", _scratch(), *args, "-o", "/dev/stdout"],
                          check=True, capture_output=True, timeout=120)
    return proc.stdout


class NodeBinaryen:
    """npm's ``binaryen`` through one long-lived node process (``binaryen_node.js``)."""

    def __init__(self, package: Path) -> None:
        self.package = package
        self._proc: subprocess.Popen[str] | None = None

    def _ask(self, job: dict[str, object]) -> None:
        if self._proc is None or self._proc.poll() is not None:
            node = shutil.which("node") or "node"
            self._proc = subprocess.Popen([node, str(NODE_HELPER), str(self.package)],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                          stderr=subprocess.DEVNULL, text=True)
        stdin: IO[str] | None = self._proc.stdin
        stdout: IO[str] | None = self._proc.stdout
        assert stdin is not None and stdout is not None
        stdin.write(json.dumps(job) + "\n")
        stdin.flush()
        line = stdout.readline()
        if not line:
            self._proc.wait()
            raise RuntimeError(f"the binaryen node helper died ({self._proc.returncode})")
        answer = json.loads(line)
        if answer["status"] != 0:
            raise RuntimeError(f"binaryen ({job}): {answer['errors'][-1500:]}")

    def wasm_opt(self, args: list[str], data: bytes) -> bytes:
        scratch = Path(_scratch())
        scratch.write_bytes(data)
        self._ask({"args": [str(scratch), *args, "-o", str(scratch)]})
        return scratch.read_bytes()

    def generate(self, data: bytes, flags: list[str], post: list[str]) -> bytes:
        scratch = Path(_scratch())
        scratch.write_bytes(data)
        self._ask({"args": [str(scratch), "-ttf", "--mvp-features", *flags, *post,
                            "-o", str(scratch)]})
        names = [name for flag in flags for name in JS_FEATURES[flag]]
        self._ask({"stub": str(scratch), "features": names})
        return scratch.read_bytes()

    def version(self) -> str:
        meta = json.loads((self.package / "package.json").read_text())
        return f"binaryen {meta['version']}"


_NODE: dict[str, NodeBinaryen] = {}


def _node() -> NodeBinaryen | None:
    """The npm binaryen named by ``DIFFFUZZ_BINARYEN``, if any."""
    package = os.environ.get(BINARYEN_ENV)
    if not package:
        return None
    if package not in _NODE:
        _NODE[package] = NodeBinaryen(Path(package))
    return _NODE[package]


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
