"""Running Teaclave payloads: the executor, its lifecycle policies, files."""

from __future__ import annotations

import gc
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

from .. import natives
from .._aot import MAGIC as AOT_CONTAINER_MAGIC
from .._errors import LinkError, LoadError, Timeout, Trap, WamrError
from .._host import NativeFunction
from .._instance import Instance
from .._limits import cap_memory_pages
from .._module import Module
from .._runtime import HostSpec, Runtime
from .._source import Source, read_source
from .._types import ExternKind, FuncType, ValType
from . import _native
from ._arguments import pack
from ._cache import cached_executor
from ._file_formats import ProtectedFile
from ._files import FileSpec, RunFiles, file_map
from ._profile import DEFAULT_PROFILE, PROFILE_DEFAULT, Profile, _Default, cap
from ._profile import get as get_profile
from ._result import RunResult
from ._staged import Staging

TEACLAVE_STACK_SIZE = 160 * 1024
TEACLAVE_HEAP_SIZE = 20 * 1024 * 1024
POLICIES = ("cold", "reuse-runtime", "reuse-module", "reuse-instance")
DEFAULT_POLICY = "reuse-instance"
_KEEPS_MODULE = ("reuse-module", "reuse-instance")
ENTRYPOINT = "entrypoint"
_ENTRYPOINT_TYPE = FuncType((ValType.I32, ValType.I32), (ValType.I32,))
#: The mode that is Teaclave's own WAMR build (classic, no libc-builtin, no bulk memory).
TEACLAVE_MODE = "teaclave"

Hosts = Mapping[str, Mapping[str, HostSpec]]
_FileMaps = tuple[dict[str, str | ProtectedFile], dict[str, str | ProtectedFile]]
Cap = int | None | _Default

#: The largest packed arguments :meth:`Executor._pack` keeps for reuse.
_PACK_CACHE_BYTES = 1 << 16


def _plain(arguments: dict[Any, Any]) -> bool:
    """Whether every key is a ``str`` and every value a ``str`` or ``int``
    (exact types: a subclass may pack differently, ``True == 1``)."""
    for key, value in arguments.items():
        if type(key) is not str or (type(value) is not str and type(value) is not int):
            return False
    return True


class _Validated:
    """Payloads that loaded in Teaclave's own build, by validation key: the
    imports left unresolved there.  Bounded, least recently used out."""

    ENTRIES = 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[tuple[str, str, str], ...]] = OrderedDict()

    def get(self, key: Hashable) -> tuple[tuple[str, str, str], ...] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Hashable, unresolved: tuple[tuple[str, str, str], ...]) -> None:
        with self._lock:
            self._entries[key] = unresolved
            while len(self._entries) > self.ENTRIES:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_validated = _Validated()


def _validation_key(data: bytes, hosts: Hosts) -> Hashable | None:
    """What the teaclave-core check of ``data`` depends on: the payload's hash
    and each extra host's module, name and signature (None: not cacheable)."""
    try:
        signatures = tuple(sorted(
            (str(module_name), str(name),
             spec.signature if isinstance(spec, NativeFunction) else str(spec[1]))
            for module_name, functions in hosts.items() for name, spec in functions.items()))
    except (TypeError, IndexError, AttributeError):
        return None  # malformed hosts: registration reports them
    return hashlib.sha256(data).hexdigest(), signatures


class EntrypointError(LinkError):
    """The payload has no usable ``entrypoint`` export."""


def read_payload(payload: Source) -> bytes:
    """The payload's bytes (pywamr's one reader of "bytes or a path")."""
    return bytes(read_source(payload, "payload"))


def check_entrypoint(module: Module, exact: bool = True) -> None:
    """Refuse a payload without an ``entrypoint`` function before it runs.

    With ``exact`` (strict profile) it must be ``entrypoint(i32, i32) -> i32``;
    Teaclave looks it up by name only and calls it with (argc, argv) anyway.
    """
    for export in module.exports:
        if export.name == ENTRYPOINT and export.kind is ExternKind.FUNC:
            if exact and export.type != _ENTRYPOINT_TYPE:
                raise EntrypointError(
                    f"entrypoint has type {export.type}, expected {_ENTRYPOINT_TYPE} "
                    "(int entrypoint(int argc, char *argv[]))")
            return
    raise EntrypointError("the payload exports no function named 'entrypoint'")


class Executor:
    """Runs one payload repeatedly the way Teaclave's WAMR executor does.

    ``profile`` is ``"teaclave"`` (default: Teaclave's executor's behaviour,
    behaviour by behaviour, see docs/teaclave-fidelity.md) or ``"strict"``
    (pywamr's checks: entrypoint type and imports checked at load, bad
    pointers return -1, outputs published only after a clean run, output caps
    on).  ``mode`` defaults to the profile's: ``"teaclave"`` (Teaclave's own
    WAMR build) or ``"fast-interp"``.

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
    ``max_output_bytes`` / ``max_invocation_bytes`` cap what one invocation
    may write per output and over all outputs (``None``: unbounded; default:
    the profile's); a write past a cap writes nothing, returns -1 to the
    payload and is recorded in ``file_errors``.
    """

    def __init__(self, payload: Source, *,
                 profile: str = DEFAULT_PROFILE, mode: str | None = None,
                 policy: str = DEFAULT_POLICY, stack_size: int = TEACLAVE_STACK_SIZE,
                 heap_size: int = TEACLAVE_HEAP_SIZE, timeout: float | None = None,
                 hosts: Hosts | None = None, capture_output: bool = True,
                 max_memory_pages: int | None = None,
                 max_output_bytes: Cap = PROFILE_DEFAULT,
                 max_invocation_bytes: Cap = PROFILE_DEFAULT) -> None:
        if policy not in POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of: {', '.join(POLICIES)}")
        self.profile: Profile = get_profile(profile)
        self._bytes = read_payload(payload)
        self.max_memory_pages = max_memory_pages  # reliability: rewrite the declared maximum
        if max_memory_pages is not None:
            self._bytes = cap_memory_pages(self._bytes, max_memory_pages)
        self.mode = self.profile.default_mode if mode is None else mode
        self.policy = policy
        self.stack_size = stack_size
        self.heap_size = heap_size
        self.timeout = timeout
        self.capture_output = capture_output
        self.max_output_bytes = cap(max_output_bytes, self.profile.max_output_bytes,
                                    "max_output_bytes")
        self.max_invocation_bytes = cap(max_invocation_bytes, self.profile.max_invocation_bytes,
                                        "max_invocation_bytes")
        self._extra_hosts = hosts or {}
        self._unlinked: dict[tuple[str, str], NativeFunction] = {}
        self._lock = threading.Lock()
        self._closed = False
        self._instance: Instance | None = None
        if self.profile.allow_unresolved and self._bytes.startswith(AOT_CONTAINER_MAGIC):
            raise LoadError("an AOT payload cannot run in the teaclave profile: Teaclave's WAMR "
                            "build has no AOT (give the .wasm with mode='aot', or use "
                            "profile='strict')")
        if self.profile.allow_unresolved and self.mode != TEACLAVE_MODE:
            self._unlinked = self._as_teaclave_loads()
        runtime = self._new_runtime(fresh=False)
        try:
            module = runtime.load(self._bytes, allow_unresolved=self.profile.allow_unresolved)
            check_entrypoint(module, exact=not self.profile.teaclave_entry)
        except BaseException:
            runtime.close()
            raise
        self._runtime: Runtime | None = runtime if policy != "cold" else None
        self._module: Module | None = module if policy in _KEEPS_MODULE else None
        if self._module is None:
            module.close()
        if self._runtime is None:
            runtime.close()
        self._ret: Any = None
        self._quick: _native.KeptInvoker | None = None
        # the last plain arguments and their packed form (see _pack)
        self._last_packed: tuple[dict[str, str | int], tuple[int, bytes, int]] | None = None
        if policy == "reuse-instance":
            self._keep(self._snapshotted_instance())

    @property
    def payload_hash(self) -> str:
        return hashlib.sha256(self._bytes).hexdigest()

    @property
    def payload_size(self) -> int:
        return len(self._bytes)

    def _as_teaclave_loads(self) -> dict[tuple[str, str], NativeFunction]:
        """Load the payload in Teaclave's own build first (teaclave profile,
        another mode): refused there means refused here, with Teaclave's error
        (e.g. bulk-memory opcodes); what stays unresolved there (libc-builtin
        functions) is bound to natives that trap as unlinked imports do.

        A payload that loaded is remembered by its hash (and the extra hosts'
        names and signatures), so further executors of it skip the check."""
        key = _validation_key(self._bytes, self._extra_hosts)
        unresolved = _validated.get(key) if key is not None else None
        if unresolved is None:
            with Runtime(TEACLAVE_MODE) as runtime:
                self._register(runtime, {})
                module = runtime.load(self._bytes, allow_unresolved=True)
                unresolved = tuple((imp.module, imp.name, imp.type.signature)
                                   for imp in module.imports
                                   if imp.kind is ExternKind.FUNC and imp.provider is None
                                   and imp.type is not None)
                module.close()
            if key is not None:
                _validated.put(key, unresolved)
        return {(module_name, name): NativeFunction(0, signature, builtin="teaclave_unlinked")
                for module_name, name, signature in unresolved}

    def _register(self, runtime: Runtime, unlinked: Mapping[tuple[str, str], NativeFunction],
                  ) -> None:
        for (module_name, name), native in unlinked.items():
            runtime.register_host(module_name, name, native)
        runtime.register_hosts("env", natives.FILE_API)
        for module_name, functions in self._extra_hosts.items():
            runtime.register_hosts(module_name, functions)

    def _new_runtime(self, fresh: bool,
                     mark: Callable[[str], None] = lambda phase: None) -> Runtime:
        if not fresh:
            runtime = Runtime(self.mode)
        else:
            try:
                runtime = _native.fresh_runtime(self.mode)
            except WamrError:
                gc.collect()  # unreferenced instances may still hold the core
                try:
                    runtime = _native.fresh_runtime(self.mode)
                except WamrError as exc:
                    raise WamrError(f"{exc}. The cold policy re-initialises WAMR, so close other "
                                    f"runtimes and executors of mode {self.mode!r} first "
                                    "(teaclave.clear_cache() closes the one-shot cache)") from None
        mark("runtime_init")
        try:
            self._register(runtime, self._unlinked)
        except BaseException:
            runtime.close()
            raise
        mark("register_natives")
        return runtime

    def _keep(self, instance: Instance) -> None:
        """Make ``instance`` the kept one (reuse-instance)."""
        self._instance = instance
        self._quick = _native.KeptInvoker(
            instance, _native.entry_function(instance, ENTRYPOINT), self.profile.teaclave_entry,
            self.profile.native_rules, self.max_output_bytes, self.max_invocation_bytes,
            self.capture_output)  # used under self._lock

    def _snapshotted_instance(self) -> Instance:
        assert self._module is not None
        instance = self._module.instantiate(self.stack_size, self.heap_size)
        try:
            _native.snapshot(instance)
        except BaseException:
            instance.close()
            raise
        return instance

    # ------------------------------------------------------------------
    def run(self, arguments: Mapping[str, Any] | None = None,
            inputs: Mapping[str, FileSpec] | None = None,
            outputs: Mapping[str, FileSpec] | None = None, *,
            timeout: float | None = None) -> int:
        """Invoke the payload and return its int result; a trap raises
        :class:`~pywamr.Trap` (:class:`~pywamr.Timeout` past the deadline),
        a failed task :class:`TaskError`."""
        return self.invoke(arguments, inputs, outputs, timeout=timeout).unwrap()

    def invoke(self, arguments: Mapping[str, Any] | None = None,
               inputs: Mapping[str, FileSpec] | None = None,
               outputs: Mapping[str, FileSpec] | None = None, *,
               timeout: float | None = None, timings: bool = False) -> RunResult:
        """Invoke the payload; a trap is reported in the result, not raised.

        ``inputs``/``outputs`` map file ids to paths.  In the teaclave
        profile outputs are written in place; in the strict profile to a
        temporary file beside the path, renamed into place only when the
        payload returns normally and every write succeeded.
        """
        packed = self._pack(arguments)
        deadline = self.timeout if timeout is None else timeout
        if (not inputs and not outputs and not timings  # None or empty mappings
                and (inputs is None or isinstance(inputs, Mapping))
                and (outputs is None or isinstance(outputs, Mapping))):
            with self._lock:  # the common warm invocation: one call into C
                if self._closed:
                    raise WamrError("the executor is closed")
                quick = self._quick
                if quick is not None:
                    value = quick.call(*packed, deadline or 0.0)
                    if value != quick.other:  # returned, and the instance was reset
                        return RunResult._returned(value)
                    assert self._instance is not None
                    return self._invoke_quick_other(self._instance, quick)
        files = (file_map(inputs, "inputs"), file_map(outputs, "outputs"))
        with self._lock:
            if self._closed:
                raise WamrError("the executor is closed")
            return self._invoke(packed[:2], files, deadline, timings)

    def _pack(self, arguments: Mapping[str, Any] | None) -> tuple[int, bytes, int]:
        """``(count, packed strings, their length)`` for ``arguments``.

        Benchmarks call with the same arguments again and again: the last
        packing of a plain dict (``str`` keys, ``str``/``int`` values, checked
        by exact type) is kept with a copy of it, and reused while the new
        arguments are such a dict equal to the copy, which gives the same
        packing.  Anything else is packed afresh."""
        last = self._last_packed
        if (last is not None and type(arguments) is dict and arguments == last[0]
                and _plain(arguments)):
            return last[1]
        count, data = pack(arguments, self.profile.serde_arguments)
        packed = count, data, len(data)
        if type(arguments) is dict and len(data) <= _PACK_CACHE_BYTES and _plain(arguments):
            self._last_packed = dict(arguments), packed  # one tuple: replaced atomically
        return packed

    def _invoke_quick_other(self, instance: Instance, quick: _native.KeptInvoker) -> RunResult:
        """The rest of a quick invocation (:meth:`invoke`) that did not just
        return: a trap or failure, output or file errors to collect before the
        reset, or an instance that cannot be reset (replaced)."""
        failure, value, reset = quick.outcome()
        try:
            result = RunResult(return_value=None)
            if failure is None:
                result.return_value = value
            else:
                profile = self.profile
                try:
                    _native.raise_entry_status(instance, failure, profile.teaclave_entry)
                except Trap as trap:
                    result.trap = profile.trap_prefix + trap.message
                    result.timed_out = isinstance(trap, Timeout)
                except MemoryError:
                    raise MemoryError(f"the app heap ({self.heap_size} bytes) cannot hold "
                                      "the arguments") from None
            if reset == 0:  # file errors or output to collect before the reset
                result.file_errors = _native.file_errors(instance)
                if self.capture_output:
                    result.stdout = _native.take_output(instance)
        finally:
            if reset == 0:
                reset = 1 if _native.reset(instance) else -1
            if reset < 0:
                instance.close()  # grown memory (or a failed reset): start afresh
                self._instance = None
                self._quick = None
                self._keep(self._snapshotted_instance())
        return result

    def _invoke(self, packed: tuple[int, bytes], files: _FileMaps, timeout: float | None,
                timings: bool) -> RunResult:
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
            return self._invoke_kept(self._instance, packed, files, timeout, mark, marks)
        cold = self._runtime is None
        runtime = self._new_runtime(fresh=True, mark=mark) if cold else self._runtime
        assert runtime is not None
        module = self._module
        owns_module = module is None
        instance = None
        try:
            if module is None:
                module = runtime.load(self._bytes,
                                      allow_unresolved=self.profile.allow_unresolved)
            mark("load")
            instance = module.instantiate(self.stack_size, self.heap_size)
            if marks is not None:
                _, env_ns = _native.instantiate_timings(instance)
                now = clock()
                marks["instantiate"] = now - last - env_ns
                marks["exec_env"] = env_ns
                last = now
            result = self._call(instance, packed, files, timeout, mark)
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

    def _invoke_kept(self, instance: Instance, packed: tuple[int, bytes], files: _FileMaps,
                     timeout: float | None, mark: Callable[[str], None],
                     marks: dict[str, int] | None) -> RunResult:
        try:
            result = self._call(instance, packed, files, timeout, mark)
        finally:
            if not _native.reset(instance):
                instance.close()  # grown memory (or a failed reset): start afresh
                self._instance = None
                self._quick = None
                self._keep(self._snapshotted_instance())
            mark("cleanup")
        result.timings = marks
        return result

    def _call(self, instance: Instance, packed: tuple[int, bytes], maps: _FileMaps,
              timeout: float | None, mark: Callable[[str], None]) -> RunResult:
        with Staging(*maps) as staging:  # protected files: verified, then streamed
            files = RunFiles(staging.inputs, staging.outputs, staging.fifo_outputs,
                             self.profile.outputs_in_place)
            result = self._call_staged(instance, packed, files, timeout, mark)
            if staging.protected_outputs or staging.inputs:
                trapped = result.trap is not None
                # Teaclave converts and uploads the outputs only when every
                # declared one converts: a failed task uploads none of them.
                failed = result.error if self.profile.missing_output_fails else None

                def verdict(fid: str) -> str | None:
                    why = files.verdict(*_native.output_state(instance, fid), trapped)
                    if why is None and failed is not None:
                        return f"the task failed ({failed})"
                    return why

                tags, errors = staging.finish(verdict)
                for fid, tag in tags.items():
                    result.outputs[fid] = staging.protected_outputs[fid].fspath
                    result.output_tags[fid] = tag
                result.file_errors.extend(errors)
            return result

    def _call_staged(self, instance: Instance, packed: tuple[int, bytes], files: RunFiles,
                     timeout: float | None, mark: Callable[[str], None]) -> RunResult:
        profile = self.profile
        _native.configure_files(instance, profile.native_rules, self.max_output_bytes,
                                self.max_invocation_bytes)
        try:
            for fid, path, is_output in files.declarations():
                _native.declare_file(instance, fid, path, is_output)
        except BaseException:
            files.discard()
            raise
        _native.capture_output(instance, self.capture_output)
        if self._ret is None:
            self._ret = _native.new_result_cell(instance)  # used under self._lock
        mark("marshal")
        result = RunResult(return_value=None)
        count, data = packed
        completed = False
        try:
            try:
                result.return_value = _native.invoke_entry(
                    instance, _native.entry_function(instance, ENTRYPOINT), count, data,
                    timeout, profile.teaclave_entry, self._ret)
            except Trap as trap:
                result.trap = profile.trap_prefix + trap.message
                result.timed_out = isinstance(trap, Timeout)
            except MemoryError:
                raise MemoryError(f"the app heap ({self.heap_size} bytes) cannot hold the "
                                  "arguments") from None
            completed = True
            mark("call")
        finally:
            if files.inputs or files.outputs or files.direct:
                result.files_left_open = _native.close_files(instance)
            result.file_errors = _native.file_errors(instance)
            if not completed:  # e.g. a host function raised: nothing is published
                files.discard()
            elif files.outputs or files.direct:
                files.finish(lambda fid: _native.output_state(instance, fid), result,
                             profile.missing_output_fails)
        if self.capture_output:
            result.stdout = _native.take_output(instance)
        return result

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


# -- the one-shot form, with a bounded cache of executors (see _cache) --------
def invoke(payload: Source,
           arguments: Mapping[str, Any] | None = None,
           inputs: Mapping[str, FileSpec] | None = None,
           outputs: Mapping[str, FileSpec] | None = None, *, profile: str = DEFAULT_PROFILE,
           mode: str | None = None, policy: str = DEFAULT_POLICY,
           stack_size: int = TEACLAVE_STACK_SIZE, heap_size: int = TEACLAVE_HEAP_SIZE,
           timeout: float | None = None, timings: bool = False,
           max_memory_pages: int | None = None, max_output_bytes: Cap = PROFILE_DEFAULT,
           max_invocation_bytes: Cap = PROFILE_DEFAULT) -> RunResult:
    """Run a payload once and return the full :class:`RunResult`.

    With the default policy the executor is cached (keyed by the payload's
    SHA-256 and the options, bounded, least recently used evicted).
    """
    data = read_payload(payload)
    options: dict[str, Any] = {
        "profile": profile, "mode": mode, "stack_size": stack_size, "heap_size": heap_size,
        "max_memory_pages": max_memory_pages, "max_output_bytes": max_output_bytes,
        "max_invocation_bytes": max_invocation_bytes}
    if policy == DEFAULT_POLICY:
        executor = cached_executor(data, options, lambda: Executor(data, **options))
        return executor.invoke(arguments, inputs, outputs, timeout=timeout, timings=timings)
    with Executor(data, policy=policy, **options) as executor:
        return executor.invoke(arguments, inputs, outputs, timeout=timeout, timings=timings)


def run(payload: Source,
        arguments: Mapping[str, Any] | None = None,
        inputs: Mapping[str, FileSpec] | None = None,
        outputs: Mapping[str, FileSpec] | None = None, **options: Any) -> int:
    """Run a payload once as Teaclave does and return the entrypoint's result.

    A trap raises :class:`~pywamr.Trap` with WAMR's message.  Options: those
    of :func:`invoke`.
    """
    return invoke(payload, arguments, inputs, outputs, **options).unwrap()
