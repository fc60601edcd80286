"""Recycled linear-memory reservations (WAMR patch 0022) and the cheaper
instantiation of patch 0023: a recycled memory starts exactly like a fresh
one (all zero but its data segments, accessible up to its size and not one
byte beyond, growable), instances alive at the same time never share bytes,
and instantiating over and over leaks no mapping."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import INTERP_MODES, example, payload
from wat import wat

import pywamr
from pywamr import Stdio, WasiConfig, teaclave

PAGE = 65536
MODES = [*INTERP_MODES, *(["aot"] if pywamr.aot_available() else [])]
# every core: the teaclave one too (Teaclave's own build options, same patches)
CORES = [*MODES, "teaclave"]

# A memory of `pages` initial pages (at most `pages + 3`) with a data segment.
MEMORY_WAT = """
(module
  (memory (export "memory") {pages} {maximum})
  (data (i32.const 16) "segment")
  (func (export "load") (param i32) (result i32) local.get 0 i32.load8_u)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store8)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "size") (result i32) memory.size))
"""


def memory_module(pages: int) -> bytes:
    return wat(MEMORY_WAT.format(pages=pages, maximum=pages + 3))


@pytest.fixture(params=CORES)
def runtime(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(request.param) as rt:
        yield rt


def expected_fresh(pages: int) -> bytes:
    image = bytearray(pages * PAGE)
    image[16:23] = b"segment"
    return bytes(image)


def dirty_everything(inst: pywamr.Instance, grow_by: int) -> None:
    """Write every page (grown ones too) so a careless reuse would show."""
    assert inst.call("grow", grow_by) >= 0
    size = inst.call("size") * PAGE
    inst.memory.write(0, b"\xa5" * size)
    inst.call("store", size - 1, 0x5A)


def test_a_recycled_memory_reads_zero_but_its_data_segment(runtime: pywamr.Runtime) -> None:
    module = runtime.load(memory_module(1))
    for _ in range(6):  # every instance after the first takes a recycled reservation
        with module.instantiate(heap_size=0) as inst:
            assert inst.call("size") == 1
            assert inst.memory.read(0, PAGE) == expected_fresh(1)
            dirty_everything(inst, 3)


def test_a_recycled_memory_ends_where_its_size_ends(runtime: pywamr.Runtime) -> None:
    # A bigger memory (4 pages, grown to 7) is released first; the next,
    # one-page memory may take its reservation: past its single page nothing
    # may be accessible (the bounds check is the hardware's).
    with runtime.load(memory_module(4)).instantiate(heap_size=0) as big:
        dirty_everything(big, 3)
    module = runtime.load(memory_module(1))
    for _ in range(3):
        with module.instantiate(heap_size=0) as inst:
            for address in (PAGE, PAGE + 1, 2 * PAGE, 7 * PAGE - 1):
                with pytest.raises(pywamr.Trap, match="out of bounds"):
                    inst.call("load", address)
                with pytest.raises(pywamr.Trap, match="out of bounds"):
                    inst.call("store", address, 1)
            with pytest.raises(IndexError):
                inst.memory.read(PAGE, 1)
            dirty_everything(inst, 0)


def test_growing_a_recycled_memory_gives_zero_pages_up_to_the_cap(
        runtime: pywamr.Runtime) -> None:
    module = runtime.load(memory_module(1))
    with module.instantiate(heap_size=0) as first:
        dirty_everything(first, 3)  # 4 pages, every byte written
    with module.instantiate(heap_size=0) as inst:
        assert inst.call("grow", 2) == 1
        assert inst.call("size") == 3
        assert inst.memory.read(0, 3 * PAGE) == expected_fresh(3)
        assert inst.call("load", 3 * PAGE - 1) == 0
        with pytest.raises(pywamr.Trap, match="out of bounds"):
            inst.call("load", 3 * PAGE)
        assert inst.call("grow", 1) == 3
        assert inst.call("grow", 1) == -1  # the maximum (4 pages) still holds
        inst.call("store", 4 * PAGE - 1, 7)
        assert inst.call("load", 4 * PAGE - 1) == 7


def test_instances_alive_together_never_share_bytes(runtime: pywamr.Runtime) -> None:
    module = runtime.load(memory_module(1))
    for _ in range(3):
        instances = [module.instantiate(heap_size=0) for _ in range(8)]
        for i, inst in enumerate(instances):
            assert inst.memory.read(0, PAGE) == expected_fresh(1)
            inst.memory.write(1000, bytes([i + 1]) * 64)
            inst.call("store", PAGE - 1, i + 1)
        for i, inst in enumerate(instances):
            assert inst.memory.read(1000, 64) == bytes([i + 1]) * 64
            assert inst.call("load", PAGE - 1) == i + 1
        for inst in instances:
            inst.close()


def reservations() -> int:
    """Linear-memory reservations mapped in this process: each has one
    inaccessible mapping of more than 4 GiB (8 GiB minus the memory)."""
    count = 0
    for line in Path("/proc/self/maps").read_text().splitlines():
        match = re.match(r"([0-9a-f]+)-([0-9a-f]+) ---p", line)
        if match and int(match[2], 16) - int(match[1], 16) > 4 << 30:
            count += 1
    return count


def test_many_cycles_leak_no_mapping() -> None:
    runtimes = [pywamr.Runtime(mode) for mode in CORES]
    modules = {rt.mode: rt.load(memory_module(1)) for rt in runtimes}
    for module in modules.values():  # fill each core's pool
        [module.instantiate(heap_size=0) for _ in range(6)].clear()
    before = reservations()
    for _ in range(200):
        for module in modules.values():
            together = [module.instantiate(heap_size=0) for _ in range(3)]
            together[0].call("store", 5, 1)
            for inst in together:
                inst.close()
            module.instantiate(heap_size=0).close()
    assert reservations() <= before
    for module in modules.values():
        module.close()
    for rt in runtimes:
        rt.close()


def test_teaclave_cold_cycles_recycle_and_leak_nothing() -> None:
    adder = example("adder").read_bytes()
    with teaclave.Executor(adder, mode="fast-interp", policy="cold") as executor:
        assert executor.invoke({"a": "40", "b": "2"}).return_value == 42
        before = reservations()
        for _ in range(100):
            assert executor.invoke({"a": "1", "b": "2"}).return_value == 3
        assert reservations() <= before


@pytest.mark.parametrize("mode", MODES)
def test_wasi_and_plain_modules_side_by_side(mode: str) -> None:
    # Patch 0023 skips the WASI context of a module that imports no WASI
    # function; a WASI module made before and after still has its own.
    with pywamr.Runtime(mode) as runtime:
        plain = runtime.load(memory_module(1))
        probe = runtime.load(payload("wasi_probe"))
        for code in range(3):
            with plain.instantiate(heap_size=0) as inst:
                assert inst.call("load", 16) == ord("s")
            config = WasiConfig(argv=["p", "exit", str(code)], stdout=Stdio.CAPTURE)
            with probe.instantiate(wasi=config) as inst:
                assert inst.run() == code
                assert inst.wasi.take_stdout() == f"exiting {code}\n".encode()
