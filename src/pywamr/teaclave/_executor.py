"""Running Teaclave payloads: the executor, its lifecycle policies, files."""

from __future__ import annotations

import errno
import gc
import hashlib
import itertools
import os
import stat
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from .. import natives
from .._errors import LinkError, Timeout, Trap, WamrError
from .._instance import Instance
from .._lib import DEFAULT_MODE, raise_status
from .._limits import cap_memory_pages
from .._module import Module
from .._runtime import HostSpec, Runtime
from .._types import FuncType, ValType
from ._arguments import pack
from ._file_formats import ProtectedFile
from ._result import RunResult
from ._staged import Staging, describe

TEACLAVE_STACK_SIZE = 160 * 1024
TEACLAVE_HEAP_SIZE = 20 * 1024 * 1024
POLICIES = ("cold", "reuse-runtime", "reuse-module", "reuse-instance")
DEFAULT_POLICY = "reuse-instance"
_KEEPS_MODULE = ("reuse-module", "reuse-instance")
ENTRYPOINT = "entrypoint"
_ENTRYPOINT_TYPE = FuncType((ValType.I32, ValType.I32), (ValType.I32,))
_temp_ids = itertools.count()

PathLike = str | os.PathLike[str]
FileSpec = PathLike | ProtectedFile  # a plain path, or a file in one of Teaclave's schemas
Hosts = Mapping[str, Mapping[str, HostSpec]]


class EntrypointError(LinkError):
    """The payload has no ``entrypoint(int, char **) -> int`` export."""


def read_payload(payload: bytes | bytearray | memoryview | PathLike) -> bytes:
    if isinstance(payload, (bytes, bytearray, memoryview)):
        return bytes(payload)
    if isinstance(payload, (str, os.PathLike)):
        with open(payload, "rb") as handle:
            return handle.read()
    raise TypeError(f"payload must be bytes or a path, not {type(payload).__name__}")


def check_entrypoint(module: Module) -> None:
    """Refuse a payload without ``entrypoint(i32, i32) -> i32`` before it runs."""
    for export in module.exports:
        if export.name == ENTRYPOINT and export.type is not None:
            if export.type != _ENTRYPOINT_TYPE:
                raise EntrypointError(f"entrypoint has type {export.type}, expected "
                                      f"{_ENTRYPOINT_TYPE} "
                                      "(int entrypoint(int argc, char *argv[]))")
            return
    raise EntrypointError("the payload exports no function named 'entrypoint'")


class Executor:
    """Runs one payload repeatedly the way Teaclave's WAMR executor does.

    ``policy`` chooses what survives between invocations:

    * ``"cold"``: nothing.  Each invocation initialises WAMR, registers the
      natives, loads, instantiates, calls, and tears everything down,
      exactly as Teaclave does; it needs the mode's WAMR core to itself.
    * ``"reuse-runtime"``: the runtime stays; load and instantiate per call.
    * ``"reuse-module"``: the loaded module stays; every invocation gets a
      fresh instance.
    * ``"reuse-instance"`` (default): one instance stays and is reset to its
      state right after instantiation between invocations (linear memory,
      app heap, globals, tables, files, output); if its memory grew it is
      replaced by a fresh instance instead.

    Every policy gives each invocation the same starting state.  Extra host
    functions can be given as ``{"env": {"name": (func, sig)}}``.
    ``max_memory_pages`` caps the payload's linear memory (64 KiB pages, the
    app heap comes on top); ``memory.grow`` past it returns -1.
    """

    def __init__(self, payload: bytes | bytearray | memoryview | PathLike, *,
                 mode: str = DEFAULT_MODE, policy: str = DEFAULT_POLICY,
                 stack_size: int = TEACLAVE_STACK_SIZE, heap_size: int = TEACLAVE_HEAP_SIZE,
                 timeout: float | None = None, hosts: Hosts | None = None,
                 capture_output: bool = True, max_memory_pages: int | None = None) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        self._bytes = read_payload(payload)
        self.max_memory_pages = max_memory_pages  # reliability: rewrite the declared maximum
        if max_memory_pages is not None:
            self._bytes = cap_memory_pages(self._bytes, max_memory_pages)
        self.mode = mode
        self.policy = policy
        self.stack_size = stack_size
        self.heap_size = heap_size
        self.timeout = timeout
        self.capture_output = capture_output
        self._extra_hosts = hosts or {}
        self._lock = threading.Lock()
        self._closed = False
        self._instance: Instance | None = None
        self._ret: Any = None
        runtime = self._new_runtime(fresh=False)
        try:
            module = runtime.load(self._bytes)
            check_entrypoint(module)
        except BaseException:
            runtime.close()
            raise
        self._runtime: Runtime | None = runtime if policy != "cold" else None
        self._module: Module | None = module if policy in _KEEPS_MODULE else None
        if self._module is None:
            module.close()
        if self._runtime is None:
            runtime.close()
        self._ret = module._core.ffi.new("int32_t *")  # used under self._lock
        if policy == "reuse-instance":
            self._instance = self._snapshotted_instance()

    @property
    def payload_hash(self) -> str:
        return hashlib.sha256(self._bytes).hexdigest()

    def _new_runtime(self, fresh: bool,
                     mark: Callable[[str], None] = lambda phase: None) -> Runtime:
        if not fresh:
            runtime = Runtime(self.mode)
        else:
            try:
                runtime = Runtime._fresh(self.mode)
            except WamrError:
                gc.collect()  # unreferenced instances may still hold the core
                try:
                    runtime = Runtime._fresh(self.mode)
                except WamrError as exc:
                    raise WamrError(f"{exc}. The cold policy re-initialises WAMR, so close other "
                                    f"runtimes and executors of mode {self.mode!r} first "
                                    "(teaclave.clear_cache() closes the one-shot cache)") from None
        mark("runtime_init")
        try:
            runtime.register_hosts("env", natives.FILE_API)
            for module_name, functions in self._extra_hosts.items():
                runtime.register_hosts(module_name, functions)
        except BaseException:
            runtime.close()
            raise
        mark("register_natives")
        return runtime

    def _snapshotted_instance(self) -> Instance:
        assert self._module is not None
        instance = self._module.instantiate(self.stack_size, self.heap_size)
        rc = instance._core.lib.pw_instance_snapshot(instance._c)
        if rc != instance._core.lib.PW_OK:
            instance.close()
            raise_status(instance._core, rc, "could not snapshot the instance")
        return instance

    # ------------------------------------------------------------------
    def run(self, arguments: Mapping[str, Any] | None = None,
            inputs: Mapping[str, FileSpec] | None = None,
            outputs: Mapping[str, FileSpec] | None = None, *,
            timeout: float | None = None) -> int:
        """Invoke the payload and return its int result; a trap raises
        :class:`~pywamr.Trap` (:class:`~pywamr.Timeout` past the deadline)."""
        return self.invoke(arguments, inputs, outputs, timeout=timeout).unwrap()

    def invoke(self, arguments: Mapping[str, Any] | None = None,
               inputs: Mapping[str, FileSpec] | None = None,
               outputs: Mapping[str, FileSpec] | None = None, *,
               timeout: float | None = None, timings: bool = False) -> RunResult:
        """Invoke the payload; a trap is reported in the result, not raised.

        ``inputs``/``outputs`` map file ids to paths, or to
        :class:`ProtectedFile` descriptions (docs/protected-files.md).
        Outputs are written to a temporary file beside the path and renamed
        into place only when the payload returns normally and every write
        succeeded; ``result.output_tags`` has each protected output's tag.

        Raises:
            ProtectedFileError: a protected input is refused (wrong key or
                tag, damaged file) before the payload runs; nothing is written.
        """
        packed = pack(arguments)
        input_map = _paths(inputs, "inputs")
        output_map = _paths(outputs, "outputs")
        deadline = self.timeout if timeout is None else timeout
        with self._lock:
            if self._closed:
                raise WamrError("the executor is closed")
            return self._invoke(packed, input_map, output_map, deadline, timings)

    def _invoke(self, packed: tuple[int, bytes], inputs: dict[str, str | ProtectedFile],
                outputs: dict[str, str | ProtectedFile],
                timeout: float | None, timings: bool) -> RunResult:
        marks: dict[str, int] | None = {} if timings else None
        clock = time.perf_counter_ns
        last = clock() if marks is not None else 0

        def mark(phase: str) -> None:
            nonlocal last
            if marks is not None:
                now = clock()
                marks[phase] = now - last
                last = now

        if self._instance is not None:
            return self._invoke_kept(self._instance, packed, inputs, outputs, timeout, mark,
                                     marks)
        cold = self._runtime is None
        runtime = self._new_runtime(fresh=True, mark=mark) if cold else self._runtime
        assert runtime is not None
        module = self._module
        owns_module = module is None
        instance = None
        try:
            if module is None:
                module = runtime.load(self._bytes)
            mark("load")
            instance = module.instantiate(self.stack_size, self.heap_size)
            if marks is not None:
                last = _split_instantiate(instance, marks, last, clock)
            result = self._call(instance, packed, inputs, outputs, timeout, mark)
        finally:
            if instance is not None:
                instance.close()
            if owns_module and module is not None:
                module.close()
            mark("cleanup")
            if cold:
                runtime.close()
                mark("destroy")
        result.timings = marks
        return result

    def _invoke_kept(self, instance: Instance, packed: tuple[int, bytes],
                     inputs: dict[str, str | ProtectedFile],
                     outputs: dict[str, str | ProtectedFile], timeout: float | None,
                     mark: Callable[[str], None], marks: dict[str, int] | None) -> RunResult:
        try:
            result = self._call(instance, packed, inputs, outputs, timeout, mark)
        finally:
            if instance._core.lib.pw_instance_reset(instance._c) != instance._core.lib.PW_OK:
                instance.close()  # grown memory (or a failed reset): start afresh
                self._instance = self._snapshotted_instance()
            mark("cleanup")
        result.timings = marks
        return result

    def _call(self, instance: Instance, packed: tuple[int, bytes],
              inputs: dict[str, str | ProtectedFile], outputs: dict[str, str | ProtectedFile],
              timeout: float | None, mark: Callable[[str], None]) -> RunResult:
        with Staging(inputs, outputs) as staging:  # protected files: verified, then streamed
            return self._call_staged(instance, packed, staging, timeout, mark)

    def _call_staged(self, instance: Instance, packed: tuple[int, bytes], staging: Staging,
                     timeout: float | None, mark: Callable[[str], None]) -> RunResult:
        lib, ffi, c = instance._core.lib, instance._core.ffi, instance._c
        inputs, outputs = staging.inputs, staging.outputs
        temps = {fid: _temp_path(path) for fid, path in outputs.items()} if outputs else {}
        for fid, path in inputs.items():
            _check(instance, lib.pw_files_declare(c, fid.encode(), os.fsencode(path), 0))
        for fid, temp in {**temps, **staging.fifo_outputs}.items():
            _check(instance, lib.pw_files_declare(c, fid.encode(), os.fsencode(temp), 1))
        lib.pw_output_capture(c, self.capture_output)
        mark("marshal")
        result = RunResult(return_value=None)
        count, data = packed
        try:
            rc = lib.pw_invoke_entry(c, instance.function(ENTRYPOINT)._func, count, data,
                                     len(data), timeout or 0.0, self._ret)
            if rc == lib.PW_OK:
                result.return_value = self._ret[0]
            elif rc == lib.PW_ERR_NOMEM:
                raise MemoryError(f"the app heap ({self.heap_size} bytes) cannot hold the "
                                  "arguments")
            else:
                try:
                    instance._raise(rc)
                except Trap as trap:
                    result.trap = trap.message
                    result.timed_out = isinstance(trap, Timeout)
            mark("call")
        finally:
            if inputs or outputs or staging.protected_outputs:
                result.files_left_open = lib.pw_files_close_all(c)
            nerrors = lib.pw_files_error_count(c)
            if nerrors:
                result.file_errors = [ffi.string(lib.pw_files_error(c, i)).decode(errors="replace")
                                      for i in range(nerrors)]
            if outputs:
                self._publish(lib, ffi, c, outputs, temps, result)
            if staging.protected_outputs or staging.inputs:
                tags, errors = staging.finish(
                    lambda fid: _output_verdict(lib, ffi, c, fid, result)[1])
                for fid, tag in tags.items():
                    result.outputs[fid] = staging.protected_outputs[fid].fspath
                    result.output_tags[fid] = tag
                result.file_errors.extend(errors)
        if self.capture_output and lib.pw_output_size(c):
            result.stdout = instance.take_output()
        return result

    @staticmethod
    def _publish(lib: Any, ffi: Any, c: Any, outputs: dict[str, str], temps: dict[str, str],
                 result: RunResult) -> None:
        failed = ffi.new("int *")
        for fid, path in outputs.items():
            created = lib.pw_files_output_state(c, fid.encode(), failed) == 1
            temp = temps[fid]
            if created and not failed[0] and result.trap is None:
                try:
                    _check_replaceable(path)
                    os.replace(temp, path)
                    result.outputs[fid] = path
                    continue
                except OSError as exc:  # e.g. the path is a directory: recorded, temp removed
                    why = f"it could not be moved into place ({exc.strerror or exc})"
            else:
                why = "a write failed" if failed[0] else "the payload trapped"
            if created:
                result.file_errors.append(f"output '{fid}' discarded: {why}")
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass

    # ------------------------------------------------------------------
    def close(self) -> None:
        """Release the kept runtime, module and instance."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            if self._instance is not None:
                self._instance.close()
            if self._module is not None:
                self._module.close()
            if self._runtime is not None:
                self._runtime.close()

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_instantiate(instance: Instance, marks: dict[str, int], last: int,
                       clock: Callable[[], int]) -> int:
    """Record instantiate and exec-env creation as the bridge measured them."""
    ffi, lib = instance._core.ffi, instance._core.lib
    inst_ns, env_ns = ffi.new("uint64_t *"), ffi.new("uint64_t *")
    lib.pw_instance_timings(instance._c, inst_ns, env_ns)
    now = clock()
    marks["instantiate"] = now - last - env_ns[0]
    marks["exec_env"] = env_ns[0]
    return now


def _output_verdict(lib: Any, ffi: Any, c: Any, fid: str,
                    result: RunResult) -> tuple[bool, str | None]:
    """(created, why it is discarded): ``None`` keeps it, "" means never created."""
    failed = ffi.new("int *")
    created = lib.pw_files_output_state(c, fid.encode(), failed) == 1
    if not created:
        return False, ""
    if failed[0]:
        return True, "a write failed"
    return True, "the payload trapped" if result.trap is not None else None


def _paths(mapping: Mapping[str, FileSpec] | None, label: str) -> dict[str, str | ProtectedFile]:
    if not mapping and (mapping is None or isinstance(mapping, Mapping)):
        return {}
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{label} must map file ids to paths")
    out: dict[str, str | ProtectedFile] = {}
    for fid, path in mapping.items():
        if not isinstance(fid, str) or not isinstance(path, (str, os.PathLike, ProtectedFile)):
            raise TypeError(f"{label} must map str file ids to paths")
        if "\0" in fid:
            raise ValueError(f"file id {fid!r} contains a NUL character")
        value = out[fid] = describe(path)
        name = value.fspath if isinstance(value, ProtectedFile) else value
        if "\0" in os.fsdecode(name):  # C would cut the path short there
            raise ValueError(f"the path of file id {fid!r} contains a NUL character")
    return out


def _check_replaceable(path: str) -> None:
    """Outputs are renamed over regular files (or symlinks) only, never over a
    device, FIFO, socket or directory (e.g. ``/dev/null``)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OSError(errno.EEXIST, "the path exists and is not a regular file", path)


def _temp_path(path: str) -> str:
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, f".{tail}.pywamr-{os.getpid()}-{next(_temp_ids)}.tmp")


def _check(instance: Instance, rc: int) -> None:
    if rc != instance._core.lib.PW_OK:
        raise_status(instance._core, rc, "could not declare a file")


# -- the one-shot form, with a bounded cache of executors ------------------
_cache: OrderedDict[tuple[str, str, int, int, int | None], Executor] = OrderedDict()
_cache_lock = threading.Lock()
CACHE_ENTRIES = 32
CACHE_BYTES = 256 * 1024 * 1024


def _cached_executor(data: bytes, mode: str, stack_size: int, heap_size: int,
                     max_memory_pages: int | None = None) -> Executor:
    key = (mode, hashlib.sha256(data).hexdigest(), stack_size, heap_size, max_memory_pages)
    with _cache_lock:
        found = _cache.get(key)
        if found is not None:
            _cache.move_to_end(key)
            return found
    executor = Executor(data, mode=mode, stack_size=stack_size, heap_size=heap_size,
                        max_memory_pages=max_memory_pages)
    with _cache_lock:
        _cache[key] = executor
        while len(_cache) > CACHE_ENTRIES or (
                len(_cache) > 1 and sum(len(e._bytes) for e in _cache.values()) > CACHE_BYTES):
            _, evicted = _cache.popitem(last=False)
            evicted.close()
    return executor


def clear_cache() -> None:
    """Close every executor the one-shot functions keep."""
    with _cache_lock:
        while _cache:
            _cache.popitem()[1].close()


def invoke(payload: bytes | bytearray | memoryview | PathLike,
           arguments: Mapping[str, Any] | None = None,
           inputs: Mapping[str, FileSpec] | None = None,
           outputs: Mapping[str, FileSpec] | None = None, *, mode: str = DEFAULT_MODE,
           policy: str = DEFAULT_POLICY, stack_size: int = TEACLAVE_STACK_SIZE,
           heap_size: int = TEACLAVE_HEAP_SIZE, timeout: float | None = None,
           timings: bool = False, max_memory_pages: int | None = None) -> RunResult:
    """Run a payload once and return the full :class:`RunResult`.

    With the default policy the loaded module is cached (keyed by the
    payload's SHA-256, bounded, least recently used evicted).
    """
    data = read_payload(payload)
    if policy == DEFAULT_POLICY:
        executor = _cached_executor(data, mode, stack_size, heap_size, max_memory_pages)
        return executor.invoke(arguments, inputs, outputs, timeout=timeout, timings=timings)
    with Executor(data, mode=mode, policy=policy, stack_size=stack_size,
                  heap_size=heap_size, max_memory_pages=max_memory_pages) as executor:
        return executor.invoke(arguments, inputs, outputs, timeout=timeout, timings=timings)


def run(payload: bytes | bytearray | memoryview | PathLike,
        arguments: Mapping[str, Any] | None = None,
        inputs: Mapping[str, FileSpec] | None = None,
        outputs: Mapping[str, FileSpec] | None = None, **options: Any) -> int:
    """Run a payload once as Teaclave does and return the entrypoint's result.

    A trap raises :class:`~pywamr.Trap` with WAMR's message.  Options:
    ``mode``, ``policy``, ``stack_size``, ``heap_size``, ``timeout``,
    ``max_memory_pages``.
    """
    return invoke(payload, arguments, inputs, outputs, **options).unwrap()
