"""The Teaclave executor's one seam to the native layer.

Everything :mod:`pywamr.teaclave` needs below the public API (the bridge's
Teaclave file table, entry invocation, instance snapshots, fresh runtimes)
goes through these functions; no other module of the package touches
``Instance._c``, ``_core``, ``Function._func`` or ``Runtime._fresh``.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from .._errors import Trap
from .._instance import Instance
from .._lib import raise_status
from .._runtime import Runtime

#: ``max_output``/``max_total`` meaning "unbounded" in the bridge.
_UNBOUNDED = (1 << 64) - 1


def fresh_runtime(mode: str) -> Runtime:
    """A runtime that initialises WAMR from scratch and destroys it on close."""
    return Runtime._fresh(mode)


def snapshot(instance: Instance) -> None:
    """Record the instance's state right after instantiation (for :func:`reset`)."""
    lib = instance._core.lib
    rc = lib.pw_instance_snapshot(instance._c)
    if rc != lib.PW_OK:
        raise_status(instance._core, rc, "could not snapshot the instance")


def reset(instance: Instance) -> bool:
    """Restore the snapshot; False when impossible (e.g. memory grew)."""
    lib = instance._core.lib
    return bool(lib.pw_instance_reset(instance._c) == lib.PW_OK)


def reset_counts_thread(instance: Instance) -> bool:
    """Whether a reset now would read the calling thread's page-fault count
    (the process is single-threaded) rather than the whole process's, to
    decide whether it may skip dropping pages (reset.c)."""
    return bool(instance._core.lib.pw_reset_counts_thread())


def instantiate_timings(instance: Instance) -> tuple[int, int]:
    """Nanoseconds the bridge measured for instantiation and exec-env creation."""
    ffi, lib = instance._core.ffi, instance._core.lib
    inst_ns, env_ns = ffi.new("uint64_t *"), ffi.new("uint64_t *")
    lib.pw_instance_timings(instance._c, inst_ns, env_ns)
    return int(inst_ns[0]), int(env_ns[0])


# -- the file table ---------------------------------------------------------
def configure_files(instance: Instance, teaclave_rules: bool, max_output: int | None,
                    max_total: int | None) -> None:
    """Rules and caps for the coming run (see teaclave_files.c)."""
    lib = instance._core.lib
    rc = lib.pw_files_configure(instance._c, int(teaclave_rules),
                                _UNBOUNDED if max_output is None else max_output,
                                _UNBOUNDED if max_total is None else max_total)
    if rc != lib.PW_OK:
        raise_status(instance._core, rc, "could not set up the file table")


def declare_file(instance: Instance, file_id: str, path: str, is_output: bool) -> None:
    """Let the payload open ``file_id``: the natives open exactly ``path``."""
    lib = instance._core.lib
    rc = lib.pw_files_declare(instance._c, file_id.encode(), os.fsencode(path), int(is_output))
    if rc != lib.PW_OK:
        raise_status(instance._core, rc, "could not declare a file")


def close_files(instance: Instance) -> int:
    """Close what the payload left open; how many handles that was."""
    return int(instance._core.lib.pw_files_close_all(instance._c))


def file_errors(instance: Instance) -> list[str]:
    """Every failure the natives recorded during the run."""
    lib, ffi, c = instance._core.lib, instance._core.ffi, instance._c
    return [ffi.string(lib.pw_files_error(c, i)).decode(errors="replace")
            for i in range(lib.pw_files_error_count(c))]


def output_state(instance: Instance, file_id: str) -> tuple[bool, bool]:
    """(created during the run, a write or close on it failed)."""
    failed = instance._core.ffi.new("int *")
    created = instance._core.lib.pw_files_output_state(instance._c, file_id.encode(), failed)
    return created == 1, bool(failed[0])


# -- guest output -------------------------------------------------------------
def capture_output(instance: Instance, enabled: bool) -> None:
    instance._core.lib.pw_output_capture(instance._c, int(enabled))


def take_output(instance: Instance) -> bytes:
    """What the payload printed (empty when nothing)."""
    if not instance._core.lib.pw_output_size(instance._c):
        return b""
    return instance.take_output()


# -- the entry call -------------------------------------------------------------
def entry_function(instance: Instance, name: str) -> Any:
    """The native handle of export ``name`` (raises if it is not a function)."""
    return instance.function(name)._func


def new_result_cell(instance: Instance) -> Any:
    """An ``int32_t *`` for :func:`invoke_entry` (reusable by one caller at a time)."""
    return instance._core.ffi.new("int32_t *")


def invoke_entry(instance: Instance, func: Any, count: int, data: bytes, timeout: float | None,
                 teaclave_layout: bool, result: Any) -> int | None:
    """Call ``entrypoint(argc, argv)`` with ``count`` packed strings.

    Returns its result; a trap is raised as :class:`~pywamr.Trap`
    (:class:`~pywamr.Timeout` past the deadline).  Without
    ``teaclave_layout`` the arguments must fit the app heap (MemoryError);
    with it they are laid out as Teaclave does, NULL where they do not fit.
    """
    lib = instance._core.lib
    call = lib.pw_invoke_entry_teaclave if teaclave_layout else lib.pw_invoke_entry
    rc = call(instance._c, func, count, data, len(data), timeout or 0.0, result)
    if rc == lib.PW_OK:
        return int(result[0])
    if rc == lib.PW_ERR_NOMEM and not teaclave_layout:
        raise MemoryError("the app heap cannot hold the arguments")
    instance._raise(rc)
    raise Trap("the entry call failed")  # _raise always raises; kept for the type checker


class KeptInvoker:
    """A warm invocation of a kept instance without declared files, in one
    call: file-table settings, output capture, ``entrypoint(argc, argv)``
    and, when nothing was left to collect, the reset.  What is the same for
    every invocation is bound here, once (a ``pw_kept_call``).

    ``call(count, data, len(data), timeout or 0.0)`` returns the
    entrypoint's result when it returned and the instance was reset (the
    common case), else :attr:`other`; then :meth:`outcome` tells the rest.
    One caller at a time.
    """

    __slots__ = ("_instance", "_state", "call", "other")

    def __init__(self, instance: Instance, func: Any, teaclave_layout: bool,
                 teaclave_rules: bool, max_output: int | None, max_total: int | None,
                 capture: bool) -> None:
        lib, ffi = instance._core.lib, instance._core.ffi
        state = ffi.new("pw_kept_call *")
        state.inst, state.func = instance._c, func
        state.teaclave_layout, state.teaclave_rules = int(teaclave_layout), int(teaclave_rules)
        state.capture = int(capture)
        state.max_output = _UNBOUNDED if max_output is None else max_output
        state.max_total = _UNBOUNDED if max_total is None else max_total
        self._instance, self._state = instance, state  # both outlive every call
        self.other: int = lib.PW_KEPT_OTHER
        self.call: Callable[[int, bytes, int, float], int] = functools.partial(
            lib.pw_teaclave_invoke_kept, state)

    def outcome(self) -> tuple[int | None, int, int]:
        """After a call that returned :attr:`other`: ``(failure, return value,
        reset)``.  ``failure`` is None or the failed status (raise it with
        :func:`raise_entry_status`); ``reset`` is 1 when the instance was
        reset, -1 when it cannot be (replace it), 0 when file errors or
        output wait to be collected (then :func:`reset`)."""
        state = self._state
        status = int(state.status)
        return (None if status == self._instance._core.lib.PW_OK else status), \
            int(state.result), int(state.reset)


def raise_entry_status(instance: Instance, rc: int, teaclave_layout: bool) -> None:
    """Raise what a failed entry call's status means, as :func:`invoke_entry` does."""
    lib = instance._core.lib
    if rc == lib.PW_ERR_NOMEM and not teaclave_layout:
        raise MemoryError("the app heap cannot hold the arguments")
    instance._raise(rc)
    raise Trap("the entry call failed")  # _raise always raises; kept for the type checker
