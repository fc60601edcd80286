"""Cost of crash isolation: the warm path of IsolatedExecutor vs the in-process Executor.

Both run the Teaclave ``adder`` payload warm, with the default policy
(``reuse-instance``: one instance, reset between invocations) and with
``reuse-module`` (a fresh instance per invocation), with a 20 MiB and a 64 KiB app
heap.  The isolated executor adds the round trip to a worker process: pickling
the request and the ``RunResult`` and two pipe hops.  Each trio runs side by side
in one group; ``calls_per_round`` is 1.

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


POLICIES = ["reuse-instance", "reuse-module"]


@pytest.fixture(scope="module", params=[(p, h) for p in POLICIES for h in HEAPS],
                ids=lambda ph: f"{ph[0]}-{ph[1]}")
def setup(request: pytest.FixtureRequest) -> tuple[str, str]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def isolated(setup: tuple[str, str]) -> Iterator[teaclave.IsolatedExecutor]:
    policy, heap = setup
    with teaclave.IsolatedExecutor(ADDER, workers=1, policy=policy,
                                   heap_size=HEAPS[heap]) as executor:
        yield executor


def test_in_process(benchmark: BenchmarkFixture, setup: tuple[str, str]) -> None:
    policy, heap = setup
    benchmark.group = f"isolation-{policy}-{heap}"
    with teaclave.Executor(ADDER, policy=policy, heap_size=HEAPS[heap]) as executor:
        assert benchmark(executor.run, ARGS) == 3


def test_isolated(benchmark: BenchmarkFixture, isolated: teaclave.IsolatedExecutor,
                  setup: tuple[str, str]) -> None:
    benchmark.group = f"isolation-{setup[0]}-{setup[1]}"
    assert benchmark(isolated.run, ARGS) == 3


def test_isolated_with_timeout(benchmark: BenchmarkFixture,
                               isolated: teaclave.IsolatedExecutor,
                               setup: tuple[str, str]) -> None:
    """With a timeout: the worker arms WAMR's watchdog, the parent a deadline."""
    benchmark.group = f"isolation-{setup[0]}-{setup[1]}"
    assert benchmark(isolated.run, ARGS, timeout=5.0) == 3
