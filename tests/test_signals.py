"""WAMR's SIGSEGV/SIGBUS handler must not change what other faults and signals do.

WAMR traps wasm out-of-bounds accesses with a SIGSEGV handler.  Unpatched
1.1.2 swallowed a SIGSEGV sent with kill() *and* uninstalled itself, so the
process survived the kill and crashed on the next out-of-bounds access that
should have trapped; it aborted instead of calling a previous handler
installed without SA_SIGINFO (Python's faulthandler); and a second thread
chained the handler to itself (endless recursion instead of the previous
handler).  vendor/patches/0001-posix-signal-chaining.patch fixes all three.
Each case runs in a subprocess, since the outcome may be a dead process.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap

import pytest
from helpers import PAYLOADS

PRELUDE = f"""
import ctypes, faulthandler, os, signal, sys, threading
import pywamr
rt = pywamr.Runtime(sys.argv[1])
inst = rt.load({str(PAYLOADS / 'basic.wasm')!r}).instantiate(heap_size=0)
def oob():
    try:
        inst.call("load", 10**6)
    except pywamr.Trap as trap:
        print("trap:", trap, flush=True)
"""


def run(body: str, mode: str, before: str = "") -> subprocess.CompletedProcess[str]:
    source = "import signal\n" + before + PRELUDE + textwrap.dedent(body)
    return subprocess.run([sys.executable, "-c", source, mode],
                          capture_output=True, text=True, timeout=60, check=False)


def test_out_of_bounds_traps_repeatedly(mode: str) -> None:
    done = run("oob(); oob(); print('end')", mode)
    assert done.returncode == 0 and done.stdout.count("trap: out of bounds") == 2


@pytest.mark.deliberate_crash
def test_kill_with_sigsegv_still_kills(mode: str) -> None:
    done = run("os.kill(os.getpid(), signal.SIGSEGV); print('survived', flush=True); oob()", mode)
    assert done.returncode == -signal.SIGSEGV, done.stderr
    assert "survived" not in done.stdout


def test_ignored_sigsegv_stays_ignored_and_traps_still_work(mode: str) -> None:
    done = run("""
        os.kill(os.getpid(), signal.SIGSEGV)
        oob(); print('end')
        """, mode, before="signal.signal(signal.SIGSEGV, signal.SIG_IGN)\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("trap: out of bounds memory access\nend\n")


@pytest.mark.deliberate_crash
@pytest.mark.parametrize("where", ["main", "thread"])
def test_a_real_crash_reaches_faulthandler(mode: str, where: str) -> None:
    body = f"""
        def crash():
            inst2 = rt.load({str(PAYLOADS / "basic.wasm")!r}).instantiate(heap_size=0)
            inst2.call("add", 1, 2)  # this thread gets WAMR's signal environment
            ctypes.string_at(0)
        if sys.argv[2] == "thread":
            t = threading.Thread(target=crash); t.start(); t.join()
        else:
            crash()
        """
    done = subprocess.run([sys.executable, "-X", "faulthandler", "-c",
                           PRELUDE + textwrap.dedent(body), mode, where],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == -signal.SIGSEGV, done.stderr[-2000:]
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert "unhandled SIGSEGV" not in done.stderr


@pytest.mark.parametrize("late", ["fast-interp", "classic-interp"])
def test_both_cores_keep_trapping_after_another_thread_initialises_one(late: str) -> None:
    """A thread initialising one core used to push the other core's handler out."""
    source = f"""
import threading
import pywamr
B = {str(PAYLOADS / 'basic.wasm')!r}
fast = pywamr.Runtime("fast-interp").load(B).instantiate(heap_size=0)
classic = pywamr.Runtime("classic-interp").load(B).instantiate(heap_size=0)
def other():
    pywamr.Runtime({late!r}).load(B).instantiate(heap_size=0).call("add", 1, 2)
t = threading.Thread(target=other); t.start(); t.join()
for inst in (fast, classic, fast):
    try:
        inst.call("load", 10**6)
    except pywamr.Trap as trap:
        print("trap:", trap, flush=True)
"""
    done = subprocess.run([sys.executable, "-c", source], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("trap: out of bounds memory access") == 3
