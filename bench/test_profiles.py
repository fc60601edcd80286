"""Cost of the teaclave profile next to the strict one, in pywamr's fast modes.

In a mode other than ``teaclave`` the teaclave profile first loads the
payload in Teaclave's own WAMR build (mode ``teaclave``) to refuse what
Teaclave refuses and to find the imports left unlinked there
(docs/teaclave-fidelity.md).  That check is made when an executor is built;
the result is remembered by the payload's hash, so further executors of the
same payload skip it.  Groups, each for ``adder.wasm`` (641 bytes) and
``intersection.wasm`` (27 KiB, Rust) in fast-interp and classic-interp:

* ``profile-executor``: build and close a ``reuse-instance`` executor, what
  ``teaclave.run`` pays for a new payload and every batch worker per payload:
  ``strict``, ``teaclave`` with the check remembered (``teaclave-cached``),
  and ``teaclave`` with the memory cleared before every round
  (``teaclave-uncached``: what every executor paid before the cache).
* ``profile-cold``: one invocation of a ``cold`` executor (WAMR initialised
  and destroyed per invocation, Teaclave's own sequence), per profile.
* ``profile-warm``: one warm invocation of a ``reuse-instance`` executor,
  per profile.

Run from the repository root (see ``bench/conftest.py``)::

    python -m pytest bench/test_profiles.py --benchmark-only --benchmark-min-rounds=20
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pywamr import teaclave
from pywamr.teaclave import _executor

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "payloads" / "wasm"
MODES = ["fast-interp", "classic-interp"]
PAYLOADS: dict[str, tuple[Path, dict[str, Any], dict[str, str], int]] = {
    # name: (payload, arguments, inputs as file id -> text, expected result)
    "adder": (EXAMPLES / "adder.wasm", {"a": 40, "b": 2}, {}, 42),
    "intersection": (EXAMPLES / "intersection.wasm", {},
                     {"input_a": "apple\nbanana\ncherry\n", "input_b": "banana\ncherry\n"}, 2),
}
PROFILES = ["strict", "teaclave-cached", "teaclave-uncached"]


@pytest.fixture(autouse=True)
def _no_cached_executors() -> Iterator[None]:
    """Cold executors need their mode's core to themselves."""
    teaclave.clear_cache()
    yield
    teaclave.clear_cache()


def _files(tmp_path: Path, name: str) -> tuple[dict[str, Path], dict[str, Path]]:
    inputs = {}
    for fid, text in PAYLOADS[name][2].items():
        inputs[fid] = tmp_path / fid
        inputs[fid].write_text(text)
    outputs = {"output": tmp_path / "output"} if name == "intersection" else {}
    return inputs, outputs


@pytest.mark.benchmark(group="profile-executor")
@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("variant", PROFILES)
def test_build_executor(benchmark: BenchmarkFixture, name: str, mode: str, variant: str) -> None:
    path = PAYLOADS[name][0]
    profile = variant.split("-")[0]

    def build() -> None:
        teaclave.Executor(path, profile=profile, mode=mode).close()

    def setup() -> None:
        if variant == "teaclave-uncached":
            _executor._validated.clear()

    build()  # the cached variant starts with the check remembered
    benchmark.pedantic(build, setup=setup, rounds=40, warmup_rounds=2)


@pytest.mark.benchmark(group="profile-cold")
@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("profile", ["strict", "teaclave"])
def test_cold_invocation(benchmark: BenchmarkFixture, tmp_path: Path, name: str, mode: str,
                         profile: str) -> None:
    path, arguments, _, expected = PAYLOADS[name]
    inputs, outputs = _files(tmp_path, name)
    with teaclave.Executor(path, profile=profile, mode=mode, policy="cold") as executor:
        result = benchmark(executor.invoke, arguments, inputs, outputs)
    assert result.return_value == expected, result


@pytest.mark.benchmark(group="profile-warm")
@pytest.mark.parametrize("name", sorted(PAYLOADS))
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("profile", ["strict", "teaclave"])
def test_warm_invocation(benchmark: BenchmarkFixture, tmp_path: Path, name: str, mode: str,
                         profile: str) -> None:
    path, arguments, _, expected = PAYLOADS[name]
    inputs, outputs = _files(tmp_path, name)
    with teaclave.Executor(path, profile=profile, mode=mode) as executor:
        result = benchmark(executor.invoke, arguments, inputs, outputs)
    assert result.return_value == expected, result
