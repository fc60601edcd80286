"""Cost of the Teaclave executor (``pywamr.teaclave``): invocation, file I/O, policies.

Groups:

* ``argv-marshalling``: a warm ``Executor(adder).run({"a": 1, "b": 2})`` (fresh
  instance per call, 20 MiB app heap by default, and with a 64 KiB heap),
  against ``teaclave.flatten`` alone, the pure-Python part of the argv work.
* ``file-throughput``: ``wordcount.wasm`` copying a 64 MiB file through the
  ``teaclave_*`` file API, against Python copying (and counting newlines) in
  64 KiB chunks, and ``shutil.copyfile``.  ``extra_info["MB/s"]`` is based on the
  median.
* ``policy``: one adder invocation per lifecycle policy and interpreter.  The
  ``cold`` tests come last in this file: they re-initialise WAMR, so every
  executor here is closed inside its own test and the one-shot cache is cleared.

Run from the repository root (see ``bench/conftest.py``)::

    python -m pytest bench/test_teaclave.py --benchmark-only --benchmark-min-rounds=5
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pywamr import teaclave

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
ADDER = EXAMPLES / "adder.wasm"
WORDCOUNT = EXAMPLES / "wordcount.wasm"
PROBE = Path(__file__).resolve().parent.parent / "tests" / "payloads" / "wasm" / "tc_probe.wasm"
MODES = ["fast-interp", "classic-interp"]
ARGS: dict[str, Any] = {"a": 1, "b": 2}
FILE_SIZE = 64 * 1024 * 1024
CHUNK = 64 * 1024
MB = 1_000_000


@pytest.fixture(autouse=True)
def _no_cached_executors() -> Iterator[None]:
    """Keep the one-shot cache from holding a runtime across tests (cold needs the core)."""
    teaclave.clear_cache()
    yield
    teaclave.clear_cache()


# -- argv-marshalling ----------------------------------------------------
@pytest.mark.benchmark(group="argv-marshalling")
def test_argv_flatten_python(benchmark: BenchmarkFixture) -> None:
    assert benchmark(teaclave.flatten, ARGS) == [b"a", b"1", b"b", b"2"]


@pytest.mark.benchmark(group="argv-marshalling")
@pytest.mark.parametrize("heap_size", [teaclave.TEACLAVE_HEAP_SIZE, 64 * 1024],
                         ids=["heap20MiB", "heap64KiB"])
def test_argv_run_reuse_module(benchmark: BenchmarkFixture, heap_size: int) -> None:
    with teaclave.Executor(ADDER, policy="reuse-module", heap_size=heap_size) as ex:
        assert benchmark(ex.run, ARGS) == 3
        benchmark.extra_info["timings_ns"] = ex.invoke(ARGS, timings=True).timings


# -- file-throughput -----------------------------------------------------
@pytest.fixture(scope="session")
def big_input(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, int]:
    """A 64 MiB random file (about one byte in 256 is a newline) and its line count."""
    path = tmp_path_factory.mktemp("teaclave") / "input.bin"
    data = os.urandom(FILE_SIZE)
    path.write_bytes(data)
    return path, data.count(b"\n")


def _throughput(benchmark: BenchmarkFixture) -> None:
    assert benchmark.stats is not None
    benchmark.extra_info["bytes"] = FILE_SIZE
    benchmark.extra_info["MB/s"] = FILE_SIZE / MB / benchmark.stats.stats.median


@pytest.mark.benchmark(group="file-throughput")
@pytest.mark.parametrize("wamr_mode", MODES)
def test_file_wordcount_pywamr(benchmark: BenchmarkFixture, big_input: tuple[Path, int],
                               tmp_path: Path, wamr_mode: str) -> None:
    src, lines = big_input
    dst = tmp_path / "output.bin"
    with teaclave.Executor(WORDCOUNT, mode=wamr_mode) as ex:
        assert benchmark(ex.run, None, {"input": src}, {"output": dst}) == lines
    assert dst.stat().st_size == FILE_SIZE
    _throughput(benchmark)


@pytest.mark.benchmark(group="file-throughput")
def test_file_copy_pywamr_bridge(benchmark: BenchmarkFixture, big_input: tuple[Path, int],
                                 tmp_path: Path) -> None:
    """tc_probe's "copy" case: 1 MiB reads/writes and nothing else (the bridge itself)."""
    src, _ = big_input
    dst = tmp_path / "copy.bin"
    with teaclave.Executor(PROBE, profile="strict") as ex:  # tc_probe calls strcmp
        assert benchmark(ex.run, {"case": "copy"}, {"in": src}, {"out": dst}) == FILE_SIZE
    assert dst.stat().st_size == FILE_SIZE
    _throughput(benchmark)


def py_wordcount(src: Path, dst: Path) -> int:
    """What wordcount.wasm does: copy in 64 KiB chunks, counting newlines."""
    lines = 0
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        while chunk := fin.read(CHUNK):
            lines += chunk.count(b"\n")
            fout.write(chunk)
    return lines


@pytest.mark.benchmark(group="file-throughput")
def test_file_wordcount_python(benchmark: BenchmarkFixture, big_input: tuple[Path, int],
                               tmp_path: Path) -> None:
    src, lines = big_input
    assert benchmark(py_wordcount, src, tmp_path / "output.bin") == lines
    _throughput(benchmark)


@pytest.mark.benchmark(group="file-throughput")
def test_file_shutil_copyfile(benchmark: BenchmarkFixture, big_input: tuple[Path, int],
                              tmp_path: Path) -> None:
    src, _ = big_input
    benchmark(shutil.copyfile, src, tmp_path / "output.bin")
    _throughput(benchmark)


# -- policy (cold last) --------------------------------------------------
@pytest.mark.benchmark(group="policy")
@pytest.mark.parametrize("wamr_mode", MODES)
@pytest.mark.parametrize("policy", ["reuse-module", "reuse-runtime", "cold"])
def test_policy(benchmark: BenchmarkFixture, policy: str, wamr_mode: str) -> None:
    with teaclave.Executor(ADDER, mode=wamr_mode, policy=policy) as ex:
        assert benchmark(ex.run, ARGS) == 3
        benchmark.extra_info["timings_ns"] = ex.invoke(ARGS, timings=True).timings
