"""Shared fixtures: payload paths and one runtime per interpreter mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import pywamr

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "payloads" / "wasm"
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
INTERP_MODES = ["fast-interp", "classic-interp"]


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


def payload(name: str) -> Path:
    return PAYLOADS / f"{name}.wasm"


def example(name: str) -> Path:
    return EXAMPLES / f"{name}.wasm"


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
