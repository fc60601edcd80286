"""The client side: a concurrent.futures-shaped batch executor on Dask."""

from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import importlib
import inspect
import logging
import math
import os
import pickle
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .._wasi_command import WasiCommand
from ..teaclave import Executor
from ..teaclave._files import _check_replaceable, _temp_name, temp_path
from ._result import InvocationResult
from ._worker import (
    CALL,
    INPUT_BYTES,
    INPUT_OBJECT,
    INPUT_PATH,
    MISS,
    OUTPUT_BYTES,
    OUTPUT_PATH,
    TEACLAVE,
    WASI,
    Spec,
    _CallTarget,
    decode,
    run_chunk,
    warm_stats,
)

DEFAULT_CHUNK_SIZE = 16  # invocations per task for submit() when chunk_size is None
# (more once results show the payload's invocations are quick)
# map()/run() without a chunk_size: each chunk holds 1/(AUTO_SPLIT x workers) of
# what is left, at most MAX_AUTO_CHUNK and at least MIN_AUTO_CHUNK, or fewer for
# a payload whose last invocations took long (about AUTO_TAIL_SECONDS a chunk).
AUTO_SPLIT = 2
MAX_AUTO_CHUNK = 2048
MIN_AUTO_CHUNK = 16
AUTO_TAIL_SECONDS = 0.05
DEFAULT_MAX_RETRIES = 2
DEFAULT_INLINE_BYTES = 1 << 20
DEFAULT_CACHE_ENTRIES = 16
DEFAULT_CACHE_BYTES = 1 << 30
DEFAULT_LINGER = 0.005
DEFAULT_RESULT_TIMEOUT = 60.0
PATH_RECHECK_SECONDS = 1.0
WORKERS_RECHECK_SECONDS = 1.0
LINGER_CAP = 20  # a partly filled chunk waits at most LINGER_CAP x linger
_EXECUTOR_OPTIONS = inspect.signature(Executor)
_CALL_OPTIONS = inspect.signature(_CallTarget)
_WASI_OPTIONS = inspect.signature(WasiCommand)

PathLike = str | os.PathLike[str]


@dataclass(frozen=True)
class Shared:
    """A file on storage every worker can read (and write): the worker opens
    it at ``path`` itself instead of the bytes travelling inside the task."""

    path: str

    def __init__(self, path: PathLike) -> None:
        object.__setattr__(self, "path", os.path.abspath(os.fspath(path)))


BYTES = None
"""Output destination meaning: return the output's bytes in the result."""


@dataclass
class Invocation:
    """One Teaclave invocation in a batch (see :meth:`BatchExecutor.submit`)."""

    payload: bytes | PathLike
    arguments: Mapping[str, Any] | None = None
    inputs: Mapping[str, Any] | None = None
    outputs: Mapping[str, Any] | None = None
    id: Any = None
    timeout: float | None = None
    options: dict[str, Any] = field(default_factory=dict)


class InvocationFuture(concurrent.futures.Future[InvocationResult]):
    """A :class:`concurrent.futures.Future` for one invocation.

    Invocations wait in a chunk until it is full, a short linger passes, or
    someone asks for a result (which sends every waiting chunk at once).
    """

    def __init__(self, batch: BatchExecutor, ident: Any,
                 post: _Post | None = None) -> None:
        super().__init__()
        self._batch = batch
        self._post = post
        self.id = ident

    def result(self, timeout: float | None = None) -> InvocationResult:
        if not self.done():
            self._batch.flush()
        return super().result(timeout)

    def exception(self, timeout: float | None = None) -> BaseException | None:
        if not self.done():
            self._batch.flush()
        return super().exception(timeout)


# What the client does with an invocation's result besides returning it:
# (output fid -> path on this machine to write, shared output paths whose
# temporary files to remove if the worker crashes).
_Post = tuple[dict[str, str], list[str]]


class _Group:
    """The results of invocations submitted together by :meth:`BatchExecutor.map`
    or :meth:`BatchExecutor.run`, in order: one condition for the whole group
    instead of a future per invocation."""

    __slots__ = ("cond", "ids", "left", "post", "results")

    def __init__(self, ids: Sequence[Any]) -> None:
        self.ids = ids
        self.results: list[InvocationResult | None] = [None] * len(ids)
        self.left = len(ids)
        self.cond = threading.Condition(threading.Lock())
        self.post: dict[int, _Post] = {}

    def put(self, delivered: list[tuple[int, InvocationResult]]) -> bool:
        """Store results (each slot once); True when the group is complete."""
        with self.cond:
            for index, result in delivered:
                if self.results[index] is None:
                    self.results[index] = result
                    self.left -= 1
            self.cond.notify_all()
            return self.left == 0

    def get(self, index: int) -> InvocationResult:
        result = self.results[index]
        if result is None:
            with self.cond:
                while (result := self.results[index]) is None:
                    self.cond.wait()
        return result

    def wait(self) -> None:
        with self.cond:
            while self.left:
                self.cond.wait()


# Where one invocation's result goes: its future, or its slot in a group.
_Sink = InvocationFuture | tuple[_Group, int]


MAX_RESENDS = 3  # a chunk Dask cancels or loses on its own is sent again at most this often


@dataclass
class _Chunk:
    spec: Spec
    digest: str
    items: list[Any]  # what the worker gets, one per invocation
    sinks: list[_Sink]  # where each result goes, in the same order
    resends: int = 0  # times sent again after Dask cancelled or lost it on its own


def _module(name: str) -> Any:
    """Import an optional dependency (the ``distributed`` extra), untyped."""
    return importlib.import_module(name)


def _options_key(options: Mapping[str, Any]) -> str:
    items = sorted(options.items())
    try:
        blob = pickle.dumps(items, protocol=5)
    except Exception:  # noqa: BLE001 - closures and lambdas need cloudpickle
        blob = _module("cloudpickle").dumps(items, protocol=5)
    return hashlib.sha256(blob).hexdigest()


class BatchExecutor:
    """Run many payload invocations on a Dask cluster, warm on every worker.

    ``scheduler`` is a scheduler address (``"tcp://HOST:8786"``) or a
    :class:`distributed.Client`; without one a local cluster of ``workers``
    processes (default: one per CPU) is started, and closed with this object.
    ``chunk_size`` invocations travel in one Dask task; by default (None)
    :meth:`map` and :meth:`run` size chunks from the batch (large first,
    shrinking towards the end) and :meth:`submit` sends chunks of
    :data:`DEFAULT_CHUNK_SIZE`, larger once results show that the payload's
    invocations are quick.  ``max_retries`` is
    how many times a task whose worker died is retried elsewhere (for a
    local cluster; an existing cluster uses its scheduler's
    ``distributed.scheduler.allowed-failures``).  A path input up to
    ``inline_bytes`` is read here and travels in the task; a larger one is
    opened by the worker at the same path.  ``cache_entries``/``cache_bytes``
    bound the warm executors each worker keeps.  Other keyword arguments are
    default options of :class:`pywamr.teaclave.Executor` for every
    invocation (``mode``, ``policy``, ``timeout``, ``heap_size``, ...).
    """

    def __init__(self, scheduler: Any = None, *, workers: int | None = None,
                 threads_per_worker: int = 1, chunk_size: int | None = None,
                 max_retries: int = DEFAULT_MAX_RETRIES,
                 inline_bytes: int = DEFAULT_INLINE_BYTES,
                 cache_entries: int = DEFAULT_CACHE_ENTRIES,
                 cache_bytes: int = DEFAULT_CACHE_BYTES, linger: float = DEFAULT_LINGER,
                 result_timeout: float = DEFAULT_RESULT_TIMEOUT, **defaults: Any) -> None:
        dask = _module("dask")
        Client = _module("distributed").Client

        if chunk_size is not None and chunk_size < 1:
            raise ValueError("chunk_size must be at least 1")
        if max_retries < 0:
            raise ValueError("max_retries must not be negative")
        self.chunk_size = chunk_size
        self.inline_bytes = inline_bytes
        self._limits = (cache_entries, cache_bytes)
        self._linger = linger
        self._default_timeout = defaults.pop("timeout", None)
        _EXECUTOR_OPTIONS.bind(b"", **defaults)
        self._defaults = defaults
        self._cluster: Any = None
        self._own_client = not isinstance(scheduler, Client)
        if isinstance(scheduler, Client):
            self.client = scheduler
        elif scheduler is not None:
            self.client = Client(scheduler)
        else:
            # Saturation 1.0: a worker holds only the tasks it runs, so when
            # one dies, only those count as suspects (see docs/distributed.md).
            with dask.config.set({"distributed.scheduler.allowed-failures": max_retries,
                                  "distributed.scheduler.worker-saturation": 1.0}):
                self._cluster = _local_cluster_class()(
                    n_workers=workers or os.cpu_count() or 1,
                    threads_per_worker=threads_per_worker, processes=True,
                    host="127.0.0.1", dashboard_address=None, silence_logs=logging.ERROR,
                    # no dashboard; the scheduler's HTTP routes on a free local port
                    scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
            try:
                self.client = Client(self._cluster)
            except BaseException:
                self._cluster.close()
                raise
        self._lock = threading.RLock()
        self._buffers: dict[tuple[str, str, str], tuple[list[Any], list[_Sink]]] = {}
        self._specs: dict[tuple[str, str, str], Spec] = {}
        self._payloads: dict[str, bytes] = {}
        self._paths: dict[str, tuple[float, tuple[int, int, int], str]] = {}
        self._options_keys: dict[Any, str] = {}
        self._sent_with_bytes: dict[str, int] = {}
        self._workers = (0.0, 1)  # (when counted, how many workers)
        self._pace: dict[tuple[str, str, str], float] = {}  # key -> seconds an invocation
        self._inflight: dict[Any, tuple[Any, _Chunk]] = {}
        self._unresolved: set[InvocationFuture] = set()
        self._groups: set[_Group] = set()
        self._collector = concurrent.futures.ThreadPoolExecutor(
            4, thread_name_prefix="pywamr-batch-collect")
        self.result_timeout = result_timeout
        self._counter = 0
        self._closed = False
        self._wake = threading.Condition(self._lock)
        self._dirty = False
        self._first_waiting = self._last_queued = 0.0
        self._lingerer = threading.Thread(target=self._linger_loop, daemon=True,
                                          name="pywamr-batch-linger")
        self._lingerer.start()

    @staticmethod
    def check_available() -> None:
        """Raise ImportError unless Dask distributed is installed."""
        _module("distributed")

    # -- submitting ------------------------------------------------------
    def submit(self, payload: bytes | PathLike, arguments: Mapping[str, Any] | None = None,
               inputs: Mapping[str, Any] | None = None,
               outputs: Mapping[str, Any] | None = None, *, id: Any = None,
               timeout: float | None = None, timings: bool = False,
               **options: Any) -> InvocationFuture:
        """Queue one Teaclave invocation; returns its future.

        ``inputs`` map file ids to bytes, to a path (read here when small,
        else opened by the worker at that path), to :class:`Shared`, or to a
        file description the executor accepts (passed on as it is).
        ``outputs`` map file ids to :data:`BYTES` (``None``: the bytes come
        back in ``result.outputs``), to a path on this machine (written here
        when the result arrives, under the same rules as the local
        executor), or to :class:`Shared` (the worker writes it).  ``options``
        override the executor options given to the constructor.
        """
        key, timeout = self._teaclave_key(payload, options, timeout)
        item, post = self._teaclave_item(arguments, inputs, outputs, timeout, timings)
        with self._lock:
            return self._queue(key, item, self._next_id(id), post)

    def submit_call(self, payload: bytes | PathLike, export: str, *params: Any, id: Any = None,
                    timeout: float | None = None, **options: Any) -> InvocationFuture:
        """Queue a call of export ``export`` with ``params``; each call starts
        from the freshly instantiated state.  ``options``: ``mode``,
        ``stack_size``, ``heap_size``, ``hosts``, ``max_memory_pages``."""
        if not isinstance(export, str):
            raise TypeError(f"export name must be str, not {type(export).__name__}")
        key = self._key(CALL, self._digest(payload), dict(options))
        with self._lock:
            return self._queue(key, (export, tuple(params), timeout), self._next_id(id), None)

    def submit_wasi(self, program: bytes | PathLike, argv: Iterable[str] = ("main",), *,
                    env: Mapping[str, str] | None = None,
                    preopens: Mapping[str, PathLike] | None = None, stdin: bytes = b"",
                    id: Any = None, **options: Any) -> InvocationFuture:
        """Queue a run of a WASI command (``_start``); ``return_value`` is its
        exit code, ``stdout``/``stderr`` what it wrote.  ``preopens`` name
        directories on the workers (shared storage).  ``options``: those of
        :class:`pywamr.WasiCommand` (``mode``, ``policy``, ``timeout``, ...)."""
        if isinstance(argv, (str, bytes)):
            raise TypeError("argv must be a sequence of str, not a single string")
        if not isinstance(stdin, (bytes, bytearray, memoryview)):
            raise TypeError(f"stdin must be bytes, not {type(stdin).__name__}")
        key = self._key(WASI, self._digest(program), dict(options))
        item = ([str(a) for a in argv], dict(env or {}),
                {guest: os.fspath(host) for guest, host in (preopens or {}).items()},
                bytes(stdin))
        with self._lock:
            return self._queue(key, item, self._next_id(id), None)

    def map(self, payload: bytes | PathLike, arguments: Iterable[Mapping[str, Any] | None],
            *, timeout: float | None = None, **options: Any) -> Iterator[InvocationResult]:
        """Invoke ``payload`` once per item of ``arguments``; results in order.

        Everything is sent at once (in chunks sized for the batch, see
        ``chunk_size``); the iterator waits for each result in turn.
        """
        key, timeout = self._teaclave_key(payload, options, timeout)
        items: list[Any] = []
        for args in arguments:
            if args is not None and not isinstance(args, Mapping):
                raise TypeError(f"arguments must be a mapping, not {type(args).__name__}")
            plain = dict(args) if args else None
            items.append(plain if timeout is None else (plain, {}, {}, timeout, False))
        with self._lock:
            first = self._next_ids(len(items))
            group = _Group(range(first, first + len(items)))
            self._dispatch(key, items, [(group, n) for n in range(len(items))])
        return (group.get(n) for n in range(len(items)))

    def run(self, invocations: Iterable[Invocation]) -> list[InvocationResult]:
        """Run a batch of :class:`Invocation` and return results in order."""
        prepared: list[tuple[tuple[str, str, str], Any, _Post | None, Any]] = []
        for inv in invocations:
            key, timeout = self._teaclave_key(inv.payload, inv.options, inv.timeout)
            item, post = self._teaclave_item(inv.arguments, inv.inputs, inv.outputs, timeout,
                                             False)
            prepared.append((key, item, post, inv.id))
        with self._lock:
            first = self._next_ids(len(prepared))
            group = _Group([first + n if ident is None else ident
                            for n, (_, _, _, ident) in enumerate(prepared)])
            by_key: dict[tuple[str, str, str], tuple[list[Any], list[_Sink]]] = {}
            for n, (key, item, post, _) in enumerate(prepared):
                if post is not None:
                    group.post[n] = post
                items, sinks = by_key.setdefault(key, ([], []))
                items.append(item)
                sinks.append((group, n))
            for key, (items, sinks) in by_key.items():
                self._dispatch(key, items, sinks)
        return [group.get(n) for n in range(len(prepared))]

    def as_completed(self, futures: Iterable[InvocationFuture],
                     timeout: float | None = None) -> Iterator[InvocationFuture]:
        """Like :func:`concurrent.futures.as_completed`, sending waiting
        chunks first."""
        listed = list(futures)
        self.flush()
        for future in concurrent.futures.as_completed(listed, timeout):
            assert isinstance(future, InvocationFuture)
            yield future

    def flush(self) -> None:
        """Send every waiting (partly filled) chunk now."""
        with self._lock:
            for key in list(self._buffers):
                self._send_buffer(key)
            self._dirty = False

    def warm_stats(self) -> dict[str, dict[str, int]]:
        """Each worker's warm state: executors, payloads, created, bytes."""
        return dict(self.client.run(warm_stats))

    # -- internals ---------------------------------------------------------
    def _teaclave_key(self, payload: bytes | PathLike, options: Mapping[str, Any],
                      timeout: float | None) -> tuple[tuple[str, str, str], float | None]:
        """The chunk key of a Teaclave invocation and its timeout (``timeout``
        does not split the warm executors)."""
        merged = {**self._defaults, **options} if options else self._defaults.copy()
        if timeout is None:
            timeout = merged.pop("timeout", self._default_timeout)
        else:
            merged.pop("timeout", None)
        return self._key(TEACLAVE, self._digest(payload), merged), timeout

    def _teaclave_item(self, arguments: Mapping[str, Any] | None,
                       inputs: Mapping[str, Any] | None, outputs: Mapping[str, Any] | None,
                       timeout: float | None, timings: bool) -> tuple[Any, _Post | None]:
        """What the worker gets for one Teaclave invocation (the arguments
        alone when there is nothing else), and what this side does with its
        result."""
        if arguments is not None and not isinstance(arguments, Mapping):
            raise TypeError(f"arguments must be a mapping, not {type(arguments).__name__}")
        plain = dict(arguments) if arguments else None
        if not inputs and not outputs and timeout is None and not timings:
            return plain, None
        task_inputs = {self._fid(fid): self._input(value) for fid, value in (inputs or {}).items()}
        task_outputs: dict[str, Any] = {}
        write_to: dict[str, str] = {}
        shared: list[str] = []
        for fid, where in (outputs or {}).items():
            fid = self._fid(fid)
            if where is BYTES:
                task_outputs[fid] = OUTPUT_BYTES
            elif isinstance(where, Shared):
                task_outputs[fid] = (OUTPUT_PATH, where.path)
                shared.append(where.path)
            elif isinstance(where, (str, os.PathLike)):
                task_outputs[fid] = OUTPUT_BYTES
                write_to[fid] = os.path.abspath(os.fspath(where))
            else:  # a file description the executor accepts (e.g. a ProtectedFile):
                task_outputs[fid] = (OUTPUT_PATH, where)  # the worker writes it
        post = (write_to, shared) if write_to or shared else None
        return (plain, task_inputs, task_outputs, timeout, timings), post

    @staticmethod
    def _fid(fid: Any) -> str:
        if not isinstance(fid, str):
            raise TypeError(f"file ids must be str, not {type(fid).__name__}")
        return fid

    def _input(self, value: Any) -> tuple[str, Any]:
        if isinstance(value, (bytes, bytearray, memoryview)):
            return (INPUT_BYTES, bytes(value))
        if isinstance(value, Shared):
            return (INPUT_PATH, value.path)
        if isinstance(value, (str, os.PathLike)):
            path = os.path.abspath(os.fspath(value))
            try:
                size = os.path.getsize(path)
            except OSError:
                return (INPUT_PATH, path)  # the executor reports it like a local run
            if size > self.inline_bytes:
                return (INPUT_PATH, path)
            with open(path, "rb") as handle:
                return (INPUT_BYTES, handle.read())
        return (INPUT_OBJECT, value)

    def _digest(self, payload: bytes | PathLike) -> str:
        if isinstance(payload, (bytes, bytearray, memoryview)):
            data = bytes(payload)
        elif isinstance(payload, (str, os.PathLike)):
            # A payload file is read once; it is looked at again (stat) at
            # most once a second, and read again if it changed.
            name = os.fspath(payload)
            now = time.monotonic()
            known = self._paths.get(name)
            if known is not None and now - known[0] < PATH_RECHECK_SECONDS:
                return known[2]
            info = os.stat(name)
            stamp = (info.st_mtime_ns, info.st_size, info.st_ino)
            if known is not None and known[1] == stamp:
                self._paths[name] = (now, stamp, known[2])
                return known[2]
            with open(name, "rb") as handle:
                data = handle.read()
            digest = hashlib.sha256(data).hexdigest()
            with self._lock:
                self._paths[name] = (now, stamp, digest)
                self._payloads.setdefault(digest, data)
            return digest
        else:
            raise TypeError(f"payload must be bytes or a path, not {type(payload).__name__}")
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            self._payloads.setdefault(digest, data)
        return digest

    def _next_id(self, ident: Any) -> Any:
        counter = self._next_ids(1)
        return counter if ident is None else ident

    def _next_ids(self, count: int) -> int:
        """Reserve ``count`` positions in submission order; the first one."""
        if self._closed:
            raise RuntimeError("the batch executor is shut down")
        first = self._counter
        self._counter += count
        return first

    def _key(self, kind: str, digest: str, options: dict[str, Any]) -> tuple[str, str, str]:
        """Check ``options`` (once per distinct set) and return the chunk key."""
        memo: Any = (kind, tuple(sorted(options.items())))
        try:
            options_key = self._options_keys.get(memo)
        except TypeError:  # unhashable values (e.g. hosts): check every time
            memo, options_key = None, None
        if options_key is None:
            {TEACLAVE: _EXECUTOR_OPTIONS, CALL: _CALL_OPTIONS, WASI: _WASI_OPTIONS}[kind].bind(
                b"", **options)
            options_key = _options_key(options)
            if memo is not None:
                self._options_keys[memo] = options_key
        key = (kind, digest, options_key)
        if key not in self._specs:
            with self._lock:
                self._specs[key] = (kind, digest, options_key, options, self._limits)
        return key

    def _queue(self, key: tuple[str, str, str], item: Any, ident: Any,
               post: _Post | None) -> InvocationFuture:
        future = InvocationFuture(self, ident, post)
        self._unresolved.add(future)
        items, sinks = self._buffers.setdefault(key, ([], []))
        items.append(item)
        sinks.append(future)
        if len(items) >= (self.chunk_size or self._stream_chunk_size(key)):
            self._send_buffer(key)
        else:
            self._last_queued = time.monotonic()
            if not self._dirty:
                self._dirty = True
                self._first_waiting = self._last_queued
                self._wake.notify()
        return future

    def _stream_chunk_size(self, key: tuple[str, str, str]) -> int:
        """The chunk size for :meth:`submit` without a ``chunk_size``:
        :data:`DEFAULT_CHUNK_SIZE`, or more for a payload whose last
        invocations were quick (about AUTO_TAIL_SECONDS of work a chunk)."""
        pace = self._pace.get(key)
        if pace is None:
            return DEFAULT_CHUNK_SIZE
        return max(DEFAULT_CHUNK_SIZE, min(MAX_AUTO_CHUNK, math.ceil(
            AUTO_TAIL_SECONDS / max(pace, 1e-9))))

    def _send_buffer(self, key: tuple[str, str, str]) -> None:
        buffered = self._buffers.pop(key, None)
        if buffered:
            self._send(_Chunk(self._specs[key], key[1], *buffered), with_bytes=None)

    def _chunk_sizes(self, key: tuple[str, str, str], count: int) -> Iterator[int]:
        """Sizes of the chunks for ``count`` invocations sent at once: the
        fixed ``chunk_size``, or (None) large chunks first, shrinking as
        fewer are left, so that the last tasks are short and every worker
        finishes at about the same time (guided self-scheduling)."""
        if self.chunk_size:
            for _ in range(count // self.chunk_size):
                yield self.chunk_size
            if count % self.chunk_size:
                yield count % self.chunk_size
            return
        parts = AUTO_SPLIT * self._worker_count()
        pace = self._pace.get(key)
        smallest = MIN_AUTO_CHUNK if pace is None else max(1, min(
            MIN_AUTO_CHUNK, math.ceil(AUTO_TAIL_SECONDS / max(pace, 1e-9))))
        while count:
            size = min(count, MAX_AUTO_CHUNK, max(smallest, math.ceil(count / parts)))
            yield size
            count -= size

    def _dispatch(self, key: tuple[str, str, str], items: list[Any],
                  sinks: list[_Sink]) -> None:
        """Send ``items`` (one payload, one set of options) in chunks."""
        if not items:
            return
        spec = self._specs[key]
        if isinstance(sinks[0], tuple):
            self._groups.add(sinks[0][0])
        start = 0
        for size in self._chunk_sizes(key, len(items)):
            self._send(_Chunk(spec, key[1], items[start:start + size],
                              sinks[start:start + size]), with_bytes=None)
            start += size

    def _worker_count(self) -> int:
        """How many workers the cluster has (asked at most once a second)."""
        when, count = self._workers
        now = time.monotonic()
        if now - when >= WORKERS_RECHECK_SECONDS:
            count = max(1, len(self.client.scheduler_info().get("workers", {})))
            self._workers = (now, count)
        return count

    def _send(self, chunk: _Chunk, with_bytes: bool | None) -> None:
        """Submit ``chunk`` as one task (with the payload's bytes when asked,
        or while fewer chunks carried them than there are workers)."""
        if with_bytes is None:
            with_bytes = self._sent_with_bytes.get(chunk.digest, 0) < self._worker_count()
        if with_bytes:
            self._sent_with_bytes[chunk.digest] = self._sent_with_bytes.get(chunk.digest, 0) + 1
        payload = self._payloads[chunk.digest] if with_bytes else None
        task = self.client.submit(run_chunk, chunk.spec, payload, _dumps(chunk.items),
                                  key=f"pywamr-{chunk.spec[0]}-{uuid.uuid4().hex}", pure=False)
        self._inflight[task.key] = (task, chunk)
        task.add_done_callback(self._on_done)

    def _on_done(self, task: Any) -> None:
        """Dask's callback thread: hand the finished task to a collector
        thread (fetching a result can wait, e.g. while a lost one is rerun)."""
        with self._lock:
            found = self._inflight.pop(task.key, None)
            if found is None or self._closed:
                return
        self._collector.submit(self._collect, task, found[1])

    def _collect(self, task: Any, chunk: _Chunk) -> None:
        try:
            self._settle(task, chunk)
        except BaseException as exc:  # noqa: BLE001 - never lose an invocation
            self._failed(chunk, exc)

    def _settle(self, task: Any, chunk: _Chunk) -> None:
        try:
            status = task.status
            if status == "finished":
                try:
                    tag, worker, results = task.result(timeout=self.result_timeout)
                except TimeoutError:
                    # The result was lost with its worker and Dask has not
                    # produced it again in time: run the chunk afresh.
                    task.cancel()
                    with self._lock:
                        self._send(chunk, with_bytes=True)
                    return
                if tag == MISS:
                    with self._lock:
                        self._send(chunk, with_bytes=True)
                    return
                delivered = [decode(self._ident(sink), encoded, worker)
                             for sink, encoded in zip(chunk.sinks, results)]
                if delivered:
                    self._pace[chunk.spec[:3]] = sum(
                        r.seconds for r in delivered) / len(delivered)
                self._deliver(chunk.sinks, delivered)
                return
            if status != "error" and chunk.resends < MAX_RESENDS:
                # Cancelled or lost, not by us (a task we cancel is no longer
                # in flight): Dask can drop a task while a worker dies and is
                # replaced.
                with self._lock:
                    self._send(_Chunk(chunk.spec, chunk.digest, chunk.items, chunk.sinks,
                                      chunk.resends + 1), with_bytes=True)
                return
            exc = task.exception() if status == "error" else None
        except Exception as error:  # noqa: BLE001 - the task's own failure
            exc = error
        self._failed(chunk, exc)

    def _failed(self, chunk: _Chunk, exc: BaseException | None) -> None:
        KilledWorker = _module("distributed").KilledWorker

        if isinstance(exc, KilledWorker) and len(chunk.items) > 1:
            # Some invocation in the chunk kills its worker: try each alone,
            # so the others complete and only the culprit is reported.
            sent = 0
            try:
                with self._lock:
                    for item, sink in zip(chunk.items, chunk.sinks):
                        self._send(_Chunk(chunk.spec, chunk.digest, [item], [sink]),
                                   with_bytes=True)
                        sent += 1
                return
            except Exception as error:  # noqa: BLE001 - e.g. the client closed
                chunk = _Chunk(chunk.spec, chunk.digest, chunk.items[sent:],
                               chunk.sinks[sent:])
                exc = error
        crashed = isinstance(exc, KilledWorker)
        if crashed:
            message = (f"worker crashed: every worker that ran this invocation died "
                       f"({exc})")
        elif exc is None:
            message = "the task was cancelled"
        else:
            message = f"{type(exc).__name__}: {exc}"
        if crashed:
            for sink in chunk.sinks:
                post = self._post(sink)
                if post is not None:
                    _remove_stale_temps(post[1])
        self._deliver(chunk.sinks, [InvocationResult(id=self._ident(sink), error=message,
                                                     crashed=crashed) for sink in chunk.sinks],
                      run=False)

    @staticmethod
    def _ident(sink: _Sink) -> Any:
        if isinstance(sink, InvocationFuture):
            return sink.id
        group, index = sink
        return group.ids[index]

    @staticmethod
    def _post(sink: _Sink) -> _Post | None:
        if isinstance(sink, InvocationFuture):
            return sink._post
        group, index = sink
        return group.post.get(index) if group.post else None

    def _deliver(self, sinks: list[_Sink], results: list[InvocationResult],
                 run: bool = True) -> None:
        """Hand each result to its future or group slot, after writing the
        outputs meant for this machine (``run``: the invocation ran)."""
        grouped: dict[_Group, list[tuple[int, InvocationResult]]] = {}
        for sink, result in zip(sinks, results):
            post = self._post(sink) if run else None
            if post is not None:
                _write_outputs(post[0], result)
            if isinstance(sink, InvocationFuture):
                self._resolve(sink, result)
            else:
                grouped.setdefault(sink[0], []).append((sink[1], result))
        for group, delivered in grouped.items():
            if group.put(delivered):
                with self._lock:
                    self._groups.discard(group)

    def _resolve(self, future: InvocationFuture, result: InvocationResult) -> None:
        with self._lock:
            self._unresolved.discard(future)
        try:
            future.set_result(result)
        except concurrent.futures.InvalidStateError:
            pass  # cancelled by the caller, or already resolved

    def _linger_loop(self) -> None:
        with self._lock:
            while not self._closed:
                if not self._dirty:
                    self._wake.wait()
                    continue
                # Send partly filled chunks once submissions pause for
                # ``linger`` (or LINGER_CAP x linger after the first waited).
                now = time.monotonic()
                due = min(self._last_queued + self._linger,
                          self._first_waiting + LINGER_CAP * self._linger)
                if now < due:
                    self._wake.wait(due - now)
                elif not self._closed:
                    self.flush()

    # -- lifetime ----------------------------------------------------------
    def shutdown(self, wait: bool = True) -> None:
        """Send what waits and wait for every result (when ``wait``; otherwise
        unfinished invocations get a "shut down" error result), then close
        the client (and the local cluster this object started)."""
        if wait:
            self.flush()
            with self._lock:
                pending = list(self._unresolved)
                groups = list(self._groups)
            concurrent.futures.wait(pending)
            for group in groups:
                group.wait()
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._wake.notify_all()
            self._buffers.clear()
        self._collector.shutdown(wait=True, cancel_futures=True)
        try:
            if self._own_client:
                self.client.close()
            if self._cluster is not None:
                self._cluster.close()
        finally:
            message = "the batch executor was shut down before it ran"
            with self._lock:
                left = list(self._unresolved)
                groups = list(self._groups)
            for future in left:
                self._resolve(future, InvocationResult(id=future.id, error=message))
            for group in groups:
                group.put([(n, InvocationResult(id=group.ids[n], error=message))
                           for n, result in enumerate(group.results) if result is None])

    def __enter__(self) -> BatchExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown(wait=exc[0] is None)


def _local_cluster_class() -> Any:
    LocalCluster = _module("distributed").LocalCluster
    SpecCluster = _module("distributed.deploy.spec").SpecCluster

    class RestartingLocalCluster(LocalCluster):  # type: ignore[misc,valid-type]
        """A LocalCluster that leaves dead workers to their nannies.

        SpecCluster closes a worker's nanny for good when no worker of that
        name is back ``distributed.deploy.lost-worker-timeout`` (15 s) after
        a removal.  Payloads that crash worker after worker keep restarts
        overlapping, which would shrink the cluster to nothing; the nannies
        restart their workers themselves, so that timer is skipped here.

        Dask has no public API for this.  The setting is global (read when a
        worker is removed, from the process-wide config), and starting a new
        nanny afterwards (``scale`` to the same size) is too late: closing
        the old nanny can kill its worker just after it restarted and took
        a task, and that innocent task is counted as having killed a worker
        (seen: an invocation reported ``crashed``; docs/distributed.md).
        """

        def _update_worker_status(self, op: str, msg: Any) -> None:
            super(SpecCluster, self)._update_worker_status(op, msg)

    return RestartingLocalCluster


def _dumps(items: list[Any]) -> bytes:
    """Pickle a chunk's items here: Dask would otherwise walk every item
    looking for keys and futures in it."""
    try:
        return pickle.dumps(items, protocol=5)
    except Exception:  # noqa: BLE001 - e.g. a file description holding a lambda
        return bytes(_module("cloudpickle").dumps(items, protocol=5))


def _write_outputs(write_to: dict[str, str], result: InvocationResult) -> None:
    """Write the outputs that came back as bytes to their paths on this machine."""
    for fid, path in write_to.items():
        data = result.outputs.pop(fid, None)
        if isinstance(data, bytes):
            error = _write_output(path, data)
            if error is None:
                result.outputs[fid] = path
            else:
                result.file_errors.append(f"output '{fid}' discarded: {error}")


def _write_output(path: str, data: bytes) -> str | None:
    """Write ``data`` beside ``path`` and rename it into place; the reason on failure."""
    temp = temp_path(path)
    try:
        _check_replaceable(path)
        with open(temp, "wb") as handle:
            handle.write(data)
        os.replace(temp, path)
        return None
    except OSError as exc:
        try:
            os.unlink(temp)
        except OSError:
            pass
        return f"it could not be written ({exc.strerror or exc})"


def _remove_stale_temps(paths: list[str]) -> None:
    """Remove the temporary files a crashed worker left beside shared outputs."""
    for path in paths:
        head, tail = os.path.split(path)
        pattern = os.path.join(glob.escape(head), _temp_name(glob.escape(tail), "*", "*"))
        for temp in glob.glob(pattern):
            try:
                os.unlink(temp)
            except OSError:
                pass
