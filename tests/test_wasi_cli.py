"""`pywamr run PROGRAM.wasm [ARGS...]`: WASI commands from the command line, iwasm-style."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from wasi_helpers import PROBE, ROOT, WASI_EXAMPLES, parse

import pywamr

MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])


def pywamr_run(*args: str, stdin: bytes = b"", cwd: Path | None = None,
               timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pywamr", "run", *args], input=stdin,
                          capture_output=True, cwd=cwd, timeout=timeout, check=False)


@pytest.mark.parametrize("mode", MODES)
def test_arguments_follow_the_program(mode: str) -> None:
    proc = pywamr_run(f"--mode={mode}", "--env=A=1", "--env", "B=two", str(PROBE), "args",
                      "--env=not-an-option", "x")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode().splitlines()
    assert out[:5] == ["argc 4", f"arg0 {PROBE}", "arg1 args", "arg2 --env=not-an-option",
                       "arg3 x"]
    assert [line for line in out if line.startswith("env ")] == ["env A=1", "env B=two"]


def test_exit_status_is_the_exit_code() -> None:
    for code in (0, 3, 42):
        proc = pywamr_run(str(PROBE), "exit", str(code))
        assert proc.returncode == code
        assert proc.stdout == f"exiting {code}\n".encode()
    proc = pywamr_run(str(PROBE))  # no scenario: main returns 64 after its usage line
    assert proc.returncode == 64
    assert b"usage" in proc.stderr


def test_trap_prints_wamr_message() -> None:
    proc = pywamr_run(str(PROBE), "trap")
    assert proc.returncode == 1
    assert proc.stderr.decode().strip() == "Exception: unreachable"


def test_stdio_passes_through() -> None:
    data = b"line one\nline two\n" * 5000
    proc = pywamr_run(str(PROBE), "cat", stdin=data)
    assert proc.returncode == 0
    assert proc.stdout == data
    proc = pywamr_run(str(PROBE), "stderr")
    assert (proc.stdout, proc.stderr) == (b"to stdout\n", b"to stderr\n")


def test_dir_and_map_dir(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    proc = pywamr_run("--dir=data", str(PROBE), "fd", "data", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert parse(proc.stdout.decode())["create_errno"] == "0"
    assert (tmp_path / "data" / "probe.txt").read_bytes() == b"Jello++"
    proc = pywamr_run(f"--map-dir=/sandbox::{tmp_path / 'data'}", str(PROBE), "path",
                      "/sandbox")
    assert parse(proc.stdout.decode())["mkdir_errno"] == "0"
    proc = pywamr_run(str(PROBE), "escape", "/sandbox")  # nothing granted
    assert parse(proc.stdout.decode())["dir_found"] == "0"


def test_timeout_and_memory_cap() -> None:
    proc = pywamr_run("--timeout=0.3", str(PROBE), "spin")
    assert proc.returncode == 1
    assert b"--timeout 0.3 s" in proc.stderr
    proc = pywamr_run("--max-memory-pages=64", str(PROBE), "grow")
    assert proc.returncode == 0
    assert int(parse(proc.stdout.decode())["mib"]) < 4


def test_stack_and_heap_size_options() -> None:
    proc = pywamr_run("--stack-size=65536", "--heap-size=0", str(PROBE), "args")
    assert proc.returncode == 0
    proc = pywamr_run("--stack-size=-1", str(PROBE), "args")
    assert proc.returncode == 1
    assert b"stack_size out of range" in proc.stderr


def test_bad_options_and_missing_files(tmp_path: Path) -> None:
    proc = pywamr_run("--wasi", "--env=NOEQUALS", str(PROBE))
    assert proc.returncode != 0
    assert b"NAME=VALUE" in proc.stderr
    proc = pywamr_run("--wasi", "--map-dir=/x", str(PROBE))
    assert b"GUEST::HOST" in proc.stderr
    proc = pywamr_run("--wasi", str(tmp_path / "missing.wasm"))
    assert proc.returncode == 1
    assert b"No such file" in proc.stderr
    proc = pywamr_run(f"--dir={tmp_path / 'nope'}", str(PROBE), "args")
    assert proc.returncode == 1
    assert b"not a directory" in proc.stderr


def test_teaclave_payloads_keep_their_run() -> None:
    adder = ROOT / "examples" / "payloads" / "wasm" / "adder.wasm"
    proc = pywamr_run(str(adder), "--arg", "a=2", "--arg", "b=3")
    assert proc.returncode == 0, proc.stderr
    assert b"5" in proc.stdout


def test_examples_from_the_cli(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("one two\nthree\n")
    proc = pywamr_run(f"--map-dir=/in::{tmp_path}", str(WASI_EXAMPLES / "wc.wasm"), "/in/a.txt")
    assert proc.stdout.decode().splitlines() == ["2 3 14 /in/a.txt", "2 3 14 total"]
    proc = pywamr_run(f"--map-dir=/in::{tmp_path}", str(WASI_EXAMPLES / "wordfreq.wasm"), "/in")
    assert proc.returncode == 0
    assert proc.stdout.decode().splitlines()[-1] == "files 1 words 3"
    proc = pywamr_run(str(WASI_EXAMPLES / "wc.wasm"), "/in/a.txt")  # not granted
    assert proc.returncode == 1
    assert proc.stderr.startswith(b"wc: /in/a.txt:")


@pytest.mark.skipif(not pywamr.aot_available(), reason="built without the AOT compiler")
def test_aot_container_needs_wasi_flag(tmp_path: Path) -> None:
    container = tmp_path / "probe.aot"
    proc = subprocess.run([sys.executable, "-m", "pywamr", "compile", str(PROBE), "-o",
                           str(container)], capture_output=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    proc = pywamr_run("--wasi", "--mode=aot", str(container), "exit", "6")
    assert (proc.returncode, proc.stdout) == (6, b"exiting 6\n")
    proc = pywamr_run(str(container), "exit", "6")  # not recognisable as WASI: Teaclave's run
    assert proc.returncode == 2
