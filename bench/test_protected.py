"""Cost of Teaclave's protected files (docs/protected-files.md), side by side with plain files.

Groups:

* ``protected-read``: ``wordcount.wasm`` (fast-interp, a warm executor)
  reading a 16 MiB input and writing it to a plain output: the input plain,
  as a teaclave-file-128 (SGX protected file) and as aes-gcm-128; then both
  sides protected.  Against the format alone: pywamr decrypting the same
  protected file in Python (no payload).  ``extra_info["MB/s"]`` is based on
  the median.
* ``protected-warm``: one warm invocation (policy reuse-instance) of
  ``intersection.wasm`` on two small inputs and one output: plain files,
  protected inputs (teaclave-file-128, tags checked), protected inputs and
  output.

Run from the repository root::

    python -m pytest bench/test_protected.py --benchmark-only --benchmark-min-rounds=5
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pywamr import teaclave
from pywamr.teaclave import ProtectedFile
from pywamr.teaclave._file_formats import chunks, encrypt, plaintext_reader

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
SIZE = 16 * 1024 * 1024
KEY = bytes(range(16))
IV = bytes(12)
MB = 1_000_000


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    base = tmp_path_factory.mktemp("protected-bench")
    data = os.urandom(SIZE)
    (base / "plain.bin").write_bytes(data)
    out: dict[str, object] = {"dir": base, "plain": base / "plain.bin"}
    for name, fmt, iv in (("sgx", "teaclave-file-128", None), ("gcm", "aes-gcm-128", IV)):
        spec = ProtectedFile(base / f"{name}.bin", KEY, fmt, iv=iv)
        out[name] = ProtectedFile(spec.path, KEY, fmt, iv=iv,
                                  tag=encrypt(io.BytesIO(data), spec))
    small = {"a": b"apple\nbanana\ncherry\n" * 20, "b": b"banana\ncherry\ndate\n" * 20}
    for name, text in small.items():
        (base / f"{name}.txt").write_bytes(text)
        spec = ProtectedFile(base / f"{name}.enc", KEY)
        out[f"{name}.enc"] = ProtectedFile(spec.path, KEY, tag=encrypt(io.BytesIO(text), spec))
    return out


@pytest.fixture(autouse=True)
def _no_cached_executors() -> Iterator[None]:
    teaclave.clear_cache()
    yield
    teaclave.clear_cache()


def _throughput(benchmark: BenchmarkFixture) -> None:
    benchmark.extra_info["MB/s"] = round(SIZE / MB / benchmark.stats.stats.median, 1)


# -- protected-read --------------------------------------------------------
@pytest.mark.benchmark(group="protected-read")
@pytest.mark.parametrize("kind", ["plain", "sgx", "gcm"])
def test_read_through_payload(benchmark: BenchmarkFixture, files: dict[str, object],
                              kind: str) -> None:
    out = Path(str(files["dir"])) / f"out-{kind}.bin"
    with teaclave.Executor(EXAMPLES / "wordcount.wasm") as executor:
        result = benchmark(executor.invoke, {}, {"input": files[kind]}, {"output": out})
        assert result.ok and result.file_errors == []
    assert os.path.getsize(out) == SIZE
    _throughput(benchmark)


@pytest.mark.benchmark(group="protected-read")
def test_read_and_write_protected_through_payload(benchmark: BenchmarkFixture,
                                                  files: dict[str, object]) -> None:
    out = ProtectedFile(Path(str(files["dir"])) / "out.sgx", KEY)
    with teaclave.Executor(EXAMPLES / "wordcount.wasm") as executor:
        result = benchmark(executor.invoke, {}, {"input": files["sgx"]}, {"output": out})
        assert result.ok and "output" in result.output_tags
    _throughput(benchmark)


@pytest.mark.benchmark(group="protected-read")
def test_decrypt_in_python_only(benchmark: BenchmarkFixture, files: dict[str, object]) -> None:
    spec = files["sgx"]
    assert isinstance(spec, ProtectedFile)

    def read_all() -> int:
        with plaintext_reader(spec) as reader:
            return sum(len(chunk) for chunk in chunks(reader))

    assert benchmark(read_all) == SIZE
    _throughput(benchmark)


# -- protected-warm --------------------------------------------------------
@pytest.mark.benchmark(group="protected-warm")
@pytest.mark.parametrize("kind", ["plain", "protected-inputs", "protected-inputs-and-output"])
def test_warm_invocation(benchmark: BenchmarkFixture, files: dict[str, object],
                         kind: str) -> None:
    base = Path(str(files["dir"]))
    if kind == "plain":
        inputs: dict[str, object] = {"input_a": base / "a.txt", "input_b": base / "b.txt"}
    else:
        inputs = {"input_a": files["a.enc"], "input_b": files["b.enc"]}
    output: object = base / "common.txt"
    if kind == "protected-inputs-and-output":
        output = ProtectedFile(base / "common.enc", KEY)
    with teaclave.Executor(EXAMPLES / "intersection.wasm") as executor:
        result = benchmark(executor.invoke, {}, inputs, {"output": output})  # type: ignore[arg-type]
        assert result.return_value == 2 and result.file_errors == []


# -- interleaved warm measurement (less sensitive to a busy machine) -----------
def interleaved(rounds: int = 300) -> dict[str, tuple[float, float]]:
    """Warm intersection invocations, the three kinds in turn: (min, median) seconds each."""
    import tempfile
    import time

    base = Path(tempfile.mkdtemp())
    specs = {}
    texts = {"a": b"apple\nbanana\ncherry\n" * 20, "b": b"banana\ncherry\ndate\n" * 20}
    for name, text in texts.items():
        (base / f"{name}.txt").write_bytes(text)
        spec = ProtectedFile(base / f"{name}.enc", KEY)
        specs[name] = ProtectedFile(spec.path, KEY, tag=encrypt(io.BytesIO(text), spec))
    plain_in = {"input_a": base / "a.txt", "input_b": base / "b.txt"}
    protected_in = {"input_a": specs["a"], "input_b": specs["b"]}
    kinds = {"plain": (plain_in, base / "o.txt"),
             "protected inputs": (protected_in, base / "o.txt"),
             "protected inputs and output": (protected_in, ProtectedFile(base / "o.enc", KEY))}
    times: dict[str, list[float]] = {kind: [] for kind in kinds}
    with teaclave.Executor(EXAMPLES / "intersection.wasm") as executor:
        for _ in range(rounds):
            for kind, (inputs, output) in kinds.items():
                start = time.perf_counter()
                executor.invoke({}, inputs, {"output": output})  # type: ignore[arg-type]
                times[kind].append(time.perf_counter() - start)
    return {kind: (min(v), sorted(v)[len(v) // 2]) for kind, v in times.items()}


if __name__ == "__main__":  # python bench/test_protected.py (from the repository root)
    for kind, (low, median) in interleaved().items():
        print(f"{kind:<30} min {low * 1e3:.2f} ms   median {median * 1e3:.2f} ms")
