"""Payloads on protected inputs and outputs: every mode, policy and executor."""

from __future__ import annotations

import gc
import io
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from helpers import example, payload

import pywamr
from pywamr import MODES, teaclave
from pywamr.teaclave import ProtectedFile, ProtectedFileError, _staged
from pywamr.teaclave._file_formats import decrypt, encrypt

KEY = bytes(range(16))
OUT_KEY = bytes(range(100, 116))
IV = bytes([7] * 12)
ALL_MODES = [m for m in ("fast-interp", "classic-interp", "aot") if m in MODES]


def _staged_dirs_of(pids: list[int]) -> set[str]:
    """Staging directories of those processes (other test runs may share the temp dir)."""
    return {p for p in os.listdir(tempfile.gettempdir())
            if any(p.startswith(f"pywamr-staged-{pid}-") for pid in pids)}


def _staged_leftovers() -> list[str]:
    """What this process's staging directory still holds (empty between invocations)."""
    return sorted(os.listdir(_staged.staging_dir()))


def _protect(path: Path, plain: bytes, key: bytes = KEY, fmt: str = "teaclave-file-128",
             iv: bytes | None = None) -> ProtectedFile:
    spec = ProtectedFile(path, key, fmt, iv=iv)
    tag = encrypt(io.BytesIO(plain), spec)
    return ProtectedFile(path, key, fmt, iv=iv, tag=tag)


def _plaintext(spec: ProtectedFile, tag: bytes) -> bytes:
    out = io.BytesIO()
    decrypt(ProtectedFile(spec.path, spec.key, spec.format, iv=spec.iv, tag=tag), out)
    return out.getvalue()


@pytest.mark.parametrize("mode", ALL_MODES)
@pytest.mark.parametrize("policy", teaclave.POLICIES)
@pytest.mark.parametrize("staged", ["in-memory", "streamed"])
def test_intersection_on_protected_files(tmp_path: Path, mode: str, policy: str, staged: str,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    if staged == "streamed":  # inputs through FIFOs and feeder threads, not memfds
        monkeypatch.setattr(_staged, "MEMORY_INPUT_LIMIT", 0)
    a = _protect(tmp_path / "a.enc", b"apple\nbanana\ncherry\n" * 300)
    b = _protect(tmp_path / "b.gcm", b"banana\ncherry\ndate\n", bytes(32), "aes-gcm-256", IV)
    out = ProtectedFile(tmp_path / "common.enc", OUT_KEY)
    with teaclave.Executor(example("intersection"), mode=mode, policy=policy) as executor:
        for _ in range(2):  # warm invocations stream afresh
            result = executor.invoke({}, {"input_a": a, "input_b": b}, {"output": out})
            assert result.return_value == 2 and result.file_errors == []
            assert result.outputs == {"output": str(tmp_path / "common.enc")}
            assert _plaintext(out, result.output_tags["output"]) == b"banana\ncherry\n"
    assert _staged_leftovers() == []  # the FIFOs and links are gone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.enc", "b.gcm", "common.enc"]


@pytest.mark.parametrize("fmt,key,iv", [("teaclave-file-128", OUT_KEY, None),
                                        ("aes-gcm-128", OUT_KEY, IV),
                                        ("aes-gcm-256", bytes(32), IV)])
def test_large_copy_through_a_payload(tmp_path: Path, mode: str, fmt: str, key: bytes,
                                      iv: bytes | None) -> None:
    data = os.urandom(5 * 1024 * 1024 + 123).replace(b"\n", b"x") + b"\n" * 7  # 2-level tree
    source = _protect(tmp_path / "big.enc", data)
    out = ProtectedFile(tmp_path / "copy.out", key, fmt, iv=iv)
    result = teaclave.invoke(example("wordcount"), {}, {"input": source}, {"output": out},
                             mode=mode)
    assert result.return_value == 7, result
    assert _plaintext(out, result.output_tags["output"]) == data
    if fmt != "teaclave-file-128":
        assert (tmp_path / "copy.out").read_bytes()[-16:] == result.output_tags["output"]


def test_plain_and_protected_files_mix(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("x\ny\n")
    b = _protect(tmp_path / "b.enc", b"y\nz\n")
    assert teaclave.run(example("intersection"), {}, {"input_a": tmp_path / "a.txt", "input_b": b},
                        {"output": tmp_path / "plain-out.txt"}) == 1
    assert (tmp_path / "plain-out.txt").read_text() == "y\n"


@pytest.mark.parametrize("damage", ["wrong-key", "wrong-tag", "flipped-data", "flipped-meta",
                                    "truncated", "missing", "wrong-iv"])
def test_refused_inputs_stop_the_run_before_it_starts(tmp_path: Path, damage: str) -> None:
    a = _protect(tmp_path / "a.enc", b"apple\nbanana\n" * 1000)
    b = _protect(tmp_path / "b.gcm", b"banana\n", bytes(16), "aes-gcm-128", IV)
    out_path = tmp_path / "out.enc"
    out_path.write_bytes(b"previous output")
    if damage == "wrong-key":
        a = ProtectedFile(a.path, OUT_KEY, tag=a.tag)
    elif damage == "wrong-tag":
        a = ProtectedFile(a.path, KEY, tag=bytes(16))
    elif damage == "wrong-iv":
        b = ProtectedFile(b.path, bytes(16), "aes-gcm-128", iv=bytes(12), tag=b.tag)
    elif damage == "missing":
        os.unlink(a.fspath)
    else:
        at = {"flipped-data": 3 * 4096 + 5, "flipped-meta": 200, "truncated": None}[damage]
        with open(a.fspath, "r+b") as handle:
            if at is None:
                handle.truncate(2 * 4096 + 10)
            else:
                handle.seek(at)
                byte = handle.read(1)
                handle.seek(at)
                handle.write(bytes([byte[0] ^ 1]))
    with pytest.raises(ProtectedFileError) as info:
        teaclave.invoke(example("intersection"), {}, {"input_a": a, "input_b": b},
                        {"output": ProtectedFile(out_path, OUT_KEY)})
    which = "input_b" if damage == "wrong-iv" else "input_a"
    assert info.value.file_errors == [str(info.value)]
    assert f"input '{which}' refused" in str(info.value)
    assert "Corrupted input file" in str(info.value) or "No such file" in str(info.value)
    assert out_path.read_bytes() == b"previous output"  # nothing written
    assert len(list(tmp_path.iterdir())) == (2 if damage == "missing" else 3)
    assert _staged_leftovers() == []


def test_a_trap_discards_the_protected_output(tmp_path: Path) -> None:
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    result = teaclave.invoke(payload("tc_probe"), {"case": "trap-after-write"}, {},
                             {"out": out}, profile="strict")
    assert result.trap is not None and result.output_tags == {} and result.outputs == {}
    assert "output 'out' discarded: the payload trapped" in result.file_errors
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("mode", ["teaclave", *ALL_MODES])
def test_teaclave_profile_publishes_a_protected_output_after_a_trap(tmp_path: Path,
                                                                     mode: str) -> None:
    """Teaclave stages an output as a protected file the payload writes as it
    goes, closes it when the run ends (trap or not) and converts it for upload
    afterwards: the user's file appears at the end, holding what was written."""
    (tmp_path / "in").write_text("x")
    for fmt, key in (("teaclave-file-128", OUT_KEY), ("aes-gcm-128", OUT_KEY),
                     ("aes-gcm-256", OUT_KEY * 2)):
        out = ProtectedFile(tmp_path / f"out-{fmt}", key, fmt,
                            iv=None if fmt == "teaclave-file-128" else IV)
        result = teaclave.invoke(payload("tc_fidelity"), {"case": "write-then-trap"},
                                 {"in": tmp_path / "in"}, {"out": out}, mode=mode)
        assert result.trap == "Exception: unreachable" and result.error is None
        assert result.outputs == {"out": str(out.path)} and result.file_errors == []
        assert _plaintext(out, result.output_tags["out"]) == b"partial"


def test_teaclave_profile_publishes_no_protected_output_when_the_task_fails(
        tmp_path: Path) -> None:
    """A declared output never created fails Teaclave's task at conversion,
    before anything is uploaded: no output of the run is published."""
    (tmp_path / "in").write_text("x")
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    never = ProtectedFile(tmp_path / "never.enc", OUT_KEY)
    result = teaclave.invoke(payload("tc_fidelity"), {"case": "write", "size": "5000"},
                             {"in": tmp_path / "in"}, {"out": out, "zz": never})
    assert result.return_value == 5000 and result.error is not None
    assert "'zz' was declared but never created" in result.error
    assert result.outputs == {} and result.output_tags == {}
    assert any("output 'out' discarded: the task failed" in e for e in result.file_errors)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in"]
    with teaclave.Executor(payload("tc_fidelity"), profile="strict") as strict:
        result = strict.invoke({"case": "write", "size": "5000"}, {"in": tmp_path / "in"},
                               {"out": out, "zz": never})
    assert result.error is None and list(result.output_tags) == ["out"]
    assert _plaintext(out, result.output_tags["out"]) == bytes(5000)


@pytest.mark.parametrize("profile", ["teaclave", "strict"])
def test_one_read_of_a_streamed_input_fills_the_buffer(tmp_path: Path, profile: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """A streamed input arrives through a FIFO (64 KiB of pipe buffer), yet one
    teaclave_read_file of 1 MiB returns 1 MiB, as a read of Teaclave's
    protected file does: the native reads until the buffer is full or the file
    ends (docs/protected-files.md)."""
    monkeypatch.setattr(_staged, "MEMORY_INPUT_LIMIT", 0)
    plain = os.urandom(3 << 20)
    for size in (3 << 20, (1 << 20) - 5):
        source = _protect(tmp_path / "big.enc", plain[:size])
        result = teaclave.invoke(payload("tc_fidelity"), {"case": "read-once"}, {"in": source},
                                 profile=profile)
        assert result.return_value == min(size, 1 << 20), result
        assert result.file_errors == []


def test_unopened_files_do_not_hold_the_run(tmp_path: Path) -> None:
    a = _protect(tmp_path / "a.enc", b"never read")
    out = ProtectedFile(tmp_path / "never.enc", OUT_KEY)
    result = teaclave.invoke(example("adder"), {"a": 1, "b": 2}, {"x": a}, {"y": out},
                             timeout=120, profile="strict")  # teaclave: "y" never created fails
    assert result.return_value == 3 and result.output_tags == {} and result.file_errors == []
    assert not (tmp_path / "never.enc").exists()


def test_an_output_created_but_left_empty_is_a_valid_empty_file(tmp_path: Path) -> None:
    source = _protect(tmp_path / "empty.enc", b"")
    out = ProtectedFile(tmp_path / "copy.enc", OUT_KEY)
    result = teaclave.invoke(example("wordcount"), {}, {"input": source}, {"output": out})
    assert result.return_value == 0
    assert _plaintext(out, result.output_tags["output"]) == b""


def test_the_isolated_executor_stages_protected_files(tmp_path: Path) -> None:
    a = _protect(tmp_path / "a.enc", b"k\nl\nm\n")
    b = _protect(tmp_path / "b.enc", b"l\nm\nn\n")
    out = ProtectedFile(tmp_path / "out.gcm", OUT_KEY, "aes-gcm-128", iv=IV)
    with teaclave.IsolatedExecutor(example("intersection"), workers=1) as executor:
        result = executor.invoke({}, {"input_a": a, "input_b": b}, {"output": out})
        assert result.return_value == 2
        assert result.outputs == {"output": str(tmp_path / "out.gcm")}
        assert _plaintext(out, result.output_tags["output"]) == b"l\nm\n"
        with pytest.raises(ProtectedFileError, match="input 'input_b' refused"):
            executor.invoke({}, {"input_a": a, "input_b": ProtectedFile(b.path, OUT_KEY)},
                            {"output": out})
        workers = executor.pids
        assert _staged_dirs_of(workers)  # the worker staged the protected output
    assert _staged_dirs_of(workers) == set()  # a worker removes its staging directory at exit


def test_pywamr_run_with_protected_files(tmp_path: Path) -> None:
    a = _protect(tmp_path / "a.enc", b"p\nq\n")
    (tmp_path / "b.txt").write_text("q\nr\n")
    assert isinstance(a.tag, bytes)
    command = [sys.executable, "-m", "pywamr", "run", str(example("intersection")),
               "--input", f"input_a={a.path}", "--input", f"input_b={tmp_path / 'b.txt'}",
               "--output", f"output={tmp_path / 'out.enc'}",
               "--input-crypto", f"input_a=key={KEY.hex()},tag={a.tag.hex()}",
               "--output-crypto", f"output=key={OUT_KEY.hex()}"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    tag = done.stderr.split("pywamr: output output tag ")[1].split()[0]
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    assert _plaintext(out, bytes.fromhex(tag)) == b"q\n"
    command[-3] = f"input_a=key={KEY.hex()},tag={'00' * 16}"
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "Corrupted input file" in done.stderr


def _read_all(path: str) -> bytes:
    """What the natives do: open, read until 0, close."""
    fd = os.open(path, os.O_RDONLY)
    try:
        out = bytearray()
        while True:
            block = os.read(fd, 10000)
            if not block:
                return bytes(out)
            out += block
    finally:
        os.close(fd)


@pytest.mark.parametrize("limit", [_staged.MEMORY_INPUT_LIMIT, 0])
def test_staged_inputs_reopen_from_the_start(tmp_path: Path, limit: int,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_staged, "MEMORY_INPUT_LIMIT", limit)
    data = os.urandom(300000)
    spec = _protect(tmp_path / "in.enc", data)
    with _staged.Staging({"in": spec}, {}) as staging:
        path = staging.inputs["in"]
        assert path.startswith("/proc/self/fd/") == (limit > 0)
        assert _read_all(path) == data
        assert _read_all(path) == data  # a second open after the first closed: from the start
        fd = os.open(path, os.O_RDONLY)  # a reader that stops early ...
        assert os.read(fd, 100) == data[:100]
        os.close(fd)
        assert _read_all(path) == data  # ... does not disturb the next one
        first = os.open(path, os.O_RDONLY)  # two handles at once read independently
        head = os.read(first, 1)  # (once the first has data; see _staged's known limits)
        second = os.open(path, os.O_RDONLY)
        try:
            for fd, got in ((first, bytearray(head)), (second, bytearray())):
                while block := os.read(fd, 65536):
                    got += block
                assert got == data
        finally:
            os.close(first)
            os.close(second)
        assert staging.finish(lambda fid: None) == ({}, [])


def test_staged_output_created_again_keeps_the_last_version(tmp_path: Path) -> None:
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    with _staged.Staging({}, {"out": out}) as staging:
        fifo = staging.fifo_outputs["out"]
        drain = staging._drains["out"]
        for n, text in enumerate((b"first version, longer", b"second")):
            fd = os.open(fifo, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.write(fd, text)
            os.close(fd)
            deadline = time.monotonic() + 120  # a generous upper limit
            while drain.closes <= n and time.monotonic() < deadline:
                time.sleep(0.01)  # the drain notices the close (see _staged's known limits)
        tags, errors = staging.finish(lambda fid: None)
    assert errors == [] and _plaintext(out, tags["out"]) == b"second"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.enc"]


def test_staged_output_discarded_leaves_nothing(tmp_path: Path) -> None:
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    with _staged.Staging({}, {"out": out}) as staging:
        fd = os.open(staging.fifo_outputs["out"], os.O_WRONLY)
        os.write(fd, b"x" * 100000)
        os.close(fd)
        assert staging.finish(lambda fid: "a write failed") == (
            {}, ["output 'out' discarded: a write failed"])
    assert list(tmp_path.iterdir()) == []


def test_a_failing_output_fails_fast_and_never_hangs(tmp_path: Path) -> None:
    source = _protect(tmp_path / "in.enc", b"line\n" * 50000)  # 250 KB: more than a pipe holds
    out = ProtectedFile(tmp_path / "missing-dir" / "out.enc", OUT_KEY)
    result = teaclave.invoke(example("wordcount"), {}, {"input": source}, {"output": out},
                             timeout=120)
    assert result.trap is None
    assert any("output 'output': [Errno 2]" in error for error in result.file_errors)
    assert any("teaclave_write_file" in error for error in result.file_errors)  # EPIPE: -1
    assert result.output_tags == {} and not (tmp_path / "missing-dir").exists()
    with _staged.Staging({}, {"out": out}) as staging:  # created again after the failure
        path = staging.fifo_outputs["out"]
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"x")
        os.close(fd)
        deadline = time.monotonic() + 120  # a generous upper limit
        while staging._drains["out"].is_alive() and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(FileNotFoundError):  # at once, not blocked waiting for a reader
            os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        tags, errors = staging.finish(lambda fid: None)
    assert tags == {} and errors and "[Errno 2]" in errors[0]


@pytest.mark.deliberate_crash
def test_a_crashed_worker_leaves_no_staging_behind(tmp_path: Path) -> None:
    import isolated_hosts as H

    source = _protect(tmp_path / "in.enc", b"x" * (2 * 1024 * 1024))  # streamed through FIFOs
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    with teaclave.IsolatedExecutor(payload("tc_hook"), workers=1, hosts=H.HOSTS,
                                   heap_size=64 * 1024) as executor:
        with pytest.raises(pywamr.WorkerCrashed) as info:
            executor.invoke(H.args(H.EXIT), {"in": source}, {"out": out})
        workers = [*executor.pids, info.value.pid]
    assert _staged_dirs_of(workers) == set()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.enc"]


def test_no_descriptor_thread_or_file_leaks_over_many_runs(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    small = _protect(tmp_path / "small.enc", b"a\nb\n")
    monkeypatch.setattr(_staged, "MEMORY_INPUT_LIMIT", 8)  # "small" in memory, "large" streamed
    large = _protect(tmp_path / "large.enc", b"b\nc\n" * 10)
    out = ProtectedFile(tmp_path / "out.enc", OUT_KEY)
    with teaclave.Executor(example("intersection")) as executor:
        executor.invoke({}, {"input_a": small, "input_b": large}, {"output": out})
        gc.collect()  # earlier tests' garbage closes its descriptors now, not during the loop
        fds, threads = len(os.listdir("/proc/self/fd")), threading.active_count()
        for n in range(60):
            bad = ProtectedFile(large.path, KEY, tag=bytes(16)) if n % 3 == 2 else large
            try:
                result = executor.invoke({}, {"input_a": small, "input_b": bad}, {"output": out})
            except ProtectedFileError:
                assert n % 3 == 2
                continue
            assert result.return_value == 1 and _plaintext(out, result.output_tags["output"]) == (
                b"b\n")
        assert len(os.listdir("/proc/self/fd")) <= fds  # (other tests may close some)
        assert threading.active_count() <= threads
        assert _staged_leftovers() == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["large.enc", "out.enc", "small.enc"]


def test_concurrent_executors_stage_independently(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(_staged, "MEMORY_INPUT_LIMIT", 100)  # half in memory, half streamed
    inputs = [(_protect(tmp_path / f"a{n}.enc", f"x{n}\ny\n".encode() * (n + 1)),
               _protect(tmp_path / f"b{n}.enc", f"x{n}\nz\n".encode() * 40)) for n in range(4)]

    def work(n: int) -> list[bytes]:
        a, b = inputs[n]
        out = ProtectedFile(tmp_path / f"out{n}.enc", OUT_KEY)
        seen = []
        with teaclave.Executor(example("intersection")) as executor:
            for _ in range(8):
                result = executor.invoke({}, {"input_a": a, "input_b": b}, {"output": out})
                seen.append(_plaintext(out, result.output_tags["output"]))
        return seen

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(work, range(4)))
    for n, seen in enumerate(results):
        assert seen == [f"x{n}\n".encode()] * 8
