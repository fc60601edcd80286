"""The command line, run as users run it (a subprocess)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import example, payload


def pywamr(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pywamr", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_run_prints_the_result() -> None:
    done = pywamr("run", str(example("adder")), "--arg", "a=2", "--arg", "b=40")
    assert done.returncode == 0 and done.stdout == "42\n"


def test_run_with_files_modes_and_repeat(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x\ny\n")
    (tmp_path / "b").write_text("y\nz\n")
    out = tmp_path / "out"
    for mode in ("fast-interp", "classic-interp"):
        done = pywamr("run", str(example("intersection")), "--input", f"input_a={tmp_path / 'a'}",
                      "--input", f"input_b={tmp_path / 'b'}", "--output", f"output={out}",
                      "--mode", mode, "--repeat", "5", "--timings", "--policy", "reuse-module")
        assert done.returncode == 0, done.stderr
        assert done.stdout == "1\n" and out.read_text() == "y\n"
        assert "5 runs: min" in done.stderr and "median" in done.stderr
        assert "instantiate" in done.stderr and "exec_env" in done.stderr
        assert "p95" in done.stderr


def test_cold_policy_from_the_command_line() -> None:
    done = pywamr("run", str(example("adder")), "--arg", "a=1", "--arg", "b=1",
                  "--policy", "cold", "--repeat", "3", "--timings")
    assert done.returncode == 0 and done.stdout == "2\n"
    assert "runtime_init" in done.stderr and "destroy" in done.stderr


def test_trap_goes_to_stderr_with_nonzero_exit(tmp_path: Path) -> None:
    done = pywamr("run", str(payload("tc_probe")), "--arg", "case=trap-after-write",
                  "--output", f"out={tmp_path / 'o'}")
    assert done.returncode == 2 and done.stdout == ""
    assert "trap: unreachable" in done.stderr
    assert not (tmp_path / "o").exists()


def test_errors_are_reported_not_raised(tmp_path: Path) -> None:
    missing = pywamr("run", str(tmp_path / "missing.wasm"))
    assert missing.returncode == 1 and "error" in missing.stderr
    no_entry = pywamr("run", str(payload("basic")))
    assert no_entry.returncode == 1 and "entrypoint" in no_entry.stderr
    bad_arg = pywamr("run", str(example("adder")), "--arg", "novalue")
    assert bad_arg.returncode != 0 and "KEY=VALUE" in bad_arg.stderr


def test_inspect() -> None:
    done = pywamr("inspect", str(payload("tc_probe")))
    assert done.returncode == 0
    assert "env.teaclave_read_file (i32, i32, i32) -> (i32)  [host]" in done.stdout
    assert "env.strcmp (i32, i32) -> (i32)  [builtin]" in done.stdout
    assert "func    entrypoint (i32, i32) -> (i32)" in done.stdout
    unresolved = pywamr("inspect", str(payload("unresolved")))
    assert "[unresolved]" in unresolved.stdout


def test_console_script_help() -> None:
    done = pywamr("--help")
    assert done.returncode == 0 and "run" in done.stdout and "inspect" in done.stdout
