"""The reset's hot pages (reset.c, "Skipping the drop"): zero-run pages found
present at a drop stay resident and are cleared at every reset, up to
PW_MAX_HOT_PAGES (4,096); a hot page found clean PW_HOT_IDLE_RESETS (4)
resets in a row is dropped again, so that a write to it faults.

Whatever is hot, retired or over the budget, the whole memory is compared
with its state after the first reset, byte for byte.
"""

from __future__ import annotations

import ctypes
from collections.abc import Iterator

import pytest
from helpers import INTERP_MODES
from wat import wat

import pywamr
from pywamr.teaclave import _native

PAGE = 4096
DATA = b"initial data, restored by copying"
MAX_HOT_PAGES = 4096
IDLE_RESETS = 4

MODULE = """
(module
  (memory (export "memory") {pages} {pages})
  (data (i32.const 0x1000) "initial data, restored by copying")
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store8)
  ;; one byte into each of count pages from page first on
  (func (export "fill") (param $first i32) (param $count i32) (param $value i32)
    (local $i i32)
    (block $done (loop $next
      (br_if $done (i32.ge_u (local.get $i) (local.get $count)))
      (i32.store8 (i32.add (i32.mul (i32.add (local.get $first) (local.get $i)) (i32.const 4096))
                           (i32.and (local.get $i) (i32.const 4095)))
                  (local.get $value))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $next))))
)
"""

_libc = ctypes.CDLL(None, use_errno=True)


def resident(view: memoryview, page: int) -> bool:
    """Whether page ``page`` of linear memory is present (mincore)."""
    base = ctypes.addressof(ctypes.c_char.from_buffer(view))
    vec = (ctypes.c_ubyte * 1)()
    assert _libc.mincore(ctypes.c_void_p(base + page * PAGE), ctypes.c_size_t(PAGE), vec) == 0
    return bool(vec[0] & 1)


class Fixture:
    def __init__(self, inst: pywamr.Instance) -> None:
        self.inst = inst
        self.store = inst.exports["store"]
        self.fill = inst.exports["fill"]
        assert _native.reset(inst)  # the first reset drops whatever it may
        self.size = len(inst.memory)
        # what the memory holds after instantiation (not read from it: reading
        # maps pages, which the hot-page tests must control)
        image = bytearray(self.size)
        image[0x1000:0x1000 + len(DATA)] = DATA
        self.image = bytes(image)

    def reset_and_compare(self, what: str) -> None:
        assert _native.reset(self.inst)
        after = self.inst.memory.read(0, self.size)
        if after != self.image:
            first = next(i for i in range(self.size) if after[i] != self.image[i])
            raise AssertionError(f"{what}: byte {first:#x} (page {first // PAGE}) not reset")


def _instance(mode: str, pages: int) -> Iterator[Fixture]:
    with pywamr.Runtime(mode) as runtime:
        module = runtime.load(wat(MODULE.format(pages=pages)))
        with module.instantiate(heap_size=0) as inst:
            _native.snapshot(inst)
            yield Fixture(inst)
        module.close()


@pytest.fixture(params=INTERP_MODES)
def small(request: pytest.FixtureRequest) -> Iterator[Fixture]:
    yield from _instance(request.param, 8)  # 512 KiB, 128 pages


def test_written_pages_stay_hot_then_retire(small: Fixture) -> None:
    view = small.inst.memory.view()
    pages = [20, 21, 77]
    for page in pages:
        assert not resident(view, page)
        small.store(page * PAGE + 3, 9)  # a fault: the next reset looks at what is present
    assert _native.reset(small.inst)
    for page in pages:  # hot: kept, cleared
        assert resident(view, page) and view[page * PAGE + 3] == 0
    for _ in range(IDLE_RESETS - 1):  # clean, but not for long enough yet
        assert _native.reset(small.inst)
        assert all(resident(view, page) for page in pages)
    small.store(21 * PAGE, 4)  # written again: its clean streak starts over
    assert _native.reset(small.inst)
    assert view[21 * PAGE] == 0
    assert not resident(view, 20) and not resident(view, 77)  # clean for 4 resets: dropped
    assert resident(view, 21)
    for _ in range(IDLE_RESETS):
        assert _native.reset(small.inst)
    assert not resident(view, 21)
    small.store(20 * PAGE + 5, 1)  # a retired page written again: seen (it faults)
    view.release()
    small.reset_and_compare("a retired page written again")


def test_every_page_written_every_time(small: Fixture) -> None:
    count = small.size // PAGE - 2  # every page but the copied one and the first
    for round_ in range(8):
        small.fill(2, count, round_ + 1)
        small.reset_and_compare(f"round {round_}")


def test_pages_written_once_then_others() -> None:
    for fixture in _instance("fast-interp", 64):  # 4 MiB, 1,024 pages
        for round_ in range(10):
            first = 2 + (round_ * 97) % 900
            fixture.fill(first, 100 + round_, 7)
            if round_ % 3 == 0:
                fixture.fill(2, 1022, 3)  # all of them, now and then
            fixture.reset_and_compare(f"round {round_}")


def test_more_present_pages_than_the_budget() -> None:
    for fixture in _instance("fast-interp", 80):  # 5 MiB, 1,280 pages
        fixture.fill(2, 1278, 5)
        fixture.reset_and_compare("first")
    # over the budget: the range is dropped whole, as without hot pages
    for fixture in _instance("fast-interp", 4 * MAX_HOT_PAGES // 16 + 16):  # 17 MiB
        pages = fixture.size // PAGE
        assert pages - 2 > MAX_HOT_PAGES
        for round_ in range(3):
            fixture.fill(2, pages - 2, round_ + 1)
            fixture.reset_and_compare(f"round {round_}")
            fixture.fill(2 + round_ * 50, 50, 9)  # then a few, on hot or dropped pages
            fixture.reset_and_compare(f"round {round_}, a few pages")
