"""Shared fixtures: interpreter modes, runtimes, input files, fresh caches.

Plain helpers (paths, payload builders, the CLI runner) are in ``helpers.py``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import INTERP_MODES, payload, write_input_files

import pywamr
from pywamr import _aot, teaclave


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "deliberate_crash: kills a process on purpose (deselected by "
        "tools/sanitize.sh: AddressSanitizer reports every such crash)")


@pytest.fixture(scope="session", autouse=True)
def _session_aot_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Mode "aot" compiles into this session's cache, not ~/.cache/pywamr (see _aot.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("PYWAMR_CACHE_DIR", str(tmp_path_factory.mktemp("pywamr-cache")))
        mp.delenv("PYWAMR_AOT_KEY", raising=False)
        yield


@pytest.fixture(autouse=True)
def _fresh_teaclave_cache() -> Iterator[None]:
    """Every test starts and ends with an empty one-shot executor cache (teaclave.run)."""
    teaclave.clear_cache()
    yield
    teaclave.clear_cache()


@pytest.fixture(params=INTERP_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def runtime(mode: str) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(mode) as rt:
        yield rt


@pytest.fixture
def basic(runtime: pywamr.Runtime) -> Iterator[pywamr.Instance]:
    """basic.wasm with no app heap, so memory is exactly the module's."""
    module = runtime.load(payload("basic"))
    with module.instantiate(heap_size=0) as inst:
        yield inst
    module.close()


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Input files in tmp_path (see helpers.write_input_files)."""
    return write_input_files(tmp_path)


# -- AOT (tests/test_aot_*.py) ---------------------------------------------
@pytest.fixture(scope="module")
def aot_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One AOT cache directory per test module (tests that need their own use own_cache),
    no key or CPU from the environment."""
    with pytest.MonkeyPatch.context() as mp:
        cache = tmp_path_factory.mktemp("aot-cache")
        mp.setenv(_aot.CACHE_ENV, str(cache))
        mp.delenv(_aot.KEY_ENV, raising=False)
        mp.delenv(_aot.CPU_ENV, raising=False)
        yield cache


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
def basic_container(aot_env: Path) -> bytes:
    return pywamr.compile_aot(payload("basic"))
