"""Cost of crash isolation: the warm path of IsolatedExecutor vs the in-process Executor.

Both run the Teaclave ``adder`` payload with a warm module (``reuse-module``: a
fresh instance per invocation).  The isolated executor adds the round trip to a
worker process: pickling the request and the ``RunResult`` and two pipe hops.
Each pair runs side by side in one group; ``calls_per_round`` is 1.

    python -m pytest bench/test_isolated.py --benchmark-only --benchmark-min-rounds=5
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pywamr import teaclave

ADDER = Path(__file__).resolve().parent.parent / "examples" / "payloads" / "wasm" / "adder.wasm"
ARGS: dict[str, Any] = {"a": 1, "b": 2}
HEAPS = {"heap20MiB": teaclave.TEACLAVE_HEAP_SIZE, "heap64KiB": 64 * 1024}


@pytest.fixture(scope="module", params=list(HEAPS))
def heap(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def isolated(heap: str) -> Iterator[teaclave.IsolatedExecutor]:
    with teaclave.IsolatedExecutor(ADDER, workers=1, heap_size=HEAPS[heap]) as executor:
        yield executor


def test_in_process(benchmark: BenchmarkFixture, heap: str) -> None:
    benchmark.group = f"isolation-{heap}"
    with teaclave.Executor(ADDER, heap_size=HEAPS[heap]) as executor:
        assert benchmark(executor.run, ARGS) == 3


def test_isolated(benchmark: BenchmarkFixture, isolated: teaclave.IsolatedExecutor,
                  heap: str) -> None:
    benchmark.group = f"isolation-{heap}"
    assert benchmark(isolated.run, ARGS) == 3


def test_isolated_invoke_timeout(benchmark: BenchmarkFixture,
                                 isolated: teaclave.IsolatedExecutor, heap: str) -> None:
    """With a timeout: the worker arms WAMR's watchdog, the parent a deadline."""
    benchmark.group = f"isolation-{heap}"
    assert benchmark(isolated.run, ARGS, timeout=5.0) == 3
