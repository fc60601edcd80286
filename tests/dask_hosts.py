"""Injected faults for tests/test_distributed.py, importable by reference in Dask workers.

``HOSTS`` replaces the Teaclave native ``teaclave_close_file`` with one that
dereferences NULL: a payload that writes an output and then closes it kills
its worker process after the output's bytes were written (to the temporary
file), before they could be published.
"""

from __future__ import annotations

import ctypes


def crash_on_close(handle: int) -> int:
    ctypes.string_at(0)  # a real NULL dereference: the process dies with SIGSEGV
    return 0


HOSTS = {"env": {"teaclave_close_file": (crash_on_close, "(i)i")}}
