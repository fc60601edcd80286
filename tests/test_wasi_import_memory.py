"""A WASI program linked with --import-memory runs as under iwasm: it gets its
own memory, made from the import's limits (a plain Runtime.load still asks for
Runtime.define_memory)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import run_cli, run_python

import pywamr

MODES = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])

# Stores 40 at address 65540 (the second page exists only if the limits were
# honoured), adds 2 read back from there, and exits with the sum.
PROGRAM = """
(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (import "env" "memory" (memory 2 3))
  (func (export "_start")
    (i32.store (i32.const 65540) (i32.const 40))
    (call $exit (i32.add (i32.load (i32.const 65540)) (i32.const 2)))))
"""


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("import_memory")
    (directory / "p.wat").write_text(PROGRAM)
    subprocess.run(["wat2wasm", str(directory / "p.wat"), "-o", str(directory / "p.wasm")],
                   check=True)
    return directory / "p.wasm"


RUN_TWICE = """
import sys, pywamr
with pywamr.WasiCommand(sys.argv[1], mode=sys.argv[2], policy=sys.argv[3]) as command:
    print(command.run(pywamr.WasiConfig()), command.run(pywamr.WasiConfig()))
"""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("policy", pywamr.WASI_POLICIES)
def test_imported_memory_is_made_from_its_limits(program: Path, mode: str, policy: str) -> None:
    # In a child: the cold policy needs the core to itself in its process.
    result = run_python(RUN_TWICE, str(program), mode, policy)
    assert result.stdout.split() == ["42", "42"], result.stderr  # a fresh memory each run


def test_the_command_line_runs_it(program: Path) -> None:
    result = run_cli("run", str(program))
    assert result.returncode == 42, result.stderr


def test_a_plain_load_still_asks_for_the_memory(program: Path) -> None:
    with pywamr.Runtime() as runtime, pytest.raises(pywamr.LinkError, match="define_memory"):
        runtime.load(program)
