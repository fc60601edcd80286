"""Cost of the reuse-instance reset by linear-memory size and pages dirtied.

The reset (``src/pywamr/_csrc/reset.c``) copies back the pages that were not
zero right after instantiation, clears its hot pages and drops the others
with ``madvise`` when the process took a page fault since the last drop.
``test_reset``: each round dirties 0, 1 or every 64 KiB wasm page of a memory
of 128 KiB to 64 MiB (untimed), then times one reset.  ``test_dirty_and_reset``
times both, the page faults of the writes included: what an invocation that
writes those pages pays.  No app heap, so the memory is exactly the module's.
Run::

    python -m pytest bench/test_reset.py --benchmark-only --benchmark-min-rounds=20
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_benchmark.fixture import BenchmarkFixture

import pywamr
from pywamr.teaclave import _native

from ._wat import wat_to_wasm

PAGES = {"128KiB": 2, "1MiB": 16, "16MiB": 256, "64MiB": 1024}
DIRTIED = ["none", "one", "all"]


def _module(pages: int) -> bytes:
    """A memory of ``pages`` wasm pages with a data segment, and ``dirty(n)``:
    one store into each of the first ``n`` pages."""
    text = f"""(module
  (memory (export "memory") {pages} {pages})
  (data (i32.const 0) "initial bytes that the reset must copy back")
  (func (export "dirty") (param $n i32) (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (i32.store8 (i32.mul (local.get $i) (i32.const 65536)) (i32.const 7))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next)))))"""
    return wat_to_wasm(text)


@pytest.fixture(scope="module", params=list(PAGES))
def memory_size(request: pytest.FixtureRequest) -> Iterator[tuple[str, pywamr.Instance]]:
    with pywamr.Runtime("fast-interp") as rt:
        module = rt.load(_module(PAGES[request.param]))
        with module.instantiate(heap_size=0) as inst:
            _native.snapshot(inst)
            yield str(request.param), inst


@pytest.mark.parametrize("dirtied", DIRTIED)
def test_reset(benchmark: BenchmarkFixture, memory_size: tuple[str, pywamr.Instance],
               dirtied: str) -> None:
    label, inst = memory_size
    benchmark.group = f"reset {label}"
    pages = {"none": 0, "one": 1, "all": PAGES[label]}[dirtied]
    dirty = inst.exports["dirty"]

    def setup() -> None:
        dirty(pages)

    def reset() -> None:
        assert _native.reset(inst)

    benchmark.pedantic(reset, setup=setup, rounds=30, warmup_rounds=2)
    assert inst.memory.read(0, 7) == b"initial"


@pytest.mark.parametrize("dirtied", DIRTIED)
def test_dirty_and_reset(benchmark: BenchmarkFixture, memory_size: tuple[str, pywamr.Instance],
                         dirtied: str) -> None:
    label, inst = memory_size
    benchmark.group = f"dirty and reset {label}"
    pages = {"none": 0, "one": 1, "all": PAGES[label]}[dirtied]
    dirty = inst.exports["dirty"]

    def dirty_and_reset() -> None:
        dirty(pages)
        assert _native.reset(inst)

    benchmark.pedantic(dirty_and_reset, rounds=30, warmup_rounds=2)
    assert inst.memory.read(0, 7) == b"initial"
