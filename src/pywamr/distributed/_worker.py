"""The worker side: warm executors per (payload hash, options), and chunk tasks.

A chunk task carries the payload's SHA-256, not its bytes.  Each worker
process keeps what it has seen in :data:`_STATE`: payload bytes by hash and
warm executors by (payload hash, options key), both bounded in count and in
(estimated) memory, least recently used evicted.  When a task names a payload
this worker has not seen, and the task does not carry the bytes, it returns
``MISS`` and the client sends that chunk again with the bytes; afterwards the
worker needs only the hash.

Everything a task returns is plain data: compact tuples or dicts of
:class:`InvocationResult` fields (:func:`encode`), which the client turns
into results (:func:`decode`).
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
import shutil
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from .._errors import Timeout, Trap
from .._lib import DEFAULT_MODE, raise_status
from .._limits import cap_memory_pages
from .._module import DEFAULT_HEAP_SIZE, DEFAULT_STACK_SIZE
from .._runtime import Runtime
from .._wasi import WasiConfig
from .._wasi_command import WasiCommand
from ..teaclave import (
    DEFAULT_PROFILE,
    TEACLAVE_HEAP_SIZE,
    TEACLAVE_STACK_SIZE,
    Executor,
    RunResult,
)
from ..teaclave._profile import get as get_profile
from ._result import InvocationResult

MISS = "miss"
DONE = "done"
TEACLAVE = "teaclave"
CALL = "call"
WASI = "wasi"

# A chunk task: (kind, payload hash, options key, options, (max entries, max bytes)).
Spec = tuple[str, str, str, dict[str, Any], tuple[int, int]]
# Input file sources and output destinations inside a task.
INPUT_BYTES = "bytes"  # ("bytes", data): written to a worker-local file
INPUT_PATH = "path"  # ("path", path): opened where it is (shared storage)
INPUT_OBJECT = "object"  # ("object", value): given to the executor as it is
OUTPUT_BYTES = "bytes"  # "bytes": returned in the result
OUTPUT_PATH = "path"  # ("path", path): written where it is (shared storage)


def worker_address() -> str:
    """The address of the Dask worker running this code (or ``local``)."""
    try:
        get_worker = importlib.import_module("distributed").get_worker
        return str(get_worker().address)
    except (ImportError, ValueError):
        return "local"


# A nanny restarts its worker process only once it has seen the previous one
# start; a process that dies within moments of registering (an invocation that
# crashes at once) can be left dead by that race in distributed.  So the first
# task in a nanny-managed process waits this long before it runs.
NANNY_SETTLE_SECONDS = 1.0
_settled = threading.Event()


def _settle_under_nanny() -> None:
    if _settled.is_set():
        return
    try:
        get_worker = importlib.import_module("distributed").get_worker
        has_nanny = get_worker().nanny is not None
    except (ImportError, ValueError):
        has_nanny = False
    if has_nanny:
        time.sleep(NANNY_SETTLE_SECONDS)
    _settled.set()


def _local_directory() -> str | None:
    try:
        get_worker = importlib.import_module("distributed").get_worker
        return str(get_worker().local_directory)
    except (ImportError, ValueError):
        return None


class _CallTarget:
    """A warm instance for plain export calls, reset to its snapshot after
    every call so each call starts from the same state."""

    def __init__(self, data: bytes, mode: str = DEFAULT_MODE,
                 stack_size: int = DEFAULT_STACK_SIZE, heap_size: int = DEFAULT_HEAP_SIZE,
                 hosts: Mapping[str, Mapping[str, Any]] | None = None,
                 max_memory_pages: int | None = None) -> None:
        if max_memory_pages is not None:
            data = cap_memory_pages(data, max_memory_pages)
        self.mode = mode
        self.policy = "reuse-instance"
        self.stack_size, self.heap_size = stack_size, heap_size
        self._lock = threading.Lock()
        self._runtime = Runtime(mode)
        try:
            for module_name, functions in (hosts or {}).items():
                self._runtime.register_hosts(module_name, functions)
            self._module = self._runtime.load(data)
            self._instance = self._module.instantiate(stack_size, heap_size)
            self._snapshot()
        except BaseException:
            self._runtime.close()
            raise

    def _snapshot(self) -> None:
        instance = self._instance
        rc = instance._core.lib.pw_instance_snapshot(instance._c)
        if rc != instance._core.lib.PW_OK:
            raise_status(instance._core, rc, "could not snapshot the instance")

    def call(self, export: str, params: tuple[Any, ...], timeout: float | None) -> Any:
        with self._lock:
            instance = self._instance
            try:
                return instance.function(export).call(*params, timeout=timeout)
            finally:
                if instance._core.lib.pw_instance_reset(instance._c) != instance._core.lib.PW_OK:
                    instance.close()  # grown memory (or a failed reset): start afresh
                    self._instance = self._module.instantiate(self.stack_size, self.heap_size)
                    self._snapshot()

    def close(self) -> None:
        with self._lock:
            self._instance.close()
            self._module.close()
            self._runtime.close()


Warm = Executor | _CallTarget | WasiCommand


def _footprint(data: bytes, options: Mapping[str, Any], kind: str) -> int:
    """An estimate of what a warm executor holds: the payload (bytes and
    loaded module) plus the instance's stack and app heap."""
    if kind == TEACLAVE:
        stack = int(options.get("stack_size", TEACLAVE_STACK_SIZE))
        heap = int(options.get("heap_size", TEACLAVE_HEAP_SIZE))
    else:
        stack = int(options.get("stack_size", DEFAULT_STACK_SIZE))
        heap = int(options.get("heap_size", DEFAULT_HEAP_SIZE))
    return 2 * len(data) + stack + heap


def _mode(kind: str, options: Mapping[str, Any]) -> str:
    """The mode an executor made with ``options`` runs in (a Teaclave
    executor without one: its profile's default mode)."""
    mode = options.get("mode")
    if mode is not None:
        return str(mode)
    if kind == TEACLAVE:
        return get_profile(options.get("profile", DEFAULT_PROFILE)).default_mode
    return DEFAULT_MODE


class WarmState:
    """Per-process payload bytes and warm executors, LRU-bounded."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._payloads: OrderedDict[str, bytes] = OrderedDict()
        self._warm: OrderedDict[tuple[str, str, str], tuple[Warm, int]] = OrderedDict()
        self.created = 0  # executors created (for tests and diagnostics)

    def has_payload(self, digest: str) -> bool:
        with self._lock:
            return digest in self._payloads

    def add_payload(self, digest: str, data: bytes, limits: tuple[int, int]) -> None:
        if hashlib.sha256(data).hexdigest() != digest:
            raise ValueError("the payload bytes do not match their hash")
        with self._lock:
            self._payloads[digest] = data
            self._payloads.move_to_end(digest)
            max_entries, max_bytes = limits
            while len(self._payloads) > 1 and (
                    len(self._payloads) > max_entries
                    or sum(map(len, self._payloads.values())) > max_bytes):
                self._payloads.popitem(last=False)

    def executor(self, kind: str, digest: str, options_key: str, options: dict[str, Any],
                 limits: tuple[int, int]) -> Warm:
        """The warm executor for this payload and options, created on first use."""
        key = (kind, digest, options_key)
        with self._lock:
            found = self._warm.get(key)
            if found is not None:
                self._warm.move_to_end(key)
                return found[0]
            data = self._payloads[digest]
            self._payloads.move_to_end(digest)
            if options.get("policy") == "cold":
                # A cold executor re-initialises WAMR per invocation and needs
                # its mode's core to itself: close what else holds that core.
                mode = _mode(kind, options)
                self._evict(lambda warm: warm.mode == mode and warm.policy != "cold")
            else:
                mode = _mode(kind, options)
                self._evict(lambda warm: warm.policy == "cold" and warm.mode == mode)
        created: Warm
        if kind == TEACLAVE:
            created = Executor(data, **options)
        elif kind == WASI:
            created = WasiCommand(data, **options)
        else:
            created = _CallTarget(data, **options)
        with self._lock:
            self.created += 1
            self._warm[key] = (created, _footprint(data, options, kind))
            max_entries, max_bytes = limits
            while len(self._warm) > 1 and (
                    len(self._warm) > max_entries
                    or sum(size for _, size in self._warm.values()) > max_bytes):
                _, (evicted, _) = self._warm.popitem(last=False)
                evicted.close()
        return created

    def _evict(self, doomed: Any) -> None:
        for key in [k for k, (warm, _) in self._warm.items() if doomed(warm)]:
            self._warm.pop(key)[0].close()

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"executors": len(self._warm), "payloads": len(self._payloads),
                    "created": self.created,
                    "bytes": sum(size for _, size in self._warm.values())}

    def clear(self) -> None:
        with self._lock:
            while self._warm:
                self._warm.popitem()[1][0].close()
            self._payloads.clear()


_STATE = WarmState()


def warm_stats() -> dict[str, int]:
    """This process's warm state (run on workers with ``Client.run``)."""
    return _STATE.stats()


def run_chunk(spec: Spec, payload: bytes | None,
              items_blob: bytes) -> tuple[str, str, list[Any]]:
    """Run a chunk of invocations of one payload with one set of options.

    ``items_blob`` is the pickled list of items (pickled by the client, so
    Dask does not walk every item looking for keys).  Returns ``(MISS, "",
    [])`` when this worker lacks the payload and the task did not carry it,
    else ``(DONE, worker address, results)`` with one encoded result per item,
    in order (see :func:`encode`).  Failures of single invocations are
    results, never exceptions.
    """
    kind, digest, options_key, options, limits = spec
    _settle_under_nanny()
    worker = worker_address()
    if not _STATE.has_payload(digest):
        if payload is None:
            return MISS, "", []
        _STATE.add_payload(digest, payload, limits)
    items: list[Any] = pickle.loads(items_blob)
    try:
        warm = _STATE.executor(kind, digest, options_key, options, limits)
    except Exception as exc:  # noqa: BLE001 - reported per invocation
        failed = {"error": f"{type(exc).__name__}: {exc}"}
        return DONE, worker, [failed] * len(items)
    if kind == CALL:
        assert isinstance(warm, _CallTarget)
        return DONE, worker, [_call(warm, item) for item in items]
    if kind == WASI:
        assert isinstance(warm, WasiCommand)
        return DONE, worker, [_wasi(warm, item) for item in items]
    assert isinstance(warm, Executor)
    scratch = _Scratch()
    try:
        return DONE, worker, [_invoke(warm, item, scratch, n) for n, item in enumerate(items)]
    finally:
        scratch.remove()


def encode(fields: dict[str, Any]) -> tuple[Any, float] | dict[str, Any]:
    """A result as it travels back: ``(return_value, seconds)`` when nothing
    else is set (the common case: cheap to pickle), else the non-default
    :class:`InvocationResult` fields by name."""
    if len(fields) == 2 and "return_value" in fields and "seconds" in fields:
        return fields["return_value"], fields["seconds"]
    return fields


def decode(ident: Any, encoded: tuple[Any, float] | dict[str, Any],
           worker: str | None) -> InvocationResult:
    """The :class:`InvocationResult` of a result made by :func:`encode`."""
    if type(encoded) is tuple:
        return InvocationResult(ident, encoded[0], seconds=encoded[1], worker=worker)
    assert isinstance(encoded, dict)
    return InvocationResult(ident, worker=worker, **encoded)


class _Scratch:
    """A worker-local folder for input and output files that travel as
    bytes, created on first use (most chunks never need one)."""

    def __init__(self) -> None:
        self.path: str | None = None

    def file(self, name: str) -> str:
        if self.path is None:
            self.path = tempfile.mkdtemp(prefix="pywamr-chunk-", dir=_local_directory())
        return os.path.join(self.path, name)

    def remove(self) -> None:
        if self.path is not None:
            shutil.rmtree(self.path, ignore_errors=True)


def _call(target: _CallTarget, item: tuple[Any, ...]) -> tuple[Any, float] | dict[str, Any]:
    export, params, timeout = item
    fields: dict[str, Any] = {}
    start = time.perf_counter()
    try:
        fields["return_value"] = target.call(export, params, timeout)
    except Trap as trap:
        fields["trap"] = trap.message
        if isinstance(trap, Timeout):
            fields["timed_out"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the result
        fields["error"] = f"{type(exc).__name__}: {exc}"
    fields["seconds"] = time.perf_counter() - start
    return encode(fields)


def _wasi(command: WasiCommand, item: tuple[Any, ...]) -> tuple[Any, float] | dict[str, Any]:
    """Run a WASI command: ``return_value`` is its exit code; stdout and
    stderr are captured."""
    argv, env, preopens, stdin = item
    fields: dict[str, Any] = {}
    stdout, stderr = io.BytesIO(), io.BytesIO()
    start = time.perf_counter()
    try:
        config = WasiConfig(argv=argv, env=env, preopens=preopens, stdin=stdin,
                            stdout=stdout, stderr=stderr)
        fields["return_value"] = command.run(config)
    except Trap as trap:
        fields["trap"] = trap.message
        if isinstance(trap, Timeout):
            fields["timed_out"] = True
    except Exception as exc:  # noqa: BLE001 - reported in the result
        fields["error"] = f"{type(exc).__name__}: {exc}"
    fields["seconds"] = time.perf_counter() - start
    if stdout.tell():
        fields["stdout"] = stdout.getvalue()
    if stderr.tell():
        fields["stderr"] = stderr.getvalue()
    return encode(fields)


def _invoke(executor: Executor, item: Any, scratch: _Scratch,
            n: int) -> tuple[Any, float] | dict[str, Any]:
    """One Teaclave invocation.  ``item`` is the arguments alone (a dict or
    None) when the invocation has no files, timeout or timings, else
    ``(arguments, inputs, outputs, timeout, timings)``."""
    if type(item) is not tuple:
        start = time.perf_counter()
        try:
            run = executor.invoke(item)
        except Exception as exc:  # noqa: BLE001 - reported in the result
            return _failure(exc)
        seconds = time.perf_counter() - start
        if (run.trap is None and run.error is None and not run.stdout and not run.file_errors
                and not run.files_left_open and not run.outputs and not run.output_tags
                and run.timings is None):
            return run.return_value, seconds
        return _fields(run, seconds, {})
    arguments, inputs, outputs, timeout, timings = item
    local: list[str] = []
    try:
        input_map: dict[str, Any] = {}
        for i, (fid, (how, value)) in enumerate(inputs.items()):
            if how == INPUT_BYTES:
                path = scratch.file(f"in-{n}-{i}")
                with open(path, "wb") as handle:
                    handle.write(value)
                local.append(path)
                input_map[fid] = path
            else:
                input_map[fid] = value
        output_map: dict[str, Any] = {}
        returned: dict[str, str] = {}
        for i, (fid, where) in enumerate(outputs.items()):
            if where == OUTPUT_BYTES:
                path = scratch.file(f"out-{n}-{i}")
                local.append(path)
                output_map[fid] = returned[fid] = path
            else:
                output_map[fid] = where[1]
        start = time.perf_counter()
        run = executor.invoke(arguments, input_map, output_map, timeout=timeout,
                              timings=timings)
        return _fields(run, time.perf_counter() - start, returned)
    except Exception as exc:  # noqa: BLE001 - reported in the result
        return _failure(exc)
    finally:
        for path in local:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


def _failure(exc: Exception) -> dict[str, Any]:
    fields: dict[str, Any] = {"error": f"{type(exc).__name__}: {exc}"}
    file_errors = list(getattr(exc, "file_errors", None) or [])  # e.g. a refused input
    if file_errors:
        fields["file_errors"] = file_errors
    return fields


def _fields(run: RunResult, seconds: float, returned: Mapping[str, str]) -> dict[str, Any]:
    """The result fields of a Teaclave run; outputs named in ``returned``
    (fid -> worker-local path) come back as bytes."""
    outputs: dict[str, bytes | str] = {}
    for fid, published in run.outputs.items():
        if fid in returned:
            with open(published, "rb") as handle:
                outputs[fid] = handle.read()
        else:
            outputs[fid] = str(published)
    return {"return_value": run.return_value, "trap": run.trap, "timed_out": run.timed_out,
            "stdout": run.stdout, "file_errors": run.file_errors,
            "files_left_open": run.files_left_open, "timings": run.timings,
            "output_tags": dict(run.output_tags), "outputs": outputs, "seconds": seconds,
            # the payload ran, the task failed (teaclave profile: an output never created)
            "error": None if run.error is None else f"TaskError: {run.error}"}
