"""WASI programs from zig (a current LLVM): the probe built with `zig cc -target wasm32-wasi`.

Current LLVM encodes call_indirect with reference-types LEBs, which WAMR
1.1.2 accepts only when built with reference types (the cores are): the probe
is built both for zig's default CPU, as users' compilers build it today, and
for the MVP CPU plus the features older engines have (``ZIG_WASI_CPU``).
Building zig's own wasi-libc takes a minute or two the first time (cached in
zig's cache afterwards).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from wasi_helpers import EBADF, ENOTCAPABLE, ROOT, parse, run_pywamr, sandbox_tree

import pywamr

ZIG_WASI_CPU = "-mcpu=mvp+bulk_memory+sign_ext+nontrapping_fptoint+mutable_globals"
MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])


def _zig_available() -> bool:
    try:
        return subprocess.run([sys.executable, "-m", "ziglang", "version"], capture_output=True,
                              timeout=60, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _zig_available(), reason="ziglang not installed")


@pytest.fixture(scope="module", params=["default-cpu", "mvp-cpu"])
def zig_probe(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("zig") / f"wasi_probe-{request.param}.wasm"
    cpu = [ZIG_WASI_CPU] if request.param == "mvp-cpu" else []
    subprocess.run([sys.executable, "-m", "ziglang", "cc", "-target", "wasm32-wasi", *cpu,
                    "-O2", "-Wno-unused-result",
                    str(ROOT / "tests" / "payloads" / "src" / "wasi_probe.c"), "-o", str(out)],
                   check=True, timeout=900)
    return out


@pytest.fixture(params=MODES)
def probe(request: pytest.FixtureRequest, zig_probe: Path) -> Iterator[pywamr.Module]:
    with pywamr.Runtime(request.param) as rt:
        module = rt.load(zig_probe)
        yield module
        module.close()


def test_default_cpu_uses_reference_types_encodings(zig_probe: Path) -> None:
    """The default-CPU build really is what current toolchains emit: wabt
    refuses it without reference types ("call_indirect reserved value must be
    0"); the MVP-CPU build validates either way."""
    proc = subprocess.run(["wasm-validate", "--disable-reference-types", str(zig_probe)],
                          capture_output=True, text=True, timeout=60, check=False)
    if "default-cpu" in zig_probe.name:
        assert proc.returncode != 0
        assert "call_indirect reserved value must be 0" in proc.stderr
    else:
        assert proc.returncode == 0, proc.stderr


def test_zig_program_args_and_files(probe: pywamr.Module, tmp_path: Path) -> None:
    code, out, _ = run_pywamr(probe, ["args", "zig"], env={"Z": "1"})
    assert (code, out["arg2"], out["env"]) == (0, "zig", "Z=1")
    code, out, _ = run_pywamr(probe, ["fd", "/d"], preopens={"/d": str(tmp_path)})
    assert (code, out["read"], out["size_after_append"]) == (0, "Jello, wasi", "7")
    assert (tmp_path / "probe.txt").read_bytes() == b"Jello++"


def test_zig_program_stays_in_its_sandbox(probe: pywamr.Module, tmp_path: Path) -> None:
    code, out, _ = run_pywamr(probe, ["escape", "/pre"], preopens=sandbox_tree(tmp_path))
    assert code == 0
    assert out["dotdot_errno"] == out["planted_follow_errno"] == str(ENOTCAPABLE)
    assert out["fd_99_errno"] == str(EBADF)
    assert (tmp_path / "secret.txt").read_text() == "the secret"


def test_zig_exit_code(probe: pywamr.Module) -> None:
    config = pywamr.WasiConfig(argv=["p", "exit", "9"], stdout=pywamr.Stdio.CAPTURE)
    with probe.instantiate(wasi=config) as inst:
        assert inst.run() == 9
        assert parse(inst.wasi.take_stdout().decode()) == {"exiting": "9"}
