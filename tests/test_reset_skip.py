"""The reuse-instance reset when it skips dropping pages (reset.c, "Skipping
the drop"): whatever an invocation wrote, and however it wrote it, the next
one must find linear memory exactly as after the previous reset.

Writes come from wasm stores, from Python through the memory view (on this
thread and another), to pages written once, every time (the "hot" pages) and
never before, more than the hot-page budget at once, inside and outside the
app heap.  After every reset the whole memory is compared byte for byte.
"""

from __future__ import annotations

import os
import random
import threading
from collections.abc import Iterator

import pytest
from helpers import ALL_MODES
from wat import wat

import pywamr
from pywamr.teaclave import _native

PAGE = 4096
MODULE = """
(module
  (memory (export "memory") 8)
  (data (i32.const 0x3000) "initial data, restored by copying")
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store8)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
)
"""


@pytest.fixture(params=ALL_MODES)
def inst(request: pytest.FixtureRequest) -> Iterator[pywamr.Instance]:
    if request.param == "aot" and not pywamr.aot_available():
        pytest.skip("AOT is not available in this build")
    with pywamr.Runtime(request.param) as rt:
        module = rt.load(wat(MODULE))
        with module.instantiate(heap_size=256 * 1024) as instance:
            _native.snapshot(instance)
            yield instance
        module.close()


def _reset_and_compare(inst: pywamr.Instance, image: bytes) -> None:
    assert _native.reset(inst)
    after = inst.memory.read(0, len(image))
    if after != image:
        first = next(i for i in range(len(image)) if after[i] != image[i])
        raise AssertionError(f"byte {first:#x} (page {first // PAGE}) was not reset: "
                             f"{after[first]} != {image[first]}")


def test_every_write_is_undone(inst: pywamr.Instance) -> None:
    store, load = inst.exports["store"], inst.exports["load"]
    size = len(inst.memory)
    assert _native.reset(inst)  # the first reset drops everything it may
    image = inst.memory.read(0, size)
    rng = random.Random(14)
    hot = [0x10, 0x3005, size // 2 + 17]  # written at every invocation
    for round_ in range(40):
        for addr in hot:
            store(addr, round_ + 1)
        for _ in range(rng.randrange(4)):  # pages written for the first time, or again
            store(rng.randrange(size), 0xAB)
        if round_ % 3 == 0:
            inst.memory.write(rng.randrange(size - 8), b"\xff" * 8)  # from Python
        if round_ % 5 == 0:
            load(rng.randrange(size))  # a read maps the zero page; a later write must count
        if round_ % 7 == 0:
            spot = rng.randrange(size - 4)
            writer = threading.Thread(target=inst.memory.write, args=(spot, b"\x01\x02\x03\x04"))
            writer.start()
            writer.join()
        _reset_and_compare(inst, image)
        assert load(0x3000) == ord("i")


def test_many_pages_at_once(inst: pywamr.Instance) -> None:
    store = inst.exports["store"]
    size = len(inst.memory)
    assert _native.reset(inst)
    image = inst.memory.read(0, size)
    assert size // PAGE // 2 > 64  # many pages per invocation (over the budget: test_reset_hot.py)
    for round_ in range(4):
        for page in range(round_ % 2, size // PAGE, 2):
            store(page * PAGE + 1, 9)
        _reset_and_compare(inst, image)


def test_a_write_to_a_page_only_read_so_far(inst: pywamr.Instance) -> None:
    store, load = inst.exports["store"], inst.exports["load"]
    assert _native.reset(inst)
    image = inst.memory.read(0, len(inst.memory))
    addr = 40 * PAGE + 3
    assert load(addr) == 0
    _reset_and_compare(inst, image)  # nothing written: the drop may be skipped
    store(addr, 5)
    _reset_and_compare(inst, image)
    assert load(addr) == 0


def test_a_forked_child_resets_what_it_wrote(inst: pywamr.Instance) -> None:
    store = inst.exports["store"]
    assert _native.reset(inst)
    image = inst.memory.read(0, len(inst.memory))
    pid = os.fork()
    if pid == 0:  # the child counts its page faults from zero: its first reset drops
        code = 1
        try:
            store(50 * PAGE + 1, 3)
            code = 0 if _native.reset(inst) and inst.memory.read(0, len(image)) == image else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    _reset_and_compare(inst, image)  # the parent is untouched
