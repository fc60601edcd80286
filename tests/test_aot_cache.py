"""The AOT cache: compile once, verify every entry, survive damage and concurrency."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import aot_cache_entries, forged_container, payload, raw_aot, requires_aot, run_python

import pywamr
from pywamr import _aot

pytestmark = [requires_aot, pytest.mark.usefixtures("aot_env")]

# ---------------------------------------------------------------------------
# The cache
def isolated(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter (same environment); returns its stdout."""
    done = run_python(code, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_mode_aot_compiles_once(own_cache: Path, compiles: list[str]) -> None:
    with pywamr.Runtime("aot") as rt:
        for _ in range(3):
            assert rt.load(payload("cpu")).instantiate().call("fib", 10) == 55
    assert len(compiles) == 1 and len(aot_cache_entries(own_cache)) == 1
    assert (own_cache / "key").stat().st_mode & 0o777 == 0o600
    assert (own_cache / "aot").stat().st_mode & 0o077 == 0
    _aot._memo.clear()  # a new process: read from disk, no compilation
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("cpu"))
    assert len(compiles) == 1


def test_another_build_does_not_reuse_cached_code(own_cache: Path, compiles: list[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A pywamr rebuilt with other WAMR patches (say a compiler fix) compiles again."""
    assert len(_aot.build_id()) == 64  # written by CMake into pywamr/_build_info.py
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("cpu"))
    monkeypatch.setattr(_aot, "build_id", lambda: "another build")
    _aot._memo.clear()
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("cpu"))
    assert len(compiles) == 2 and len(aot_cache_entries(own_cache)) == 2


def test_corrupted_cache_entries_are_recompiled(own_cache: Path, compiles: list[str]) -> None:
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("basic"))
        (entry,) = aot_cache_entries(own_cache)
        good = entry.read_bytes()
        other = pywamr.compile_aot(payload("cpu"))  # authentic, but for another wasm
        damages = [good[:-1] + bytes([good[-1] ^ 1]), good[:len(good) // 2], b"", os.urandom(64),
                   raw_aot(), other, forged_container({}, key=b"x" * 32)]
        del compiles[:]
        for damaged in damages:
            entry.write_bytes(damaged)
            os.utime(entry, ns=(1, 1))  # even with a stale timestamp
            with rt.load(payload("basic")).instantiate(heap_size=0) as inst:
                assert inst.call("add", 2, 3) == 5
            assert entry.read_bytes() != damaged
            assert _aot.unseal(entry.read_bytes(), _aot.load_key())[0]["wasm_sha256"] == \
                hashlib.sha256(payload("basic").read_bytes()).hexdigest()
    assert len(compiles) == len(damages)


def test_key_file_checks(own_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key = _aot.load_key()
    assert len(key) == 32 and _aot.load_key() == key
    (own_cache / "key").chmod(0o644)
    with pytest.raises(pywamr.WamrError, match="mode 0600"):
        _aot.load_key()
    (own_cache / "key").chmod(0o600)
    (own_cache / "key").write_bytes(b"short")
    with pytest.raises(pywamr.WamrError, match="damaged"):
        _aot.load_key()
    monkeypatch.setenv(_aot.KEY_ENV, "short")
    with pytest.raises(pywamr.WamrError, match="at least 16"):
        _aot.load_key()


def test_cache_location(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(_aot.CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert _aot.cache_dir() == tmp_path / "xdg" / "pywamr"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert _aot.cache_dir() == tmp_path / "home" / ".cache" / "pywamr"


def test_unwritable_cache_still_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    monkeypatch.setenv(_aot.CACHE_ENV, str(blocker / "cache"))
    monkeypatch.setenv(_aot.KEY_ENV, "a key that is long enough")
    with pywamr.Runtime("aot") as rt, pytest.warns(RuntimeWarning, match="not usable"):
        assert rt.load(payload("basic")).instantiate().call("add", 1, 2) == 3


THREADS = """
import sys, threading
import pywamr
from pywamr import _aot
compiles = []
real = _aot._compile_raw
_aot._compile_raw = lambda wasm, opts: compiles.append(1) or real(wasm, opts)
results = []
barrier = threading.Barrier(8)
def worker():
    barrier.wait()
    try:
        with pywamr.Runtime("aot") as rt, rt.load(sys.argv[1]).instantiate() as inst:
            results.append(inst.call("fib", 15))
    except BaseException as exc:
        results.append(exc)
threads = [threading.Thread(target=worker) for _ in range(8)]
[t.start() for t in threads]
[t.join() for t in threads]
print(results, len(compiles))
"""


def test_concurrent_threads_share_one_compilation(own_cache: Path) -> None:
    assert isolated(THREADS, str(payload("cpu"))) == f"{[610] * 8} 1\n"
    assert len(aot_cache_entries(own_cache)) == 1
    assert not list((own_cache / "aot").glob(".*"))  # no temporary files left


WRITER = """
import os, sys, threading
from pathlib import Path
import pywamr
from pywamr import _aot
wasm, rounds = Path(sys.argv[1]), int(sys.argv[2])
entry = None
def work():
    for _ in range(rounds):
        for p in (Path(os.environ["PYWAMR_CACHE_DIR"]) / "aot").glob("*.aot"):
            try:
                p.unlink()  # force a compile and a write again
            except FileNotFoundError:
                pass
        _aot._memo.clear()
        with pywamr.Runtime("aot") as rt:
            assert rt.load(wasm).instantiate().call("fib", 12) == 144
threads = [threading.Thread(target=work) for _ in range(2)]
[t.start() for t in threads]
[t.join() for t in threads]
print("ok")
"""


def test_concurrent_processes_do_not_corrupt_the_cache(own_cache: Path) -> None:
    env = {**os.environ, _aot.CACHE_ENV: str(own_cache)}
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(payload("cpu")), "4"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    seen = 0
    while any(p.poll() is None for p in procs):  # every entry seen is whole and authentic
        for path in aot_cache_entries(own_cache):
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            _aot.unseal(data, _aot.load_key())
            seen += 1
        time.sleep(0.005)
    for p in procs:
        out, err = p.communicate()
        assert p.returncode == 0 and out == "ok\n", err
    (entry,) = aot_cache_entries(own_cache)
    assert _aot.unseal(entry.read_bytes(), _aot.load_key())[0]["cpu"] == _aot.DEFAULT_CPU
    assert len(list(own_cache.glob(".key-*"))) == 0
