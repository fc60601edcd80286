"""The seam between :mod:`pywamr.teaclave` and the native layer.

Everything the Teaclave executor does below the public API goes through this
module: a runtime with Teaclave's per-call lifecycle (:func:`fresh_runtime`)
and, per instance, the snapshot/reset of the reuse-instance policy, the
declared files of the five ``teaclave_*`` natives, the entrypoint call
(``pw_invoke_entry``: arguments marshalled into the app heap by C) and the
bridge's phase timings (:class:`TeaclaveInstance`).  ``pywamr.teaclave``
never touches cffi objects, ``Instance._c``, ``Core``, ``Function._func`` or
``Runtime._fresh``; C-side counterparts: ``teaclave_entry.c``,
``teaclave_files.c``, ``reset.c``.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ._instance import Instance
from ._lib import raise_status
from ._runtime import Runtime

if TYPE_CHECKING:
    from ._native_fast import FFI, CData, Lib

PathLike = str | os.PathLike[str]


def fresh_runtime(mode: str) -> Runtime:
    """A runtime that initialises WAMR from scratch and destroys it on close.

    Needs the core to itself: raises :class:`WamrError` while any other
    runtime, module or instance of that mode is open.
    """
    return Runtime._fresh(mode)


class TeaclaveInstance:
    """The Teaclave executor's native operations on one :class:`Instance`.

    Holds the instance (``.instance``, for the public API: ``capture_output``,
    ``take_output``, ``close``) and nothing else; cheap to make per run.
    Not thread-safe: one invocation at a time, as the executor runs them.
    """

    __slots__ = ("_c", "_core", "_entry", "_entry_name", "_ffi", "_lib", "_ret", "instance")

    def __init__(self, instance: Instance, entrypoint: str = "entrypoint") -> None:
        self.instance = instance
        self._entry_name = entrypoint
        self._core = instance._core
        self._lib: Lib = instance._core.lib
        self._ffi: FFI = instance._core.ffi
        self._c: CData = instance._c
        self._entry: CData | None = None
        self._ret: CData = self._ffi.new("int32_t *")

    # -- reuse-instance ----------------------------------------------------
    def snapshot(self) -> None:
        """Record the instance's state for :meth:`reset` (right after instantiation)."""
        rc = self._lib.pw_instance_snapshot(self._c)
        if rc != self._lib.PW_OK:
            raise_status(self._core, rc, "could not snapshot the instance")

    def reset(self) -> bool:
        """Restore the snapshot: memory, globals, tables, output and files.

        False when it cannot be (the memory grew, no snapshot, closed, or
        busy): replace the instance then.
        """
        return not self._lib.pw_instance_reset(self._c)  # PW_OK is 0

    def timings(self) -> tuple[int, int]:
        """Nanoseconds the bridge spent instantiating and creating the exec env."""
        inst_ns, env_ns = self._ffi.new("uint64_t *"), self._ffi.new("uint64_t *")
        self._lib.pw_instance_timings(self._c, inst_ns, env_ns)
        return int(inst_ns[0]), int(env_ns[0])

    # -- the file API --------------------------------------------------------
    def declare_input(self, file_id: str, path: PathLike) -> None:
        """Let the payload open ``path`` for reading as ``file_id``."""
        self._declare(file_id, path, 0)

    def declare_output(self, file_id: str, path: PathLike) -> None:
        """Let the payload create (truncate) and write ``path`` as ``file_id``."""
        self._declare(file_id, path, 1)

    def _declare(self, file_id: str, path: PathLike, is_output: int) -> None:
        rc = self._lib.pw_files_declare(self._c, file_id.encode(), os.fsencode(path), is_output)
        if rc != self._lib.PW_OK:
            raise_status(self._core, rc, "could not declare a file")

    def close_files(self) -> int:
        """Close what the payload left open; how many handles that was."""
        return int(self._lib.pw_files_close_all(self._c))

    def file_errors(self) -> list[str]:
        """The failures the natives reported to the payload (-1), in order."""
        lib, ffi, c = self._lib, self._ffi, self._c
        return [ffi.string(lib.pw_files_error(c, i)).decode(errors="replace")
                for i in range(lib.pw_files_error_count(c))]

    def output_state(self, file_id: str) -> tuple[bool, bool]:
        """(created, failed) for a declared output: whether the payload created
        it during this run, and whether opening, writing or closing it failed
        ((False, False) for an undeclared id)."""
        failed = self._ffi.new("int *")
        created = self._lib.pw_files_output_state(self._c, file_id.encode(), failed)
        return created == 1, created >= 0 and bool(failed[0])

    def output_size(self) -> int:
        """Bytes of captured guest output waiting (see ``Instance.take_output``)."""
        return int(self._lib.pw_output_size(self._c))

    # -- the call -------------------------------------------------------------
    def invoke_entry(self, count: int, packed: bytes, timeout: float | None = None) -> int:
        """Call ``entrypoint(argc = count, argv)``: ``packed`` holds ``count``
        NUL-terminated strings back to back, copied into the app heap (and
        freed after) as Teaclave does.  Returns the entrypoint's value.

        Raises :class:`Trap` (:class:`Timeout` past ``timeout`` seconds), a
        host function's own exception, :class:`ExportNotFound`, or
        ``MemoryError`` when the app heap cannot hold the arguments.
        """
        entry = self._entry
        if entry is None:
            entry = self._entry = self.instance.function(self._entry_name)._func
        rc = self._lib.pw_invoke_entry(self._c, entry, count, packed, len(packed),
                                       timeout or 0.0, self._ret)
        if not rc:  # PW_OK is 0: the per-invocation path avoids a lib lookup
            return int(self._ret[0])
        if rc == self._lib.PW_ERR_NOMEM:
            raise MemoryError("the app heap cannot hold the arguments")
        self.instance._raise(rc)
        raise AssertionError  # unreachable: _raise always raises
