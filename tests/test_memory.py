"""Linear memory: bounds-checked copies, zero-copy views, growth."""

from __future__ import annotations

import gc

import pytest
from helpers import payload, run_python

import pywamr

PAGE = 65536


def test_read_write(basic: pywamr.Instance) -> None:
    mem = basic.memory
    assert len(mem) == PAGE and mem.size == PAGE
    assert mem.read(16, 6) == b"hello\0"
    mem.write(100, b"\x01\x02\x03")
    assert basic.call("sum_bytes", 100, 3) == 6
    basic.call("store", 200, 0x04030201)
    assert mem[200:204] == b"\x01\x02\x03\x04"
    assert mem[200] == 1 and mem[-1] == 0
    mem[300:302] = b"ab"
    mem[302] = 0x63
    assert mem.read(300, 3) == b"abc"
    assert mem.read(0, 0) == b""


@pytest.mark.parametrize("offset, size", [(PAGE, 1), (PAGE - 1, 2), (0, PAGE + 1),
                                           (1 << 40, 1), (-1, 1), (0, -1)])
def test_out_of_range(basic: pywamr.Instance, offset: int, size: int) -> None:
    with pytest.raises(IndexError):
        basic.memory.read(offset, size)
    if size >= 0:
        with pytest.raises(IndexError):
            basic.memory.write(offset, b"x" * size)


def test_views_alive_at_interpreter_exit(mode: str) -> None:
    """A view still alive when Python exits: the garbage collection at exit
    may free the instance before the view's finaliser runs (it segfaulted);
    the last view now frees an instance whose owner let go first."""
    code = (
        "import sys, pywamr\n"
        f"rt = pywamr.Runtime({mode!r})\n"
        "inst = rt.load(open(sys.argv[1], 'rb').read()).instantiate()\n"
        "view = inst.memory.view()\n"
        "closed = rt.load(open(sys.argv[1], 'rb').read()).instantiate()\n"
        "kept = closed.memory.view(); closed.close()\n"
        "cycle = [view, kept]; cycle.append(cycle)\n"
        "def f(): pass\n"
        "print(bytes(view[16:21]).decode(), bytes(kept[16:21]).decode())\n"
    )
    proc = run_python(code, str(payload("basic")))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["hello", "hello"]


def test_read_whole_memory_and_after_close(runtime: pywamr.Runtime) -> None:
    inst = runtime.load(payload("basic")).instantiate()
    mem = inst.memory
    mem.write(len(mem) - 3, b"end")
    whole = mem.read(0, len(mem))
    assert isinstance(whole, bytes) and whole == bytes(mem.view())
    assert whole[16:22] == b"hello\0" and whole[-3:] == b"end"
    assert mem.read(len(mem), 0) == b""  # an empty range at the end is in bounds
    inst.close()
    with pytest.raises(pywamr.ClosedError):
        mem.read(0, 1)
    with pytest.raises(pywamr.ClosedError):
        mem.read(0, 0)


def test_bad_types(basic: pywamr.Instance) -> None:
    with pytest.raises(TypeError):
        basic.memory.read("0", 1)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        basic.memory.write(0, "text")  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        basic.memory[PAGE]


def test_zero_copy_view(basic: pywamr.Instance) -> None:
    view = basic.memory.view()
    assert len(view) == PAGE and not view.readonly
    view[100:104] = b"\x05\x05\x05\x05"
    assert basic.call("sum_bytes", 100, 4) == 20
    basic.call("store", 400, 7)
    assert view[400] == 7


def test_grow_and_stale_views(basic: pywamr.Instance) -> None:
    old = basic.memory.view()
    assert basic.call("grow", 1) == 1
    assert len(basic.memory) == 2 * PAGE
    assert len(old) == PAGE  # a view keeps the size it was taken at
    assert len(basic.memory.view()) == 2 * PAGE
    basic.memory.write(PAGE + 10, b"z")
    assert basic.call("grow", 10) == -1  # past the declared maximum of 4 pages
    assert basic.call("pages") == 2


def test_view_keeps_memory_after_close(runtime: pywamr.Runtime) -> None:
    inst = runtime.load(payload("basic")).instantiate()
    view = inst.memory.view()
    inst.close()
    assert view[16:21] == b"hello"  # still mapped: deinstantiation waits for the view
    with pytest.raises(pywamr.ClosedError):
        inst.memory.view()
    view.release()
    del view
    gc.collect()


def test_app_heap_is_appended(runtime: pywamr.Runtime) -> None:
    inst = runtime.load(payload("basic")).instantiate(heap_size=1 << 20)
    assert len(inst.memory) > PAGE
    inst.close()
