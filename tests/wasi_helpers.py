"""Helpers for the WASI tests: run wasi_probe under pywamr or wasmtime-py."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pywamr
from pywamr import Stdio, WasiConfig

ROOT = Path(__file__).resolve().parent.parent
PROBE = ROOT / "tests" / "payloads" / "wasm" / "wasi_probe.wasm"
WASI_EXAMPLES = ROOT / "examples" / "wasi" / "wasm"

# WASI preview-1 errno values (the `errno` enum of the specification).
ESUCCESS, EBADF, EEXIST, EFAULT, EILSEQ, EINVAL, EISDIR, ELOOP = 0, 8, 20, 21, 25, 28, 31, 32
ENOENT, ENOTDIR, ENOTEMPTY, ENOTSOCK, ENOTSUP, EPERM, EXDEV, ENOTCAPABLE = (
    44, 54, 55, 57, 58, 63, 75, 76)
# filetype enum
FT_DIRECTORY, FT_REGULAR, FT_SYMLINK = 3, 4, 7


def parse(text: str) -> dict[str, str]:
    """The probe's "key value" lines as a dict (later keys win)."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out[key] = value
    return out


def run_pywamr(module: pywamr.Module, args: Sequence[str], *,
               preopens: Mapping[str, str] | None = None,
               env: Mapping[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """Run the probe once; (exit code, parsed stdout, stderr)."""
    config = WasiConfig(argv=["wasi_probe", *args], env=env or {}, preopens=preopens or {},
                        stdout=Stdio.CAPTURE, stderr=Stdio.CAPTURE)
    with module.instantiate(wasi=config) as inst:
        code = inst.run()
        return code, parse(inst.wasi.take_stdout().decode()), inst.wasi.take_stderr()


def run_wasmtime(args: Sequence[str], *, preopens: Mapping[str, str] | None = None,
                 env: Mapping[str, str] | None = None,
                 wasm: Path = PROBE) -> tuple[int, dict[str, str]]:
    """The same under wasmtime-py's WASI: the second opinion."""
    import wasmtime

    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    linker.define_wasi()
    module = wasmtime.Module.from_file(engine, str(wasm))
    store = wasmtime.Store(engine)
    config = wasmtime.WasiConfig()
    config.argv = ["wasi_probe", *args]
    config.env = [[k, v] for k, v in (env or {}).items()]
    for guest, host in (preopens or {}).items():
        config.preopen_dir(host, guest)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "stdout")
        config.stdout_file = out
        store.set_wasi(config)
        instance = linker.instantiate(store, module)
        try:
            instance.exports(store)["_start"](store)
            code = 0
        except wasmtime.ExitTrap as exc:
            code = exc.code
        with open(out) as handle:
            return code, parse(handle.read())


def sandbox_tree(root: Path) -> dict[str, str]:
    """A preopen with symlinks planted to a secret outside it; the preopens."""
    (root / "secret.txt").write_text("the secret")
    pre, other = root / "pre", root / "other"
    pre.mkdir()
    other.mkdir()
    (pre / "inside.txt").write_text("inside")
    os.symlink("../secret.txt", pre / "planted")
    os.symlink(str(root / "secret.txt"), pre / "planted_abs")
    os.symlink("..", pre / "planted_dir")
    os.symlink("../created_outside.txt", pre / "dangling")
    os.symlink("loop", pre / "loop")
    return {"/pre": str(pre), "/other": str(other)}


def fuzz_run(module: pywamr.Module, seed: int, calls: int,
             preopens: Mapping[str, str]) -> tuple[int | None, bool]:
    """wasi_probe's random-call scenario: (calls made, whether it trapped).

    The count is None when the guest's random writes hit its own counter.

    Every call passes random arguments -- wild pointers, random fds, lengths,
    flags and paths (``..``, absolute, planted symlinks, non-UTF-8) -- to one
    of 32 preview-1 functions.  A bad pointer ends the run with a trap
    ("out of bounds memory access"); anything else must be a WASI errno.
    """
    config = WasiConfig(argv=["wasi_probe", "fuzz", str(seed), str(calls)], preopens=preopens,
                        stdout=Stdio.CAPTURE)
    with module.instantiate(wasi=config) as inst:
        trapped = False
        try:
            inst.run(timeout=60)
        except pywamr.Trap as exc:
            if "out of bounds memory access" not in exc.message:
                raise
            trapped = True
        first = inst.wasi.take_stdout().split(b"\n", 1)[0].decode()
        counter_at = int(first.split()[1])  # "counter_at ADDRESS"
        raw = inst.memory.read(counter_at, 8)
        made = int.from_bytes(raw[:4], "little")
        check = int.from_bytes(raw[4:], "little")
    return (made if made ^ check == 0xFFFFFFFF and made <= calls else None), trapped
