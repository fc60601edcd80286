#!/usr/bin/env python3
"""Build pywamr's wasm payloads from source into their committed locations.

Payloads:
  tests/payloads/src/*.{wat,c}        -> tests/payloads/wasm/NAME.wasm
  examples/payloads/c/*.c             -> examples/payloads/wasm/NAME.wasm
  examples/payloads/rust/{intersection,psi} -> examples/payloads/wasm/NAME.wasm
  WASI commands (wasm32-wasi: clang-14 + Debian's wasi-libc, Rust's wasm32-wasi):
  tests/payloads/src/wasi_probe.c     -> tests/payloads/wasm/wasi_probe.wasm
  tests/payloads/src/wasi_bench.c     -> tests/payloads/wasm/wasi_bench.wasm
  tests/payloads/src/wasi_crossdir.c  -> tests/payloads/wasm/wasi_crossdir.wasm
  examples/wasi/c/wc.c                -> examples/wasi/wasm/wc.wasm
  examples/wasi/rust/wordfreq         -> examples/wasi/wasm/wordfreq.wasm

Usage:
  python tools/build_payloads.py            # rebuild in-tree outputs
  python tools/build_payloads.py --out DIR  # write DIR/<same relative paths>
  python tools/build_payloads.py --check    # rebuild in a temp dir, diff
  python tools/build_payloads.py --show     # also print imports/exports
  python tools/build_payloads.py --zig      # also build C examples with zig
                                            # (build/payloads-zig/, optional)

Builds are deterministic: C is compiled with ``clang -c`` and linked with
wasm-ld directly (linking through ``clang -O2`` would silently run whatever
wasm-opt is on PATH), Rust is built in a scratch copy with an isolated
CARGO_HOME and remapped paths, and every output is stripped of custom
sections.  Each module's import/export signatures are checked against the
table below, so an ABI change fails the build.
"""

from __future__ import annotations

import argparse
import filecmp
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEST_SRC = Path("tests/payloads/src")
TEST_OUT = Path("tests/payloads/wasm")
EX_DIR = Path("examples/payloads")
EX_OUT = EX_DIR / "wasm"
ZIG_OUT = Path("build/payloads-zig")

# Compile flags shared by every C payload.  -fno-builtin keeps clang from
# turning loops into memset/memcpy imports or eliding malloc/free pairs.
# No -mbulk-memory etc.: the output must load on a plain WAMR 1.1.2 build.
C_FLAGS = ["--target=wasm32", "-nostdlib", "-O2", "-fno-builtin", "-Wall", "-Wextra"]
# Teaclave adds +bulk_memory; omitted so output also loads on WAMR built
# without WAMR_BUILD_BULK_MEMORY.
ZIG_CPU = "-mcpu=mvp+sign_ext+nontrapping_fptoint+mutable_globals"

I32, I64, F32, F64 = "i32", "i64", "f32", "f64"


def sig(params: str = "", results: str = "") -> str:
    """Signature text as produced by :func:`read_interface`."""
    return f"({params}) -> ({results})"


TEACLAVE_IMPORTS = {
    "env.teaclave_open_input": sig("i32", "i32"),
    "env.teaclave_create_output": sig("i32", "i32"),
    "env.teaclave_read_file": sig("i32, i32, i32", "i32"),
    "env.teaclave_write_file": sig("i32, i32, i32", "i32"),
    "env.teaclave_close_file": sig("i32", "i32"),
}
# WAMR reads __heap_base/__data_end to find the aux stack and place the app heap.
C_AUX = {"memory": "memory", "__heap_base": "global", "__data_end": "global"}
ENTRYPOINT = {"entrypoint": sig("i32, i32", "i32")}
WASI_EX = Path("examples/wasi")
WASI_EX_OUT = WASI_EX / "wasm"
# WASI C: Debian's clang-14 finds wasi-libc (/usr/lib/wasm32-wasi) and
# libclang-rt-14-dev-wasm32's builtins itself for --target=wasm32-wasi.
WASI_C_FLAGS = ["--target=wasm32-wasi", "-O2", "-Wall", "-Wextra", "-Wno-unused-result"]
WASI_COMMAND = {"memory": "memory", "_start": sig()}
P1 = "wasi_snapshot_preview1."


def wasi_imports(*names: str) -> dict[str, str]:
    """Import table entries for WASI preview-1 functions (their real types)."""
    return {P1 + n: WASI_SIGS[n] for n in names}


WASI_SIGS = {
    "args_get": sig("i32, i32", "i32"),
    "args_sizes_get": sig("i32, i32", "i32"),
    "environ_get": sig("i32, i32", "i32"),
    "environ_sizes_get": sig("i32, i32", "i32"),
    "clock_res_get": sig("i32, i32", "i32"),
    "clock_time_get": sig("i32, i64, i32", "i32"),
    "fd_advise": sig("i32, i64, i64, i32", "i32"),
    "fd_allocate": sig("i32, i64, i64", "i32"),
    "fd_close": sig("i32", "i32"),
    "fd_datasync": sig("i32", "i32"),
    "fd_fdstat_get": sig("i32, i32", "i32"),
    "fd_fdstat_set_flags": sig("i32, i32", "i32"),
    "fd_filestat_get": sig("i32, i32", "i32"),
    "fd_filestat_set_size": sig("i32, i64", "i32"),
    "fd_filestat_set_times": sig("i32, i64, i64, i32", "i32"),
    "fd_pread": sig("i32, i32, i32, i64, i32", "i32"),
    "fd_prestat_get": sig("i32, i32", "i32"),
    "fd_prestat_dir_name": sig("i32, i32, i32", "i32"),
    "fd_pwrite": sig("i32, i32, i32, i64, i32", "i32"),
    "fd_read": sig("i32, i32, i32, i32", "i32"),
    "fd_readdir": sig("i32, i32, i32, i64, i32", "i32"),
    "fd_renumber": sig("i32, i32", "i32"),
    "fd_seek": sig("i32, i64, i32, i32", "i32"),
    "fd_sync": sig("i32", "i32"),
    "fd_tell": sig("i32, i32", "i32"),
    "fd_write": sig("i32, i32, i32, i32", "i32"),
    "path_create_directory": sig("i32, i32, i32", "i32"),
    "path_filestat_get": sig("i32, i32, i32, i32, i32", "i32"),
    "path_filestat_set_times": sig("i32, i32, i32, i32, i64, i64, i32", "i32"),
    "path_link": sig("i32, i32, i32, i32, i32, i32, i32", "i32"),
    "path_open": sig("i32, i32, i32, i32, i32, i64, i64, i32, i32", "i32"),
    "path_readlink": sig("i32, i32, i32, i32, i32, i32", "i32"),
    "path_remove_directory": sig("i32, i32, i32", "i32"),
    "path_rename": sig("i32, i32, i32, i32, i32, i32", "i32"),
    "path_symlink": sig("i32, i32, i32, i32, i32", "i32"),
    "path_unlink_file": sig("i32, i32, i32", "i32"),
    "poll_oneoff": sig("i32, i32, i32, i32", "i32"),
    "proc_exit": sig("i32"),
    "random_get": sig("i32, i32", "i32"),
    "sched_yield": sig("", "i32"),
    "sock_recv": sig("i32, i32, i32, i32, i32, i32", "i32"),
    "sock_shutdown": sig("i32, i32", "i32"),
}


class BuildError(RuntimeError):
    """A tool is missing, a command failed, or an output has the wrong ABI."""


@dataclass(frozen=True)
class Payload:
    """One wasm module: how to build it and the interface it must have."""

    name: str
    kind: str  # "wat", "c" or "rust"
    source: Path  # relative to ROOT
    out: Path  # relative to the output root
    exports: dict[str, str]  # name -> signature or "memory"/"global"/"table"
    imports: dict[str, str] = field(default_factory=dict)  # "mod.name" -> sig
    allow_undefined: bool = False  # C: let undeclared libc calls become imports
    include: Path | None = None  # C: extra include dir
    link_flags: tuple[str, ...] = ()  # C: extra wasm-ld flags; wat: wat2wasm feature flags


WASI_PROBE_IMPORTS = tuple(WASI_SIGS)  # the probe calls every one of them
WASI_BENCH_IMPORTS = ("args_get", "args_sizes_get", "fd_close", "fd_fdstat_get",
                      "fd_prestat_dir_name", "fd_prestat_get", "fd_read", "fd_seek", "fd_write",
                      "path_open", "proc_exit")
WASI_CROSSDIR_IMPORTS = ("args_get", "args_sizes_get", "fd_close", "fd_fdstat_get",
                         "fd_prestat_dir_name", "fd_prestat_get", "fd_renumber", "fd_seek",
                         "fd_write", "path_link", "path_open", "path_rename", "proc_exit")
WC_IMPORTS = ("args_get", "args_sizes_get", "fd_close", "fd_fdstat_get",
              "fd_fdstat_set_flags", "fd_prestat_dir_name", "fd_prestat_get", "fd_read",
              "fd_seek", "fd_write", "path_open", "proc_exit")
WORDFREQ_IMPORTS = ("args_get", "args_sizes_get", "environ_get", "environ_sizes_get",
                    "fd_close", "fd_filestat_get", "fd_prestat_dir_name", "fd_prestat_get",
                    "fd_read", "fd_readdir", "fd_seek", "fd_write", "path_open", "proc_exit",
                    "random_get")

PAYLOADS: list[Payload] = [
    Payload(
        "basic", "wat", TEST_SRC / "basic.wat", TEST_OUT / "basic.wasm",
        exports={
            "memory": "memory", "g_answer": "global", "table": "table",
            "add": sig("i32, i32", "i32"),
            "add_i64": sig("i64, i64", "i64"),
            "add_f32": sig("f32, f32", "f32"),
            "add_f64": sig("f64, f64", "f64"),
            "mixed": sig("i32, i64, f32, f64", "f64"),
            "pair": sig("i32", "i32, i32"),
            "triple": sig("", "i32, i64, f64"),
            "noop": sig(),
            "div_s": sig("i32, i32", "i32"),
            "trunc": sig("f64", "i32"),
            "boom": sig(),
            "load": sig("i32", "i32"),
            "store": sig("i32, i32"),
            "recurse": sig("i32", "i32"),
            "grow": sig("i32", "i32"),
            "pages": sig("", "i32"),
            "incr": sig("", "i32"),
            "get_counter": sig("", "i32"),
            "spin": sig("i64", "i64"),
            "sum_bytes": sig("i32, i32", "i32"),
        },
    ),
    Payload(
        "host", "wat", TEST_SRC / "host.wat", TEST_OUT / "host.wasm",
        imports={
            "env.h_add": sig("i32, i32", "i32"),
            "env.h_buf": sig("i32, i32", "i32"),
            "env.h_str": sig("i32", "i32"),
            "env.h_ptr": sig("i32", "i32"),
            "env.h_i64": sig("i64", "i64"),
            "env.h_f32": sig("f32", "f32"),
            "env.h_f64": sig("f64", "f64"),
            "env.h_void": sig(),
        },
        exports={
            "memory": "memory",
            "call_add": sig("i32, i32", "i32"),
            "call_buf": sig("i32, i32", "i32"),
            "call_str": sig("i32", "i32"),
            "call_ptr": sig("i32", "i32"),
            "call_i64": sig("i64", "i64"),
            "call_f32": sig("f32", "f32"),
            "call_f64": sig("f64", "f64"),
            "call_void": sig(),
            "call_add_loop": sig("i32", "i32"),
        },
    ),
    Payload(
        "tc_hook", "wat", TEST_SRC / "tc_hook.wat", TEST_OUT / "tc_hook.wasm",
        imports={"env.hook": sig("i32", "i32")},
        exports={"memory": "memory", **ENTRYPOINT, "pages": sig("", "i32")},
    ),
    Payload(
        "unresolved", "wat", TEST_SRC / "unresolved.wat", TEST_OUT / "unresolved.wasm",
        imports={"env.nobody_registered": sig("i32", "i32")},
        exports={"call_it": sig("i32", "i32"), "fine": sig("", "i32")},
    ),
    Payload(
        "runaway", "wat", TEST_SRC / "runaway.wat", TEST_OUT / "runaway.wasm",
        exports={
            "memory": "memory",
            "loop_br_if": sig("i32", "i32"),
            "loop_br": sig("i32", "i32"),
            "loop_br_table": sig("i32", "i32"),
            "calls": sig("i32", "i32"),
        },
    ),
    Payload(
        "cpu", "c", TEST_SRC / "cpu.c", TEST_OUT / "cpu.wasm",
        exports={
            **C_AUX,
            "fib": sig("i32", "i32"),
            "sieve": sig("i32", "i32"),
            "matmul": sig("i32", "f64"),
            "sha256_loop": sig("i32", "i32"),
        },
    ),
    Payload(
        "libc", "c", TEST_SRC / "libc.c", TEST_OUT / "libc.wasm",
        allow_undefined=True,
        imports={
            "env.printf": sig("i32, i32", "i32"),
            "env.strdup": sig("i32", "i32"),
            "env.strlen": sig("i32", "i32"),
            "env.free": sig("i32"),
            "env.malloc": sig("i32", "i32"),
            "env.memset": sig("i32, i32, i32", "i32"),
        },
        exports={
            **C_AUX,
            "hello": sig("i32", "i32"),
            "dup_len": sig("i32", "i32"),
            "use_malloc": sig("i32", "i32"),
        },
    ),
    Payload(
        "tc_probe", "c", TEST_SRC / "tc_probe.c", TEST_OUT / "tc_probe.wasm",
        allow_undefined=True, include=EX_DIR / "include",
        imports={**TEACLAVE_IMPORTS, "env.strcmp": sig("i32, i32", "i32"),
                 "env.malloc": sig("i32", "i32")},
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "tc_alloc", "c", TEST_SRC / "tc_alloc.c", TEST_OUT / "tc_alloc.wasm",
        allow_undefined=True,
        imports={"env.atoi": sig("i32", "i32"), "env.strcmp": sig("i32, i32", "i32")},
        exports={**C_AUX, **ENTRYPOINT, "malloc": sig("i32", "i32"), "free": sig("i32")},
    ),
    Payload(
        "tc_work", "c", TEST_SRC / "tc_work.c", TEST_OUT / "tc_work.wasm",
        include=EX_DIR / "include", imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "aux_stack", "c", TEST_SRC / "aux_stack.c", TEST_OUT / "aux_stack.wasm",
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "aux_stack_1k", "c", TEST_SRC / "aux_stack.c", TEST_OUT / "aux_stack_1k.wasm",
        exports={**C_AUX, **ENTRYPOINT}, link_flags=("-z", "stack-size=1024"),
    ),
    # Teaclave fidelity (tests/test_teaclave_fidelity.py)
    Payload(
        "tc_fidelity", "c", TEST_SRC / "tc_fidelity.c", TEST_OUT / "tc_fidelity.wasm",
        include=EX_DIR / "include", imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload("entry_void", "wat", TEST_SRC / "entry_void.wat", TEST_OUT / "entry_void.wasm",
            exports={"memory": "memory", "entrypoint": sig("", "i32")}),
    Payload("entry_noresult", "wat", TEST_SRC / "entry_noresult.wat",
            TEST_OUT / "entry_noresult.wasm",
            exports={"memory": "memory", "entrypoint": sig("i32, i32")}),
    Payload("entry_i64", "wat", TEST_SRC / "entry_i64.wat", TEST_OUT / "entry_i64.wasm",
            exports={"memory": "memory", "entrypoint": sig("i32, i32", "i64")}),
    Payload("entry_three", "wat", TEST_SRC / "entry_three.wat", TEST_OUT / "entry_three.wasm",
            exports={"memory": "memory", "entrypoint": sig("i32, i32, i32", "i32")}),
    Payload("unlinked", "wat", TEST_SRC / "unlinked.wat", TEST_OUT / "unlinked.wasm",
            imports={"env.strlen": sig("i32", "i32"), "env.nobody_provides": sig("", "i32")},
            exports={"memory": "memory", **ENTRYPOINT}),
    Payload("bulk", "wat", TEST_SRC / "bulk.wat", TEST_OUT / "bulk.wasm",
            exports={"memory": "memory", **ENTRYPOINT}, link_flags=("--disable-reference-types",)),
    Payload(
        "adder", "c", EX_DIR / "c/adder.c", EX_OUT / "adder.wasm",
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "compare", "c", EX_DIR / "c/compare.c", EX_OUT / "compare.wasm",
        include=EX_DIR / "include", imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "wordcount", "c", EX_DIR / "c/wordcount.c", EX_OUT / "wordcount.wasm",
        include=EX_DIR / "include", imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT, "bytes_copied": sig("", "i64")},
    ),
    Payload(
        "intersection", "rust", EX_DIR / "rust/intersection",
        EX_OUT / "intersection.wasm",
        imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    # Teaclave's example tasks, our own sources: they need nothing but the
    # five natives, so they also run in Teaclave's own build (no libc-builtin).
    Payload(
        "millionaire", "c", EX_DIR / "c/millionaire.c", EX_OUT / "millionaire.wasm",
        include=EX_DIR / "include", imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "simple_add", "c", EX_DIR / "c/simple_add.c", EX_OUT / "simple_add.wasm",
        exports={**C_AUX, **ENTRYPOINT},
    ),
    Payload(
        "psi", "rust", EX_DIR / "rust/psi", EX_OUT / "psi.wasm",
        imports=TEACLAVE_IMPORTS,
        exports={**C_AUX, **ENTRYPOINT},
    ),
    # WASI commands (see docs/wasi.md)
    Payload(
        "wasi_probe", "wasi-c", TEST_SRC / "wasi_probe.c", TEST_OUT / "wasi_probe.wasm",
        imports=wasi_imports(*WASI_PROBE_IMPORTS),
        exports=WASI_COMMAND,
    ),
    Payload(
        "wasi_bench", "wasi-c", TEST_SRC / "wasi_bench.c", TEST_OUT / "wasi_bench.wasm",
        imports=wasi_imports(*WASI_BENCH_IMPORTS),
        exports=WASI_COMMAND,
    ),
    Payload(
        "wasi_crossdir", "wasi-c", TEST_SRC / "wasi_crossdir.c",
        TEST_OUT / "wasi_crossdir.wasm",
        imports=wasi_imports(*WASI_CROSSDIR_IMPORTS),
        exports=WASI_COMMAND,
    ),
    Payload(
        "wc", "wasi-c", WASI_EX / "c/wc.c", WASI_EX_OUT / "wc.wasm",
        imports=wasi_imports(*WC_IMPORTS),
        exports=WASI_COMMAND,
    ),
    Payload(
        "wordfreq", "wasi-rust", WASI_EX / "rust/wordfreq", WASI_EX_OUT / "wordfreq.wasm",
        imports=wasi_imports(*WORDFREQ_IMPORTS),
        exports={**WASI_COMMAND, "__data_end": "global", "__heap_base": "global",
                 "main": sig("i32, i32", "i32")},
    ),
]


# --------------------------------------------------------------------------
# Tools


@dataclass(frozen=True)
class Tools:
    """Absolute paths of the external programs a build needs."""

    clang: str
    wasm_ld: str
    wat2wasm: str
    strip: list[str]  # argv prefix; called as strip + [in, "-o", out]
    cargo: str
    rustc: str


def _which(names: list[str]) -> str | None:
    """First of ``names`` found as an absolute path or on PATH."""
    for name in names:
        if os.path.isabs(name):
            if os.access(name, os.X_OK):
                return name
        elif found := shutil.which(name):
            return found
    return None


def _require(names: list[str], package: str) -> str:
    """Like :func:`_which` but raise a helpful error naming the package."""
    found = _which(names)
    if found is None:
        raise BuildError(
            f"none of {', '.join(names)} found; install it with: "
            f"apt-get install {package}"
        )
    return found


def find_tools(need_rust: bool = True) -> Tools:
    """Locate every tool, raising :class:`BuildError` if one is missing."""
    clang = _require(["clang-14", "clang"], "clang-14")
    m = re.search(r"clang-(\d+)$", clang)
    ld_names = ([f"wasm-ld-{m.group(1)}"] if m else []) + ["wasm-ld", "wasm-ld-14"]
    wasm_ld = _require(ld_names, "lld-14")
    wat2wasm = _require(["wat2wasm"], "wabt")
    if strip := _which(["wasm-strip"]):
        strip_cmd = [strip]
    elif opt := _which(["wasm-opt"]):
        # Fallback: re-encodes the module, so bytes may differ from committed.
        strip_cmd = [opt, "--all-features", "--strip-debug", "--strip-producers",
                     "--strip-target-features"]
    else:
        raise BuildError("neither wasm-strip nor wasm-opt found; install it "
                         "with: apt-get install wabt (or binaryen)")
    # Debian's cargo/rustc: the rustup toolchain earlier on PATH lacks wasm32.
    cargo = rustc = ""
    if need_rust:
        cargo = _require(["/usr/bin/cargo"], "cargo")
        rustc = _require(["/usr/bin/rustc"], "rustc")
        sysroot = _run([rustc, "--print", "sysroot"]).strip()
        if not (Path(sysroot) / "lib/rustlib/wasm32-unknown-unknown").is_dir():
            raise BuildError(f"{rustc} has no wasm32-unknown-unknown std; "
                             "install it with: apt-get install libstd-rust-dev-wasm32")
        if not (Path(sysroot) / "lib/rustlib/wasm32-wasi").is_dir():
            raise BuildError(f"{rustc} has no wasm32-wasi std; "
                             "install it with: apt-get install libstd-rust-dev-wasm32")
    # wasm32-wasi C: Debian's wasi-libc and clang's builtins for wasm32
    if not Path("/usr/lib/wasm32-wasi/libc.a").exists():
        raise BuildError("wasi-libc is missing; install it with: apt-get install wasi-libc")
    if not glob.glob("/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a"):
        raise BuildError("clang's wasm32 builtins are missing; install them with: "
                         "apt-get install libclang-rt-14-dev-wasm32")
    return Tools(clang, wasm_ld, wat2wasm, strip_cmd, cargo, rustc)


def _run(cmd: list[str], cwd: Path | None = None,
         env: dict[str, str] | None = None) -> str:
    """Run ``cmd``; return stdout or raise :class:`BuildError` with its output."""
    proc = subprocess.run(cmd, cwd=cwd, env=env, text=True, capture_output=True)
    if proc.returncode != 0:
        raise BuildError(f"command failed ({proc.returncode}): {' '.join(cmd)}\n"
                         f"{proc.stdout}{proc.stderr}")
    return proc.stdout


# --------------------------------------------------------------------------
# Builders: each writes an unstripped module to ``raw`` using scratch ``tmp``.


def _build_wat(p: Payload, t: Tools, raw: Path, tmp: Path) -> None:
    """wat2wasm with MVP + multi-value (no bulk-memory DataCount section)."""
    features = p.link_flags or ("--disable-bulk-memory", "--disable-reference-types")
    _run([t.wat2wasm, *features, str(ROOT / p.source), "-o", str(raw)])


def _c_exports(p: Payload) -> list[str]:
    """wasm-ld --export flags for a C payload's function/global exports."""
    return [f"--export={n}" for n, k in p.exports.items() if k != "memory"]


def _build_c(p: Payload, t: Tools, raw: Path, tmp: Path) -> None:
    """clang -c, then wasm-ld directly (no implicit wasm-opt run)."""
    obj = tmp / f"{p.name}.o"
    inc = ["-I", str(ROOT / p.include)] if p.include else []
    _run([t.clang, *C_FLAGS, *inc, "-c", str(ROOT / p.source), "-o", str(obj)], cwd=tmp)
    undef = ["--allow-undefined"] if p.allow_undefined else []
    _run([t.wasm_ld, "--no-entry", *_c_exports(p), *undef, *p.link_flags, str(obj),
          "-o", str(raw)], cwd=tmp)


RUST_COMMON = "common"   # examples/payloads/rust/common: source files several crates include


def _build_rust(p: Payload, t: Tools, raw: Path, tmp: Path,
                target: str = "wasm32-unknown-unknown") -> None:
    """cargo build --release for ``target`` in a scratch copy."""
    crate = tmp / p.name
    shutil.copytree(ROOT / p.source, crate, ignore=shutil.ignore_patterns("target"))
    common = (ROOT / p.source).parent / RUST_COMMON  # modules the crates share (#[path])
    if common.is_dir() and not (tmp / RUST_COMMON).exists():
        shutil.copytree(common, tmp / RUST_COMMON)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CARGO", "RUSTC", "RUSTDOC", "RUSTFLAGS"))}
    env.update(
        RUSTC=t.rustc,
        CARGO_HOME=str(tmp / "cargo-home"),  # ignore user config
        CARGO_TARGET_DIR=str(tmp / "target"),
        RUSTFLAGS=f"--remap-path-prefix={crate}=/{p.name} "
                  f"--remap-path-prefix={tmp / RUST_COMMON}=/{RUST_COMMON}",
    )
    _run([t.cargo, "build", "--release", "--offline", "--locked",
          "--target", target], cwd=crate, env=env)
    shutil.copyfile(tmp / f"target/{target}/release" / f"{p.name}.wasm", raw)


def _build_wasi_c(p: Payload, t: Tools, raw: Path, tmp: Path) -> None:
    """clang -c for wasm32-wasi, then clang links (no -O: no implicit wasm-opt)."""
    obj = tmp / f"{p.name}.o"
    _run([t.clang, *WASI_C_FLAGS, "-c", str(ROOT / p.source), "-o", str(obj)], cwd=tmp)
    _run([t.clang, "--target=wasm32-wasi", f"-fuse-ld={t.wasm_ld}", str(obj), "-o", str(raw)],
         cwd=tmp)


def _build_wasi_rust(p: Payload, t: Tools, raw: Path, tmp: Path) -> None:
    """cargo build --release for wasm32-wasi in a scratch copy."""
    _build_rust(p, t, raw, tmp, target="wasm32-wasi")


BUILDERS = {"wat": _build_wat, "c": _build_c, "rust": _build_rust,
            "wasi-c": _build_wasi_c, "wasi-rust": _build_wasi_rust}


# --------------------------------------------------------------------------
# Minimal wasm reader for import/export signatures (stdlib only).


def _leb(data: bytes, pos: int) -> tuple[int, int]:
    """Decode an unsigned LEB128 at ``pos``; return (value, new_pos)."""
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return result, pos


def _name(data: bytes, pos: int) -> tuple[str, int]:
    n, pos = _leb(data, pos)
    return data[pos:pos + n].decode(), pos + n


_VALTYPES = {0x7F: I32, 0x7E: I64, 0x7D: F32, 0x7C: F64, 0x7B: "v128",
             0x70: "funcref", 0x6F: "externref"}
_KINDS = {0: "func", 1: "table", 2: "memory", 3: "global"}


def read_interface(data: bytes) -> tuple[dict[str, str], dict[str, str]]:
    """Return (imports, exports) of a wasm binary.

    Imports map "module.name" and exports map "name" to a function signature
    like "(i32, i32) -> (i32)", or to "table"/"memory"/"global".
    """
    if data[:8] != b"\0asm\x01\0\0\0":
        raise BuildError("not a wasm module")
    types: list[str] = []
    func_types: list[int] = []  # imported functions first, then defined ones
    imports: dict[str, str] = {}
    raw_exports: list[tuple[str, int, int]] = []
    pos = 8
    while pos < len(data):
        sec_id = data[pos]
        size, pos = _leb(data, pos + 1)
        end = pos + size
        if sec_id in (1, 2, 3, 7):
            count, p = _leb(data, pos)
            for _ in range(count):
                if sec_id == 1:  # type
                    if data[p] != 0x60:
                        raise BuildError("unexpected type form")
                    sides = []
                    p += 1
                    for _ in range(2):
                        n, p = _leb(data, p)
                        sides.append(", ".join(_VALTYPES[b] for b in data[p:p + n]))
                        p += n
                    types.append(sig(*sides))
                elif sec_id == 2:  # import
                    mod, p = _name(data, p)
                    nm, p = _name(data, p)
                    kind = data[p]
                    p += 1
                    if kind == 0:
                        idx, p = _leb(data, p)
                        func_types.append(idx)
                        imports[f"{mod}.{nm}"] = types[idx]
                    else:
                        imports[f"{mod}.{nm}"] = _KINDS[kind]
                        if kind == 1:
                            p += 1  # reftype
                        if kind in (1, 2):
                            flags, p = _leb(data, p)
                            _, p = _leb(data, p)
                            if flags & 1:
                                _, p = _leb(data, p)
                        elif kind == 3:
                            p += 2
                elif sec_id == 3:  # function
                    idx, p = _leb(data, p)
                    func_types.append(idx)
                else:  # export
                    nm, p = _name(data, p)
                    kind = data[p]
                    idx, p = _leb(data, p + 1)
                    raw_exports.append((nm, kind, idx))
        pos = end
    exports = {nm: types[func_types[idx]] if kind == 0 else _KINDS[kind]
               for nm, kind, idx in raw_exports}
    return imports, exports


def _verify(p: Payload, path: Path) -> None:
    """Raise :class:`BuildError` unless the module has exactly p's interface."""
    imports, exports = read_interface(path.read_bytes())
    problems = []
    for what, got, want in (("imports", imports, p.imports),
                            ("exports", exports, p.exports)):
        for key in sorted(set(got) | set(want)):
            if got.get(key) != want.get(key):
                problems.append(f"  {what} {key}: got {got.get(key)}, "
                                f"expected {want.get(key)}")
    if problems:
        raise BuildError(f"{p.name}.wasm has an unexpected interface:\n"
                         + "\n".join(problems))


def describe(path: Path) -> str:
    """Human-readable import/export listing of a wasm file."""
    imports, exports = read_interface(path.read_bytes())
    lines = [f"{path} ({path.stat().st_size} bytes)"]
    lines += [f"  import {k}: {v}" for k, v in imports.items()]
    lines += [f"  export {k}: {v}" for k, v in exports.items()]
    return "\n".join(lines)


# --------------------------------------------------------------------------
# Driver


def build_payload(p: Payload, t: Tools, dest: Path) -> Path:
    """Build, strip and verify one payload, writing it to ``dest``."""
    with tempfile.TemporaryDirectory(prefix=f"payload-{p.name}-") as d:
        tmp = Path(d)
        raw = tmp / f"{p.name}.raw.wasm"
        stripped = tmp / f"{p.name}.wasm"
        BUILDERS[p.kind](p, t, raw, tmp)
        _run([*t.strip, str(raw), "-o", str(stripped)])
        _verify(p, stripped)
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Leave an identical file untouched (keeps mtimes stable).
        if not dest.exists() or not filecmp.cmp(stripped, dest, shallow=False):
            shutil.copyfile(stripped, dest)
    return dest


def build_all(out_dir: Path | None = None) -> list[Path]:
    """Build every payload; return the output paths.

    ``out_dir=None`` writes the in-tree (committed) locations; otherwise
    outputs go to ``out_dir`` / <same relative path>, e.g.
    ``out_dir/tests/payloads/wasm/basic.wasm``.
    """
    root = ROOT if out_dir is None else Path(out_dir)
    tools = find_tools(need_rust=any(p.kind in ("rust", "wasi-rust") for p in PAYLOADS))
    return [build_payload(p, tools, root / p.out) for p in PAYLOADS]


def build_zig(out_dir: Path) -> list[Path]:
    """Optionally build the C examples with ``python -m ziglang cc``."""
    zig = [sys.executable, "-m", "ziglang"]
    try:
        _run([*zig, "version"])
    except (BuildError, OSError) as exc:
        raise BuildError("zig not available (pip install ziglang)") from exc
    tools = find_tools(need_rust=False)
    outs = []
    for p in PAYLOADS:
        if p.kind != "c" or not p.source.is_relative_to(EX_DIR):
            continue
        with tempfile.TemporaryDirectory(prefix=f"payload-zig-{p.name}-") as d:
            raw = Path(d) / "raw.wasm"
            _run([*zig, "cc", "--target=wasm32-freestanding", ZIG_CPU, "-O2",
                  "-nostdlib", "-fno-builtin", "-I", str(ROOT / EX_DIR / "include"),
                  "-Wl,--no-entry", *[f"-Wl,{f}" for f in _c_exports(p)],
                  "-Wl,--import-symbols",  # zig's spelling of --allow-undefined
                  str(ROOT / p.source), "-o", str(raw)], cwd=Path(d))
            dest = out_dir / f"{p.name}.wasm"
            dest.parent.mkdir(parents=True, exist_ok=True)
            _run([*tools.strip, str(raw), "-o", str(dest)])
            _verify(p, dest)
            outs.append(dest)
    return outs


def check() -> list[Path]:
    """Rebuild into a temp dir; return committed outputs that differ/are missing."""
    with tempfile.TemporaryDirectory(prefix="payload-check-") as d:
        fresh = build_all(Path(d))
        return [ROOT / p.out for p, new in zip(PAYLOADS, fresh)
                if not (ROOT / p.out).exists()
                or not filecmp.cmp(new, ROOT / p.out, shallow=False)]


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, help="output root (default: in-tree)")
    ap.add_argument("--check", action="store_true",
                    help="rebuild in a temp dir and fail if committed outputs differ")
    ap.add_argument("--show", action="store_true", help="print imports/exports")
    ap.add_argument("--zig", action="store_true",
                    help=f"also build C examples with zig into {ZIG_OUT}/")
    args = ap.parse_args(argv)
    try:
        if args.check:
            stale = check()
            for path in stale:
                print(f"out of date: {path.relative_to(ROOT)}", file=sys.stderr)
            if not stale:
                print(f"all {len(PAYLOADS)} payloads up to date")
            return 1 if stale else 0
        outs = build_all(args.out)
        if args.zig:
            outs += build_zig((args.out or ROOT) / ZIG_OUT)
    except BuildError as exc:
        print(f"build_payloads: error: {exc}", file=sys.stderr)
        return 2
    for path in outs:
        print(describe(path) if args.show else path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
