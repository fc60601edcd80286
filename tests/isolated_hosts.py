"""Host functions for tests/test_isolated.py: importable by reference in workers.

``hook`` serves tc_hook.wasm, whose entrypoint returns memory.grow(hook(argc));
argc is twice the number of arguments, so the argument count picks the action.
"""

from __future__ import annotations

import ctypes
import os
import signal
import time

OK, SEGV, HANG, ABORT, EXIT, RAISE, KILL, SLOW = 0, 2, 4, 6, 8, 10, 12, 14


def hook(argc: int) -> int:
    if argc == SEGV:
        ctypes.string_at(0)  # a real NULL dereference
    elif argc == HANG:
        time.sleep(3600)  # native code the watchdog cannot interrupt
    elif argc == ABORT:
        os.abort()
    elif argc == EXIT:
        os._exit(7)
    elif argc == RAISE:
        raise ValueError("host function failed on purpose")
    elif argc == KILL:
        os.kill(os.getpid(), signal.SIGSEGV)
    elif argc == SLOW:
        time.sleep(0.5)  # returns: the in-process watchdog stops the call after it
    return 0


def args(action: int) -> dict[str, int]:
    """Arguments that make tc_hook call ``hook(action)``."""
    return {f"k{i}": i for i in range(action // 2)}


HOSTS = {"env": {"hook": (hook, "(i)i")}}
