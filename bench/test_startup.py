"""Start-up cost per lifecycle policy, side by side with wasmtime-py's paths.

``python -m pytest bench/test_startup.py --benchmark-only --benchmark-min-rounds=5``;
``python -m bench.report`` runs the same cases with per-phase timings, a
memory check and a plot.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

from pywamr import teaclave

from . import startup


@pytest.fixture(scope="module")
def cases() -> Iterator[dict[str, startup.Case]]:
    teaclave.clear_cache()
    with startup.cases(10000) as found:
        yield {case.name: case for case in found}


@pytest.mark.parametrize("case_name", ["adder", "wordcount", "large"])
@pytest.mark.parametrize("policy", startup.POLICIES)
def test_pywamr_policy(benchmark: BenchmarkFixture, cases: dict[str, startup.Case],
                       case_name: str, policy: str) -> None:
    benchmark.group = f"startup-{case_name}"
    invoke, close = startup.pywamr_invoker(cases[case_name], "fast-interp", policy)
    try:
        result = benchmark(invoke)
    finally:
        close()
    assert result.ok


@pytest.mark.parametrize("case_name", ["adder", "wordcount", "large"])
@pytest.mark.parametrize("path", startup.WASMTIME_PATHS)
def test_wasmtime_path(benchmark: BenchmarkFixture, cases: dict[str, startup.Case],
                       case_name: str, path: str) -> None:
    benchmark.group = f"startup-{case_name}"
    invoke, close = startup.wasmtime_invoker(cases[case_name], path)
    try:
        if path == "cold" and case_name == "large":
            benchmark.pedantic(invoke, rounds=2, iterations=1)
        else:
            benchmark(invoke)
    finally:
        close()
