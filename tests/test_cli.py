"""The command line, run as users run it (a subprocess): every subcommand."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import ALL_MODES, example, payload, raw_aot, requires_aot
from helpers import run_cli as pywamr

from pywamr import _aot


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
                  "--output", f"out={tmp_path / 'o'}", "--profile", "strict")
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


def test_max_memory_pages_from_the_command_line() -> None:
    ok = pywamr("run", str(example("adder")), "--arg", "a=1", "--arg", "b=2",
                "--max-memory-pages", "20")
    assert ok.returncode == 0 and ok.stdout == "3\n"
    refused = pywamr("run", str(example("adder")), "--max-memory-pages", "1")
    assert refused.returncode == 1 and "max_memory_pages=1" in refused.stderr


# -- AOT: pywamr compile, run and inspect in mode aot ---------------------
@requires_aot
@pytest.mark.usefixtures("aot_env")
def test_aot_compile_run_and_inspect(tmp_path: Path) -> None:
    out = tmp_path / "adder.aot"
    done = pywamr("compile", str(example("adder")), "-o", str(out), "--opt-level", "2",
                  "--cpu", "x86-64-v2" if _aot.HOST_TARGET == "x86_64" else "generic")
    assert done.returncode == 0, done.stderr
    assert f"{out}: " in done.stdout and "opt level 2" in done.stdout
    assert _aot.unseal(out.read_bytes(), _aot.load_key())[0]["opt_level"] == 2
    for mode in ALL_MODES:
        done = pywamr("run", str(out), "--arg", "a=40", "--arg", "b=2", "--mode", mode,
                      "--profile", "strict")
        assert done.returncode == 0 and done.stdout == "42\n", done.stderr
    done = pywamr("run", str(out), "--arg", "a=40", "--arg", "b=2")  # Teaclave's build: no AOT
    assert done.returncode == 1 and "cannot run in the teaclave profile" in done.stderr
    done = pywamr("run", str(example("adder")), "--arg", "a=1", "--arg", "b=2", "--mode", "aot",
                  "--repeat", "3", "--policy", "cold")
    assert done.returncode == 0 and done.stdout == "3\n", done.stderr
    done = pywamr("inspect", str(payload("basic")), "--mode", "aot")
    assert done.returncode == 0 and "aot module" in done.stdout and "recurse" in done.stdout
    done = pywamr("inspect", str(out))
    assert done.returncode == 0 and "aot module" in done.stdout


@requires_aot
@pytest.mark.usefixtures("aot_env")
def test_aot_refuses_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\1\0\0\0\xff")
    done = pywamr("compile", str(bad), "-o", str(tmp_path / "x.aot"))
    assert done.returncode == 1 and "AOT compilation failed" in done.stderr
    assert not (tmp_path / "x.aot").exists()
    raw = tmp_path / "raw.aot"
    raw.write_bytes(raw_aot())
    done = pywamr("run", str(raw))
    assert done.returncode == 1 and "refusing a raw WAMR AOT file" in done.stderr
    done = pywamr("compile", str(example("adder")), "-o", str(tmp_path / "y.aot"), "--cpu", "nope")
    assert done.returncode == 1 and "cpu 'nope'" in done.stderr
