"""The AOT container: only what pywamr produced, checked before WAMR sees it;
compile options and errors."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_MODES, aot_cache_entries, forged_container, payload, raw_aot, requires_aot

import pywamr
from pywamr import _aot

pytestmark = [requires_aot, pytest.mark.usefixtures("aot_env")]

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


def test_foreign_containers_raise_load_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with pywamr.Runtime("aot") as rt:
        with pytest.raises(pywamr.LoadError, match="another key"):
            rt.load(forged_container({}, key=b"k" * 32))
        with pytest.raises(pywamr.LoadError, match=r"WAMR 1\.2\.0"):
            rt.load(forged_container({"wamr": "1.2.0"}))
        with pytest.raises(pywamr.LoadError, match="cannot check"):
            rt.load(forged_container({"cpu": "skylake"}))
        monkeypatch.setattr(_aot, "_cpu_flags", lambda: frozenset({"sse2"}))
        with pytest.raises(pywamr.LoadError, match=r"this CPU lacks .*sse4_2"):
            rt.load(forged_container({}))
        monkeypatch.undo()
        version_2 = bytearray(forged_container({}))
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
        with pytest.raises(pywamr.LoadError, match=r"magic|version|section|unexpected end"):
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
    metas = [_aot.unseal(p.read_bytes(), _aot.load_key())[0] for p in aot_cache_entries(own_cache)]
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
