"""AOT: compile_aot, mode "aot", the integrity-checked container and the cache."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import EXAMPLES, ROOT, example, payload
from wasm_bytes import leb, name, section, vec

import pywamr
from pywamr import _aot, teaclave

pytestmark = pytest.mark.skipif(not pywamr.aot_available(),
                                reason="pywamr was built without the AOT compiler (no LLVM 14)")

ALL_MODES = ["fast-interp", "classic-interp", "aot"]
SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


@pytest.fixture(scope="module", autouse=True)
def _aot_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One cache directory for the module (tests that need their own set it), no key/cpu env."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("aot-cache")
        mp.setenv(_aot.CACHE_ENV, str(cache))
        mp.delenv(_aot.KEY_ENV, raising=False)
        mp.delenv(_aot.CPU_ENV, raising=False)
        yield cache


@pytest.fixture(autouse=True)
def _fresh_teaclave_cache() -> Iterator[None]:
    teaclave.clear_cache()
    yield
    teaclave.clear_cache()


@pytest.fixture
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv(_aot.CACHE_ENV, str(cache))
    return cache


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Count real compilations (the cache's, not compile_aot's)."""
    seen: list[str] = []
    real = _aot._compile_raw

    def counting(wasm: bytes, opts: dict[str, Any]) -> tuple[bytes, str]:
        seen.append(hashlib.sha256(wasm).hexdigest())
        return real(wasm, opts)

    monkeypatch.setattr(_aot, "_compile_raw", counting)
    return seen


@pytest.fixture(scope="module")
def basic_container(_aot_env: Path) -> bytes:
    return pywamr.compile_aot(payload("basic"))


def entries(cache: Path) -> list[Path]:
    return sorted((cache / "aot").glob("*.aot"))


# ---------------------------------------------------------------------------
# Same results in every mode
BASIC_CALLS: list[tuple[Any, ...]] = [
    ("add", 2, 3), ("add", -1, 1), ("add_i64", 1 << 40, -5), ("add_f32", 1.5, 2.25),
    ("add_f64", 0.1, 0.2), ("mixed", -3, 1 << 35, 0.5, 2.25), ("pair", 21), ("triple",),
    ("div_s", 7, -2), ("trunc", -3.9), ("grow", 1), ("pages",), ("incr",), ("incr",),
    ("get_counter",), ("spin", 10_000), ("store", 64, 0x01020304), ("load", 64),
    ("sum_bytes", 16, 6), ("noop",),
]
CPU_CALLS: list[tuple[Any, ...]] = [
    ("fib", 0), ("fib", 1), ("fib", 20), ("sieve", 2), ("sieve", 100_000), ("sieve", 1 << 21),
    ("matmul", 0), ("matmul", 48), ("matmul", 129), ("sha256_loop", 0), ("sha256_loop", 300),
]


def run_calls(mode: str, name: str, calls: list[tuple[Any, ...]]) -> list[Any]:
    with pywamr.Runtime(mode) as rt:
        module = rt.load(payload(name))
        assert module.kind == ("aot" if mode == "aot" else "wasm")
        with module.instantiate(heap_size=0) as inst:
            return [inst.call(*call) for call in calls]


@pytest.mark.parametrize("name, calls", [("basic", BASIC_CALLS), ("cpu", CPU_CALLS)])
def test_payload_results_identical_in_every_mode(name: str, calls: list[tuple[Any, ...]]) -> None:
    results = {mode: run_calls(mode, name, calls) for mode in ALL_MODES}
    assert results["aot"] == results["fast-interp"] == results["classic-interp"]
    if name == "cpu":
        by_call = dict(zip(calls, results["aot"]))
        assert by_call[("fib", 20)] == 6765 and by_call[("sieve", 100_000)] == 9592
        expected = int.from_bytes(hashlib.sha256(SHA_MSG * 300).digest()[:4], "big")
        assert by_call[("sha256_loop", 300)] & 0xFFFFFFFF == expected


def test_exports_and_globals_in_aot() -> None:
    with pywamr.Runtime("aot") as rt:
        module = rt.load(payload("basic"))
        wasm_module = pywamr.Runtime("fast-interp").load(payload("basic"))
        assert [(e.name, e.kind, e.type) for e in module.exports] == \
               [(e.name, e.kind, e.type) for e in wasm_module.exports]
        with module.instantiate(heap_size=0) as inst:
            assert inst.memory.read(16, 6) == b"hello\0"
            inst.memory.write(200, bytes(range(10)))
            assert inst.call("sum_bytes", 200, 10) == 45


def probe(mode: str, case: str, tmp: Path, **kwargs: Any) -> tuple[Any, ...]:
    inp = tmp / "in.txt"
    inp.write_bytes(b"input bytes\n" * 10)
    out = tmp / f"{mode}-{case}.txt"
    result = teaclave.invoke(payload("tc_probe"), {"case": case}, {"in": inp}, {"out": out},
                             mode=mode, **kwargs)
    text = out.read_bytes() if out.exists() else None
    return (result.return_value, result.summary, result.trap, result.file_errors,
            result.files_left_open, text)


def test_example_payloads_identical_in_every_mode(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("apple\nbanana\ncherry\n")
    (tmp_path / "b.txt").write_text("banana\ncherry\ndate\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(1 << 20).replace(b"\n", b"x") + b"\n" * 7)
    assert {p.stem for p in EXAMPLES.glob("*.wasm")} == {"adder", "compare", "intersection",
                                                        "wordcount"}
    outcomes = {}
    for mode in ALL_MODES:
        got: list[Any] = [teaclave.run(example("adder"), {"a": 40, "b": 2}, mode=mode),
                          teaclave.run(example("adder"), {"a": 1}, mode=mode)]
        for inputs in (("a.txt", "a.txt"), ("a.txt", "b.txt")):
            out = tmp_path / f"{mode}-result.txt"
            got += [teaclave.run(example("compare"), {}, {"input_a": tmp_path / inputs[0],
                                                          "input_b": tmp_path / inputs[1]},
                                 {"result": out}, mode=mode), out.read_text()]
        out = tmp_path / f"{mode}-common.txt"
        got += [teaclave.run(example("intersection"), {}, {"input_a": tmp_path / "a.txt",
                                                           "input_b": tmp_path / "b.txt"},
                             {"output": out}, mode=mode), out.read_text()]
        out = tmp_path / f"{mode}-copy.bin"
        got += [teaclave.run(example("wordcount"), {}, {"input": big}, {"output": out},
                             mode=mode), out.read_bytes() == big.read_bytes()]
        outcomes[mode] = got
    assert outcomes["aot"] == outcomes["fast-interp"] == outcomes["classic-interp"]
    assert outcomes["aot"] == [42, -1, 0, "same\n", 1, "different\n", 2, "banana\ncherry\n",
                               7, True]


@pytest.mark.parametrize("case", ["bad-handle", "wrong-direction", "closed-handle", "unknown-id",
                                  "out-of-bounds", "leave-open", "trap-after-write", "many",
                                  "handles", "copy"])
def test_file_api_probe_identical_in_every_mode(case: str, tmp_path: Path) -> None:
    results = [probe(mode, case, tmp_path) for mode in ALL_MODES]
    assert results[0] == results[1] == results[2]


def test_host_functions_and_libc_in_aot() -> None:
    with pywamr.Runtime("aot") as rt:
        seen: list[bytes] = []

        def h_buf(data: memoryview) -> int:
            seen.append(bytes(data))
            return len(data)

        rt.register_hosts("env", {
            "h_add": (lambda a, b: a + b, "(ii)i"), "h_buf": (h_buf, "(*~)i"),
            "h_str": (lambda s: len(s), "($)i"), "h_ptr": (lambda p: p, "(*)i"),
            "h_i64": (lambda v: v * 2, "(I)I"), "h_f32": (lambda v: v / 2, "(f)f"),
            "h_f64": (lambda v: v * 1.5, "(F)F"), "h_void": (lambda: None, "()")})
        module = rt.load(payload("host"))
        assert module.kind == "aot"
        assert {i.name: i.provider for i in module.imports}["h_add"] == "host"
        with module.instantiate() as inst:
            inst.memory.write(100, b"hello\0")
            assert inst.call("call_add", 2, 40) == 42
            assert inst.call("call_buf", 100, 5) == 5 and seen == [b"hello"]
            assert inst.call("call_str", 100) == 5
            assert inst.call("call_i64", 1 << 40) == 1 << 41
            assert inst.call("call_f64", 2.0) == 3.0
            with pytest.raises(pywamr.Trap, match="out of bounds"):
                inst.call("call_buf", len(inst.memory) - 2, 10)
        rt.register_host("env", "h_add", lambda a, b: 1 // 0, "(ii)i")
        with rt.load(payload("host")).instantiate() as inst:
            with pytest.raises(ZeroDivisionError):
                inst.call("call_add", 1, 2)
            assert inst.call("call_i64", 3) == 6
        with rt.load(payload("libc")).instantiate() as inst:
            inst.capture_output()
            assert inst.call("hello", 7) == 7
            assert inst.take_output() == b"hello 7\n"


# ---------------------------------------------------------------------------
# Traps and timeouts
@pytest.fixture
def aot_basic() -> Iterator[pywamr.Instance]:
    with pywamr.Runtime("aot") as rt:
        module = rt.load(payload("basic"))
        with module.instantiate(heap_size=0) as inst:
            yield inst


@pytest.mark.parametrize("call, message", [
    (("div_s", 1, 0), "integer divide by zero"),
    (("div_s", -(1 << 31), -1), "integer overflow"),
    (("trunc", 1e300), "integer overflow"),
    (("boom",), "unreachable"),
    (("load", 1 << 20), "out of bounds memory access"),
    (("store", (1 << 16) - 2, 1), "out of bounds memory access"),
    (("recurse", 0), "native stack overflow"),
])
def test_traps_in_aot(aot_basic: pywamr.Instance, call: tuple[Any, ...], message: str) -> None:
    for _ in range(2):
        with pytest.raises(pywamr.Trap) as info:
            aot_basic.call(*call)
        assert info.value.message == message
        assert aot_basic.call("add", 1, 2) == 3  # usable again


def isolated(code: str, *args: str) -> str:
    """Run ``code`` in a fresh interpreter (same environment); returns its stdout."""
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_stack_overflow_in_threads() -> None:
    caught: list[Any] = []

    def deep() -> None:
        with pywamr.Runtime("aot") as rt, rt.load(payload("basic")).instantiate() as inst:
            try:
                inst.call("recurse", 0)
            except pywamr.Trap as trap:
                caught.append(trap.message)
            caught.append(inst.call("add", 2, 2))

    for stack in (0, 1 << 20):  # the default thread stack, and 1 MiB
        previous = threading.stack_size(stack)
        try:
            worker = threading.Thread(target=deep)
            worker.start()
            worker.join()
        finally:
            threading.stack_size(previous)
    assert caught == ["native stack overflow", 4] * 2
    with (pywamr.Runtime("classic-interp") as rt, rt.load(payload("basic")).instantiate() as inst,
          pytest.raises(pywamr.Trap, match="out of bounds")):  # the other core still traps
        inst.call("load", 1 << 20)


def deep_host_module() -> bytes:
    """down(n) = h(n) + down(n + 1): recursion that calls the host at every depth."""
    body = (b"\x00" + b"\x20\x00\x10\x00" + b"\x20\x00\x41\x01\x6a\x10\x01" + b"\x6a"
            + b"\x0b")
    return (b"\0asm\x01\0\0\0" + section(1, vec([b"\x60\x01\x7f\x01\x7f"]))
            + section(2, vec([name("env") + name("h") + b"\x00\x00"]))
            + section(3, vec([b"\x00"])) + section(7, vec([name("down") + b"\x00\x01"]))
            + section(10, vec([leb(len(body)) + body])))


def test_host_calls_at_the_native_stack_limit() -> None:
    """The host runs at the deepest level, just above the overflow check (the stack guard)."""
    calls: list[int] = []

    def h(depth: int) -> int:
        calls.append(depth)
        return len(json.dumps([[[{"depth": depth}]]] * 8))  # some real Python work

    def run() -> None:
        with pywamr.Runtime("aot") as rt:
            rt.register_host("env", "h", h, "(i)i")
            with rt.load(deep_host_module()).instantiate() as inst:
                for _ in range(2):  # and again: the instance stays usable
                    with pytest.raises(pywamr.Trap, match="native stack overflow"):
                        inst.call("down", 0)

    run()
    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert len(calls) > 1000


def test_timeout_stops_aot_code(aot_basic: pywamr.Instance) -> None:
    for _ in range(3):
        start = time.monotonic()
        with pytest.raises(pywamr.Timeout, match="timed out"):
            aot_basic.call("spin", 1 << 62, timeout=0.2)
        assert 0.15 < time.monotonic() - start < 2.0
        assert aot_basic.call("add", 1, 2) == 3
    assert aot_basic.call("spin", 1000, timeout=5) == 1000
    with teaclave.Executor(payload("tc_probe"), mode="aot", timeout=5) as executor:
        assert executor.run({"case": "handles"}) in (0, 1)


# ---------------------------------------------------------------------------
# The container: only what pywamr produced, checked before WAMR sees it
def test_container_layout_and_metadata(basic_container: bytes) -> None:
    assert basic_container.startswith(_aot.MAGIC)
    meta, image = _aot.unseal(basic_container, _aot.load_key())
    assert image.startswith(b"\0aot")
    assert meta["wamr"] == pywamr.WAMR_VERSION and meta["pywamr"] == pywamr.__version__
    assert meta["target"] == _aot.HOST_TARGET and meta["cpu"] == _aot.DEFAULT_CPU
    assert meta["opt_level"] == 3 and meta["size_level"] == 3 and meta["stack_bounds_checks"] == 1
    assert meta["wasm_sha256"] == hashlib.sha256(payload("basic").read_bytes()).hexdigest()
    assert meta["llvm"].startswith("14.")


@pytest.mark.parametrize("mode", ALL_MODES)
def test_container_loads_in_every_mode(basic_container: bytes, mode: str, tmp_path: Path) -> None:
    path = tmp_path / "basic.aot"
    path.write_bytes(basic_container)
    with pywamr.Runtime(mode) as rt:
        for source in (basic_container, path, bytearray(basic_container)):
            module = rt.load(source)
            assert module.kind == "aot"
            with module.instantiate() as inst:
                assert inst.call("add", 20, 22) == 42


def raw_aot() -> bytes:
    return _aot._compile_raw(payload("basic").read_bytes(), _aot.options())[0]


@pytest.mark.parametrize("mode", ALL_MODES)
def test_raw_wamr_aot_is_refused(mode: str, tmp_path: Path) -> None:
    image = raw_aot()
    path = tmp_path / "raw.aot"
    path.write_bytes(image)
    with pywamr.Runtime(mode) as rt:
        for source in (image, path, b"\0aot", b"\0aot" + os.urandom(100)):
            with pytest.raises(pywamr.LoadError, match="refusing a raw WAMR AOT file"):
                rt.load(source)


@pytest.mark.parametrize("mode", ALL_MODES)
def test_damaged_containers_raise_load_error(basic_container: bytes, mode: str) -> None:
    split = _aot._HEADER.size + int.from_bytes(basic_container[13:17], "little")
    with pywamr.Runtime(mode) as rt:
        for cut in [*range(split + 40), len(basic_container) // 2, len(basic_container) - 1]:
            with pytest.raises(pywamr.LoadError):
                rt.load(basic_container[:cut])
        with pytest.raises(pywamr.LoadError, match="trailing"):
            rt.load(basic_container + b"\0")
        for i in range(len(_aot.MAGIC), len(basic_container), 5):  # every 5th byte flipped
            damaged = bytearray(basic_container)
            damaged[i] ^= 0x40
            with pytest.raises(pywamr.LoadError):
                rt.load(damaged)
        assert rt.load(basic_container).instantiate().call("add", 1, 1) == 2


def forged(meta_changes: dict[str, Any], key: bytes | None = None) -> bytes:
    meta, image = _aot.unseal(pywamr.compile_aot(payload("basic")), _aot.load_key())
    return _aot.seal({**meta, **meta_changes}, image, key or _aot.load_key())


def test_foreign_containers_raise_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pywamr.Runtime("aot") as rt:
        with pytest.raises(pywamr.LoadError, match="another key"):
            rt.load(forged({}, key=b"k" * 32))
        with pytest.raises(pywamr.LoadError, match="WAMR 1.2.0"):
            rt.load(forged({"wamr": "1.2.0"}))
        with pytest.raises(pywamr.LoadError, match="cannot check"):
            rt.load(forged({"cpu": "skylake"}))
        monkeypatch.setattr(_aot, "_cpu_flags", lambda: frozenset({"sse2"}))
        with pytest.raises(pywamr.LoadError, match="this CPU lacks .*sse4_2"):
            rt.load(forged({}))
        monkeypatch.undo()
        version_2 = bytearray(forged({}))
        version_2[11] = 2
        with pytest.raises(pywamr.LoadError, match="format 2"):
            rt.load(bytes(version_2))
        # Signed with a key from PYWAMR_AOT_KEY: only loads with that key.
        monkeypatch.setenv(_aot.KEY_ENV, "an explicit key of 32 characters")
        container = pywamr.compile_aot(payload("basic"))
        assert rt.load(container).kind == "aot"
        monkeypatch.delenv(_aot.KEY_ENV)
        with pytest.raises(pywamr.LoadError, match="integrity check"):
            rt.load(container)


def test_container_for_another_target_is_refused() -> None:
    other = "aarch64v8" if _aot.HOST_TARGET == "x86_64" else "x86_64"
    container = pywamr.compile_aot(payload("basic"), target=other)
    assert _aot.unseal(container, _aot.load_key())[0]["target"] == other
    for mode in ALL_MODES:
        with pywamr.Runtime(mode) as rt, pytest.raises(pywamr.LoadError, match="target"):
            rt.load(container)


def test_corrupted_raw_image_inside_a_signed_container_never_reaches_wamr() -> None:
    meta, image = _aot.unseal(pywamr.compile_aot(payload("basic")), _aot.load_key())
    resealed = _aot.seal(meta, b"\0asm" + image[4:], _aot.load_key())
    with pywamr.Runtime() as rt, pytest.raises(pywamr.LoadError, match="malformed contents"):
        rt.load(resealed)


# ---------------------------------------------------------------------------
# Compilation
def test_compile_errors() -> None:
    for bad in (b"", b"not wasm", b"\0asm\1\0\0\0\xff\xff", b"\0asm\2\0\0\0"):
        with pytest.raises(pywamr.LoadError, match="AOT compilation failed"):
            pywamr.compile_aot(bad)
    with pywamr.Runtime("aot") as rt:
        with pytest.raises(pywamr.LoadError, match="magic|version|section|unexpected end"):
            rt.load(b"\0asm\1\0\0\0\xff\xff")
        with pytest.raises(pywamr.LoadError, match="not a WebAssembly module"):
            rt.load(b"hello world")
    with pytest.raises(ValueError, match="opt_level"):
        pywamr.compile_aot(payload("basic"), opt_level=4)
    with pytest.raises(ValueError, match="cpu 'skylake'"):
        pywamr.compile_aot(payload("basic"), cpu="skylake")
    with pytest.raises(TypeError):
        pywamr.compile_aot(12)  # type: ignore[arg-type]


def test_cpu_choice_is_recorded_and_keyed(own_cache: Path, compiles: list[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    host = _aot.resolve_cpu(_aot.HOST_TARGET, "host")
    meta = _aot.unseal(pywamr.compile_aot(payload("basic"), cpu="host", opt_level=1),
                       _aot.load_key())[0]
    assert meta["cpu"] == host and meta["opt_level"] == 1
    del compiles[:]
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("basic"))
        monkeypatch.setenv(_aot.CPU_ENV, "host")
        rt.load(payload("basic")).instantiate().call("add", 1, 1)
        rt.load(payload("basic"))
    metas = [_aot.unseal(p.read_bytes(), _aot.load_key())[0] for p in entries(own_cache)]
    assert sorted(m["cpu"] for m in metas) == sorted({_aot.DEFAULT_CPU, host})
    assert len(compiles) == len({_aot.DEFAULT_CPU, host})


def test_memory_cap_is_compiled_in(basic_container: bytes) -> None:
    with pywamr.Runtime("aot") as rt:
        inst = rt.load(payload("basic"), max_memory_pages=2).instantiate(heap_size=0)
        assert [inst.call("grow", 1), inst.call("grow", 1), inst.call("pages")] == [1, -1, 2]
        with pytest.raises(pywamr.LoadError, match="max_memory_pages"):
            rt.load(basic_container, max_memory_pages=2)


def test_without_the_compiler(monkeypatch: pytest.MonkeyPatch, basic_container: bytes) -> None:
    def missing() -> Any:
        raise _aot.AotUnavailableError("built without the AOT compiler")

    monkeypatch.setattr(_aot, "_compiler", missing)
    with pytest.raises(pywamr.AotUnavailableError):
        pywamr.compile_aot(payload("basic"))
    with pywamr.Runtime("aot") as rt:
        assert rt.load(basic_container).kind == "aot"  # containers need no compiler
        with pytest.raises(pywamr.AotUnavailableError):
            rt.load(b"\0asm\1\0\0\0" + os.urandom(8))


# ---------------------------------------------------------------------------
# The cache
def test_mode_aot_compiles_once(own_cache: Path, compiles: list[str]) -> None:
    with pywamr.Runtime("aot") as rt:
        for _ in range(3):
            assert rt.load(payload("cpu")).instantiate().call("fib", 10) == 55
    assert len(compiles) == 1 and len(entries(own_cache)) == 1
    assert (own_cache / "key").stat().st_mode & 0o777 == 0o600
    assert (own_cache / "aot").stat().st_mode & 0o077 == 0
    _aot._memo.clear()  # a new process: read from disk, no compilation
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("cpu"))
    assert len(compiles) == 1


def test_corrupted_cache_entries_are_recompiled(own_cache: Path, compiles: list[str]) -> None:
    with pywamr.Runtime("aot") as rt:
        rt.load(payload("basic"))
        (entry,) = entries(own_cache)
        good = entry.read_bytes()
        other = pywamr.compile_aot(payload("cpu"))  # authentic, but for another wasm
        damages = [good[:-1] + bytes([good[-1] ^ 1]), good[:len(good) // 2], b"", os.urandom(64),
                   raw_aot(), other, forged({}, key=b"x" * 32)]
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
    assert len(entries(own_cache)) == 1
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
        for path in entries(own_cache):
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
    (entry,) = entries(own_cache)
    assert _aot.unseal(entry.read_bytes(), _aot.load_key())[0]["cpu"] == _aot.DEFAULT_CPU
    assert len(list(own_cache.glob(".key-*"))) == 0


# ---------------------------------------------------------------------------
# Teaclave and the command line
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_teaclave_executor_in_aot_with_every_policy(policy: str, tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x\ny\nz\n")
    (tmp_path / "b").write_text("y\nz\n")
    with teaclave.Executor(example("intersection"), mode="aot", policy=policy) as executor:
        for _ in range(3):
            out = tmp_path / "out"
            result = executor.invoke({}, {"input_a": tmp_path / "a", "input_b": tmp_path / "b"},
                                     {"output": out}, timings=True)
            assert (result.return_value, out.read_text()) == (2, "y\nz\n")
            assert result.timings is not None and result.timings["call"] > 0
    with teaclave.Executor(example("adder"), mode="aot", policy=policy) as executor:
        assert [executor.run({"a": i, "b": 1}) for i in range(3)] == [1, 2, 3]
    (tmp_path / "in").write_bytes(b"input bytes\n" * 10)
    files = ({"in": tmp_path / "in"}, {"out": tmp_path / "o"})
    with teaclave.Executor(payload("tc_probe"), mode="aot", policy=policy) as executor:
        assert executor.invoke({"case": "leave-open"}, *files).files_left_open == 2
        second = executor.invoke({"case": "handles"}, *files)  # nothing leaks between runs
        assert (second.return_value, second.files_left_open, second.file_errors) == (1, 1, [])


def test_aot_shares_the_fast_core_for_cold_runs() -> None:
    gc.collect()
    rt = pywamr.Runtime("fast-interp")
    try:
        with pytest.raises(pywamr.WamrError, match="close other runtimes"):
            teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="aot", policy="cold")
    finally:
        rt.close()
    assert teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="aot", policy="cold") == 3


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pywamr", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_cli_compile_run_and_inspect(tmp_path: Path) -> None:
    out = tmp_path / "adder.aot"
    done = cli("compile", str(example("adder")), "-o", str(out), "--opt-level", "2",
               "--cpu", "x86-64-v2" if _aot.HOST_TARGET == "x86_64" else "generic")
    assert done.returncode == 0, done.stderr
    assert f"{out}: " in done.stdout and "opt level 2" in done.stdout
    assert _aot.unseal(out.read_bytes(), _aot.load_key())[0]["opt_level"] == 2
    for mode in ALL_MODES:
        done = cli("run", str(out), "--arg", "a=40", "--arg", "b=2", "--mode", mode)
        assert done.returncode == 0 and done.stdout == "42\n", done.stderr
    done = cli("run", str(example("adder")), "--arg", "a=1", "--arg", "b=2", "--mode", "aot",
               "--repeat", "3", "--policy", "cold")
    assert done.returncode == 0 and done.stdout == "3\n", done.stderr
    done = cli("inspect", str(payload("basic")), "--mode", "aot")
    assert done.returncode == 0 and "aot module" in done.stdout and "recurse" in done.stdout
    done = cli("inspect", str(out))
    assert done.returncode == 0 and "aot module" in done.stdout


def test_cli_refuses_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "bad.wasm"
    bad.write_bytes(b"\0asm\1\0\0\0\xff")
    done = cli("compile", str(bad), "-o", str(tmp_path / "x.aot"))
    assert done.returncode == 1 and "AOT compilation failed" in done.stderr
    assert not (tmp_path / "x.aot").exists()
    raw = tmp_path / "raw.aot"
    raw.write_bytes(raw_aot())
    done = cli("run", str(raw))
    assert done.returncode == 1 and "refusing a raw WAMR AOT file" in done.stderr
    done = cli("compile", str(example("adder")), "-o", str(tmp_path / "y.aot"), "--cpu", "nope")
    assert done.returncode == 1 and "cpu 'nope'" in done.stderr


def test_readme_documents_aot() -> None:
    readme = (ROOT / "README.md").read_text()
    for needle in ("compile_aot", 'mode="aot"', "PYWAMR_CACHE_DIR", "PYWAMR_AOT_KEY",
                   "pywamr compile", "x86-64-v2", "JIT"):
        assert needle in readme
