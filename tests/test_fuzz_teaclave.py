"""Bounded fuzz runs (tools/fuzz.py), the harness's crash capture, and a
regression test for everything fuzzing has found.

The long runs are for developers: ``python tools/fuzz.py --target load
--seconds 600`` (and ``--target teaclave``); see docs/reliability.md, "Fuzzing".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import ROOT, example
from wasm_bytes import leb, name, section, vec

import pywamr
from pywamr import teaclave

FUZZ = ROOT / "tools" / "fuzz.py"
REGRESSIONS = ROOT / "tests" / "payloads" / "regressions"


def fuzz(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(FUZZ), *args], capture_output=True, text=True,
                          timeout=timeout, check=False)


@pytest.mark.parametrize("target, seed", [("load", "11"), ("teaclave", "12")])
def test_bounded_fuzz_run_finds_nothing(tmp_path: Path, target: str, seed: str) -> None:
    # Bounded by inputs, not seconds: on a loaded machine 4 s gave too few.
    done = fuzz("--target", target, "--max-inputs", "100", "--seconds", "120", "--seed", seed,
                "--batch", "400", "--crashes", str(tmp_path))
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary["found"] == [] and summary["inputs"] >= 100
    assert not list(tmp_path.iterdir())


@pytest.mark.deliberate_crash
def test_harness_saves_crashes_and_findings_with_their_seed(tmp_path: Path) -> None:
    done = fuzz("--target", "crashme", "--seconds", "60", "--seed", "5", "--batch", "8",
                "--max-inputs", "8", "--crashes", str(tmp_path))
    assert done.returncode == 1
    crash = json.loads((tmp_path / "crashme-5-3.json").read_text())
    assert (crash["target"], crash["seed"], crash["index"]) == ("crashme", 5, 3)
    report = (tmp_path / "crashme-5-3.txt").read_text()
    assert "worker died: signal 11" in report and "replayed alone: exit status -11" in report
    assert "not an allowed exception" in (tmp_path / "crashme-5-5.txt").read_text()
    replay = fuzz("--replay", str(tmp_path / "crashme-5-3.json"))
    assert replay.returncode == -11
    summary = json.loads(done.stdout[done.stdout.index("{"):])
    assert summary["inputs"] == 8  # the batch went on after the crash


# -- regressions -----------------------------------------------------------
def _loads_in_a_subprocess(data: bytes, tmp_path: Path,
                           refused: int | None = len(pywamr.MODES)) -> None:
    """Load in every mode in a child, so a regression fails the test, not pytest;
    ``refused``: how many of the loads must raise LoadError (None: any)."""
    path = tmp_path / "module.wasm"
    path.write_bytes(data)
    code = (f"import pywamr\nfor mode in pywamr.MODES:\n"
            f"    try:\n        pywamr.Runtime(mode).load(open({str(path)!r}, 'rb').read(),"
            f" allow_unresolved=True)\n    except pywamr.LoadError as e:\n"
            f"        print(mode, 'LoadError', e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, f"status {done.returncode}: {done.stderr[-2000:]}"
    if refused is not None:
        assert done.stdout.count("LoadError") == refused, done.stdout


def test_regression_br_depth_overflow(tmp_path: Path) -> None:
    """vendor/patches/0002: `br 0xFFFFFFFF` made WAMR's loader read past its stack."""
    body = b"\x00" + b"\x0c" + leb(0xFFFFFFFF) + b"\x0b"  # no locals; br 0xFFFFFFFF; end
    module = (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x00\x00"]))
              + section(3, vec([b"\x00"])) + section(10, vec([leb(len(body)) + body])))
    _loads_in_a_subprocess(module, tmp_path)
    with pywamr.Runtime() as rt, pytest.raises(pywamr.LoadError, match="unknown label"):
        rt.load(module)


@pytest.mark.parametrize("file", sorted(p.name for p in REGRESSIONS.glob("*.wasm")))
def test_saved_fuzz_crashes_load_safely(tmp_path: Path, file: str) -> None:
    """Every input that ever crashed: loads (or is refused) without crashing."""
    _loads_in_a_subprocess((REGRESSIONS / file).read_bytes(), tmp_path, refused=None)


@pytest.mark.parametrize("ops", [
    b"\x00\x02\x00\x0c\x00\x0b",  # unreachable; block (type 0) br 0 end
    b"\x00\x03\x00\x0c\x00\x0b",  # unreachable; loop (type 0) br 0 end
    b"\x00\x41\x01\x04\x00\x05\x0b",  # unreachable; i32.const 1; if (type 0) else end
    b"\x00\x03\x00\x41\x01\x0d\x00\x0b",  # unreachable; loop (type 0) i32.const 1 br_if 0 end
], ids=["block-br", "loop-br", "if-else", "loop-br_if"])
def test_regression_block_params_in_unreachable_code(tmp_path: Path, ops: bytes) -> None:
    """vendor/patches/0003: valid modules whose unreachable code enters a block
    with parameters crashed the fast interpreter's loader."""
    body = b"\x00" + ops + b"\x0b"
    module = (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x01\x7f\x01\x7f"]))
              + section(3, vec([b"\x00"])) + section(7, vec([name("f") + b"\x00\x00"]))
              + section(10, vec([leb(len(body)) + body])))
    _loads_in_a_subprocess(module, tmp_path, refused=0)
    for mode in pywamr.MODES:
        with pywamr.Runtime(mode) as rt:
            inst = rt.load(module).instantiate(heap_size=0)
            with pytest.raises(pywamr.Trap, match="unreachable"):
                inst.call("f", 1)


def test_regression_nul_in_a_path_is_refused(tmp_path: Path) -> None:
    """The C side would have cut the path at the NUL: another file was created."""
    with teaclave.Executor(example("wordcount")) as executor:
        (tmp_path / "in").write_text("x\n")
        with pytest.raises(ValueError, match="NUL"):
            executor.run({}, {"input": tmp_path / "in"}, {"output": f"{tmp_path}/out\0tail"})
        with pytest.raises(ValueError, match="NUL"):
            executor.run({}, {"input": f"{tmp_path}/in\0x"}, {"output": tmp_path / "out"})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_regression_output_path_that_cannot_be_replaced(tmp_path: Path) -> None:
    """os.replace onto a directory raised out of invoke and left the temp file."""
    (tmp_path / "in").write_text("a\nb\n")
    (tmp_path / "outdir").mkdir()
    with teaclave.Executor(example("wordcount"), profile="strict") as executor:  # renames
        result = executor.invoke({}, {"input": tmp_path / "in"}, {"output": tmp_path / "outdir"})
    assert result.ok and result.return_value == 2 and result.outputs == {}
    assert any("output 'output' discarded: it could not be moved into place" in e
               for e in result.file_errors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in", "outdir"]


@pytest.mark.parametrize("ops", [
    b"\x02",  # block, its type byte missing
    b"\x3f",  # memory.size, its reserved byte missing
    b"\x40",  # memory.grow
    b"\xfc\x0b",  # memory.fill
    b"\xfc\x0a\x00",  # memory.copy, one of two bytes
    b"\x43\x00\x00",  # f32.const, two of four bytes
    b"\x44\x00\x00\x00\x00\x00\x00",  # f64.const, six of eight bytes
], ids=["block", "memory.size", "memory.grow", "memory.fill", "memory.copy", "f32.const",
        "f64.const"])
def test_regression_truncated_immediates(tmp_path: Path, ops: bytes) -> None:
    """vendor/patches/0004: a body ending inside an immediate made the loader read
    past the module's buffer (seen by tools/sanitize.sh; here, the module is refused)."""
    body = b"\x00" + ops  # the last bytes of the module
    module = (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x00\x00"]))
              + section(3, vec([b"\x00"])) + section(5, vec([b"\x00\x01"]))
              + section(10, vec([leb(len(body)) + body])))
    _loads_in_a_subprocess(module, tmp_path)
    with pywamr.Runtime() as rt, pytest.raises(pywamr.LoadError, match="unexpected end"):
        rt.load(module)


def test_regression_int32_min_file_handle() -> None:
    """teaclave_files.c computed handle - 1 before its range check (signed overflow
    for INT32_MIN, reported by UBSan under tools/sanitize.sh --fuzz)."""
    # entrypoint(argc, argv) = close(INT32_MIN) + read(INT32_MIN, 0, 0)
    types = section(1, vec([b"\x60\x02\x7f\x7f\x01\x7f", b"\x60\x01\x7f\x01\x7f",
                            b"\x60\x03\x7f\x7f\x7f\x01\x7f"]))
    imports = section(2, vec([name("env") + name("teaclave_close_file") + b"\x00\x01",
                              name("env") + name("teaclave_read_file") + b"\x00\x02"]))
    int32_min = b"\x41\x80\x80\x80\x80\x78"
    body = (b"\x00" + int32_min + b"\x10\x00" + int32_min + b"\x41\x00\x41\x00\x10\x01"
            + b"\x6a\x0b")  # close(MIN) + read(MIN, 0, 0)
    module = (b"\0asm\x01\0\0\0" + types + imports + section(3, vec([b"\x00"]))
              + section(5, vec([b"\x00\x01"]))
              + section(7, vec([name("entrypoint") + b"\x00\x02", name("memory") + b"\x02\x00"]))
              + section(10, vec([leb(len(body)) + body])))
    with teaclave.Executor(module, heap_size=4096) as executor:
        result = executor.invoke({})
    assert result.return_value == -2
    assert result.file_errors == ["teaclave_close_file: bad or closed handle -2147483648",
                                  "teaclave_read_file: bad or closed handle -2147483648"]


def test_regression_output_never_replaces_a_special_file(tmp_path: Path) -> None:
    """An output declared at /dev/null was renamed over it: the device became a
    regular file.  A FIFO stands in for the device here."""
    import stat

    (tmp_path / "in").write_text("a\nb\n")
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # strict: outputs are renamed into place (the teaclave profile writes in place,
    # so it never renames; a FIFO without a reader would block its open there)
    with teaclave.Executor(example("wordcount"), profile="strict") as executor:
        result = executor.invoke({}, {"input": tmp_path / "in"}, {"output": fifo})
    assert result.ok and result.outputs == {}
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert any("not a regular file" in e for e in result.file_errors), result.file_errors
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fifo", "in"]
