"""The reset's page-fault witness (reset.c, "Skipping the drop"): while the
process is single-threaded the calling thread's fault count stands for the
process's; once another thread exists the whole process's is read, and a
baseline of one kind never vouches for the other.

These run in a fresh interpreter each: pytest's own process may already have
started threads, and the single-threaded path is the one under test.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import INTERP_MODES, run_python
from test_reset_skip import MODULE  # the same module: a memory with a data page
from wat import wat

PRELUDE = """
import os, sys, threading
import pywamr
from pywamr.teaclave import _native

PAGE = 4096
runtime = pywamr.Runtime(sys.argv[2])
module = runtime.load(open(sys.argv[1], "rb").read())
inst = module.instantiate(heap_size=256 * 1024)
_native.snapshot(inst)
store, load = inst.exports["store"], inst.exports["load"]
size = len(inst.memory)
assert _native.reset(inst)  # the first reset drops what it may
image = inst.memory.read(0, size)
view = inst.memory.view()  # compared in place: checking must not fault itself


def settle():
    # A reset that reads nothing after it: reading a dropped page maps the
    # zero page, a fault, which would make the next reset drop whatever
    # happened in between.  After this, the main thread takes no fault.
    assert _native.reset(inst)
    assert _native.reset(inst)


def check(what):
    assert _native.reset(inst), what
    if view != image:
        after = inst.memory.read(0, size)
        first = next(i for i in range(size) if after[i] != image[i])
        raise SystemExit(f"{what}: byte {first:#x} (page {first // PAGE}) was not reset")


assert _native.reset_counts_thread(inst), "a fresh interpreter is single-threaded"
"""


@pytest.fixture(scope="module")
def module_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("witness") / "store.wasm"
    path.write_bytes(wat(MODULE))
    return path


# The view goes before the instance, the instance before its runtime: a view
# still alive when interpreter shutdown tears the runtime down can crash the
# process (noticed while writing these tests; not the subject here).
EPILOGUE = """
view.release()
inst.close()
module.close()
runtime.close()
print("ok")
"""


def _run(body: str, module_path: Path, mode: str) -> None:
    done = run_python(PRELUDE + body + EPILOGUE, str(module_path), mode)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stdout + done.stderr


@pytest.mark.parametrize("mode", INTERP_MODES)
def test_single_threaded_writes_are_undone(module_path: Path, mode: str) -> None:
    _run("""
for page in (20, 21, 20, 60, 3):  # new pages, a page again, the copied page
    store(page * PAGE + 5, 7)
    check(f"page {page} written by wasm")
check("nothing written")
inst.memory.write(70 * PAGE, b"from Python")
check("written from Python")
assert load(80 * PAGE) == 0  # a read maps the shared zero page ...
check("read only")
store(80 * PAGE + 1, 1)  # ... and a write there must still be seen
check("written after a read")
assert _native.reset_counts_thread(inst)
""", module_path, mode)


@pytest.mark.parametrize("mode", INTERP_MODES)
def test_another_thread_writing_is_seen(module_path: Path, mode: str) -> None:
    # The baseline is the main thread's own count; the write faults on the
    # writer's.  Comparing the main thread's count alone would skip the drop
    # and leave the byte: the reset must see the process is no longer
    # single-threaded and drop.
    _run("""
store(30 * PAGE, 1)
check("a first drop, baseline per thread")
writer = threading.Thread(target=inst.memory.write, args=(90 * PAGE + 1, b"\\x09"))
writer.start()
writer.join()
assert not _native.reset_counts_thread(inst), "a thread was started"
check("written by another thread")
# from now on the process's count: a further thread's write is seen too
check("nothing written")
other = threading.Thread(target=store, args=(100 * PAGE + 2, 5))
other.start()
other.join()
check("wasm store on another thread")
""", module_path, mode)


@pytest.mark.parametrize("mode", INTERP_MODES)
def test_a_thread_that_writes_while_the_main_thread_waits(module_path: Path, mode: str) -> None:
    # The thread writes and ends before the reset, leaving the main thread's
    # count as it was: only the switch to the process's count catches it.
    _run("""
check("baseline")
started = threading.Event()
def write_many():
    for page in range(40, 120, 3):
        inst.memory.write(page * PAGE + 7, b"\\x05")
    started.set()
threading.Thread(target=write_many).start()
started.wait()
check("pages written by a thread that is gone")
""", module_path, mode)


@pytest.mark.parametrize("mode", INTERP_MODES)
def test_a_thread_started_before_the_baseline(module_path: Path, mode: str) -> None:
    # The writer exists before the baseline and writes after it, while the
    # main thread only waits (takes no fault): a count of the main thread's
    # faults alone would skip the drop and leave the bytes (checked: with
    # RUSAGE_THREAD whatever the thread count, this test fails).
    _run("""
go, done = threading.Event(), threading.Event()
def writer():
    for round_ in range(6):
        go.wait()
        go.clear()
        inst.memory.write((40 + 7 * round_) * PAGE + round_, b"\\x05")
        done.set()
thread = threading.Thread(target=writer, daemon=True)
thread.start()
assert not _native.reset_counts_thread(inst)
for round_ in range(6):
    settle()
    go.set()
    done.wait()
    done.clear()
    check(f"round {round_}: page written by the other thread")
thread.join()
""", module_path, mode)


def test_a_fork_of_a_single_threaded_process(module_path: Path) -> None:
    # The child is single-threaded too and has the parent's thread token and
    # baseline; it counts its faults from zero, so its first reset must drop.
    _run("""
store(25 * PAGE, 1)
check("baseline")
pid = os.fork()
if pid == 0:
    code = 1
    try:
        store(50 * PAGE + 1, 3)
        ok = _native.reset(inst) and inst.memory.read(0, size) == image
        code = 0 if ok and _native.reset_counts_thread(inst) else 2
    finally:
        os._exit(code)
_, status = os.waitpid(pid, 0)
assert os.waitstatus_to_exitcode(status) == 0, status
check("the parent after the fork")
store(51 * PAGE, 2)
check("the parent writes again")
""", module_path, "fast-interp")


def test_thread_count_reads_the_process_once_threads_exist() -> None:
    # pywamr's own test process: whatever pytest started, a thread now exists.
    import threading

    from pywamr import Runtime
    from pywamr.teaclave import _native

    thread = threading.Thread(target=lambda: None)
    thread.start()
    thread.join()
    with Runtime("fast-interp") as runtime:
        module = runtime.load(wat(MODULE))
        with module.instantiate() as instance:
            assert not _native.reset_counts_thread(instance)
        module.close()
