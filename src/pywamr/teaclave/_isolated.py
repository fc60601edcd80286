"""Crash isolation: run a payload in a pool of worker processes.

Protocol.  Each worker is a process started with the ``forkserver`` (default)
or ``spawn`` method (never ``fork``: the parent has threads, e.g. the timeout
watchdog).  It builds one warm :class:`~pywamr.teaclave.Executor` from the
pickled configuration and sends ``("ready", pid)`` (or ``("error", exc)``).
Then, over its own duplex pipe, it answers each request
``("invoke", arguments, inputs, outputs, timeout, timings)`` with
``("ok", RunResult)`` or ``("error", exception)``; ``None`` asks it to exit,
and so does the parent's end of the pipe closing.

The parent hands each call to an idle worker and waits for the answer.  If
the pipe reports end-of-file the worker died (a crash in WAMR or in a host
function): the caller gets :class:`~pywamr.WorkerCrashed` with the signal,
and a new worker takes the dead one's place.  If a deadline (the call's
timeout plus ``grace``) passes without an answer, the worker is stuck in
native code the in-process watchdog cannot stop: it is killed and replaced,
and the caller gets :class:`~pywamr.Timeout`.  Temporary output files a dead
worker leaves behind are removed.
"""

from __future__ import annotations

import math
import multiprocessing
import os
import pickle
import select
import signal as signals
import threading
import time
import weakref
from collections.abc import Mapping
from multiprocessing.connection import Connection
from typing import Any

from .._errors import ClosedError, Timeout, WamrError, WorkerCrashed
from .._source import Source
from ._arguments import flatten
from ._executor import Executor, read_payload
from ._file_formats import ProtectedFile
from ._files import FileSpec, absolute, file_map, path_of, remove_temporaries
from ._profile import DEFAULT_PROFILE
from ._result import RunResult
from ._staged import remove_staging_of

START_METHODS = ("forkserver", "spawn")
DEFAULT_GRACE = 1.0
DEFAULT_START_TIMEOUT = 60.0
_STOP_WAIT = 5.0


# -- the worker process ----------------------------------------------------
def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling, else a WamrError carrying its text."""
    note = f"raised in pywamr worker process {os.getpid()}"
    try:
        pickle.loads(pickle.dumps(exc))
    except Exception:  # noqa: BLE001 - anything unpicklable is replaced
        exc = WamrError(f"{type(exc).__name__}: {exc}")
    if hasattr(exc, "add_note"):
        exc.add_note(note)
    return exc


def _worker_main(conn: Connection, config: bytes) -> None:
    """Entry point of a worker process (see the module docstring)."""
    signals.signal(signals.SIGINT, signals.SIG_IGN)  # Ctrl-C is the parent's to handle
    try:
        payload, options = pickle.loads(config)
        executor = Executor(payload, **options)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        conn.send(("error", _portable(exc)))
        return
    conn.send(("ready", os.getpid()))
    try:
        while True:
            try:
                request = conn.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            if request is None:
                return
            _, arguments, inputs, outputs, timeout, timings = request
            try:
                reply: tuple[str, Any] = ("ok", executor.invoke(
                    arguments, inputs, outputs, timeout=timeout, timings=timings))
            except BaseException as exc:  # noqa: BLE001 - reported to the caller
                reply = ("error", _portable(exc))
            conn.send(reply)
    finally:
        executor.close()


# -- the parent side -------------------------------------------------------
class _Worker:
    """One worker process and the parent's end of its pipe."""

    def __init__(self, ctx: Any, config: bytes) -> None:
        parent, child = ctx.Pipe(duplex=True)
        self.process = ctx.Process(target=_worker_main, args=(child, config), daemon=True,
                                   name="pywamr-isolated-worker")
        self.process.start()
        child.close()  # only the worker holds its end: its death is our EOF
        self.conn: Connection = parent
        self.pid: int = self.process.pid
        self.ready = False
        # One poll object per worker: Connection.poll builds a selector per call,
        # which costs about a third of a warm round trip.
        self.poller = select.poll()
        self.poller.register(parent.fileno(), select.POLLIN)

    def wait_ready(self, timeout: float) -> None:
        """Wait for the worker's hello; raise what it reported, or WorkerCrashed."""
        if self.ready:
            return
        if not self.conn.poll(timeout):
            self.kill()
            raise WamrError(f"worker process {self.pid} did not start within {timeout:g} s")
        try:
            kind, value = self.conn.recv()
        except (EOFError, OSError):
            raise self.crashed("while starting") from None
        if kind == "error":
            self.stop()
            raise value
        self.ready = True

    def crashed(self, when: str) -> WorkerCrashed:
        """The error for a worker that died; reaps it."""
        self.process.join(_STOP_WAIT)
        if self.process.exitcode is None:  # the pipe broke but it lives on: make sure
            self.kill()
        code = self.process.exitcode
        signal = -code if code is not None and code < 0 else None
        if signal is not None:
            try:
                how = f"was killed by {signals.Signals(signal).name} (signal {signal})"
            except ValueError:
                how = f"was killed by signal {signal}"
        else:
            how = f"exited with status {code}"
        self.conn.close()
        return WorkerCrashed(f"pywamr worker process {self.pid} {how} {when}; "
                             "it has been replaced", pid=self.pid, exitcode=code, signal=signal)

    def kill(self) -> None:
        if self.process.exitcode is None:
            self.process.kill()
        self.process.join()
        self.conn.close()

    def stop(self) -> None:
        """Ask the worker to exit; kill it if it does not."""
        try:
            self.conn.send(None)
        except (OSError, ValueError):
            pass
        self.process.join(_STOP_WAIT)
        self.kill()


def _kill_all(workers: set[_Worker]) -> None:
    for worker in list(workers):
        try:
            worker.kill()
        except Exception:  # noqa: BLE001,S110 - best effort at interpreter exit
            pass


class IsolatedExecutor:
    """Runs a payload in worker processes, so a crash cannot take the caller down.

    ``workers`` processes each keep a warm :class:`Executor` built with
    ``mode``, ``policy``, ``timeout`` and ``**executor_options`` (``profile``,
    ``stack_size``, ``heap_size``, ``max_memory_pages``, ``max_output_bytes``,
    ``max_invocation_bytes``, ``hosts``, ``capture_output``).  Host
    functions in ``hosts`` are pickled by reference, so they must be
    module-level functions the workers can import.

    :meth:`run` and :meth:`invoke` take the same arguments and give the same
    results as :class:`Executor`'s, plus two outcomes of their own, raised by
    both: :class:`~pywamr.WorkerCrashed` when the worker died during the call,
    and :class:`~pywamr.Timeout` when the call outlived its timeout by
    ``grace`` seconds (the in-process watchdog could not stop it, e.g. a host
    function that never returns) and the worker was killed.  Either way the
    worker is replaced.  Any number of threads may call concurrently; up to
    ``workers`` calls run at once, the others wait for a free worker.
    """

    def __init__(self, payload: Source, workers: int = 2, *,
                 mode: str | None = None, policy: str | None = None,
                 timeout: float | None = None, grace: float = DEFAULT_GRACE,
                 start_method: str = "forkserver",
                 start_timeout: float = DEFAULT_START_TIMEOUT,
                 **executor_options: Any) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a positive int, got {workers!r}")
        if start_method not in START_METHODS:
            raise ValueError(f"start_method must be one of {START_METHODS} (fork is unsafe in a "
                             f"process with threads), got {start_method!r}")
        if not grace > 0:
            raise ValueError("grace must be positive")
        options = dict(executor_options)
        for key, value in (("mode", mode), ("policy", policy), ("timeout", timeout)):
            if value is not None:
                options[key] = value
        try:
            self._config = pickle.dumps((read_payload(payload), options))
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError("IsolatedExecutor options must be picklable: host functions must "
                            f"be module-level functions the workers can import ({exc})") from exc
        self.profile = str(options.get("profile", DEFAULT_PROFILE))
        self.timeout = timeout
        self.grace = float(grace)
        self.start_timeout = start_timeout
        self.size = workers
        self.crashes = 0  # workers that died during a call
        self.kills = 0  # workers killed at a deadline
        ctx = multiprocessing.get_context(start_method)
        if start_method == "forkserver":  # only effective before the server starts
            ctx.set_forkserver_preload(["pywamr.teaclave._isolated", "pywamr._native_fast"])
        self._ctx = ctx
        self._cond = threading.Condition()
        self._closed = False
        self._busy = 0
        self._all: set[_Worker] = set()
        self._idle: list[_Worker] = []
        self._finalizer = weakref.finalize(self, _kill_all, self._all)
        try:
            for _ in range(workers):
                self._all.add(_Worker(ctx, self._config))
            for worker in list(self._all):
                worker.wait_ready(start_timeout)
                self._idle.append(worker)
        except BaseException:
            self._closed = True
            _kill_all(self._all)
            self._all.clear()
            self._idle.clear()
            self._finalizer.detach()
            raise

    # -- calls -----------------------------------------------------------
    def run(self, arguments: Mapping[str, Any] | None = None,
            inputs: Mapping[str, FileSpec] | None = None,
            outputs: Mapping[str, FileSpec] | None = None, *,
            timeout: float | None = None) -> int:
        """Like :meth:`Executor.run`, in a worker process."""
        return self.invoke(arguments, inputs, outputs, timeout=timeout).unwrap()

    def invoke(self, arguments: Mapping[str, Any] | None = None,
               inputs: Mapping[str, FileSpec] | None = None,
               outputs: Mapping[str, FileSpec] | None = None, *,
               timeout: float | None = None, timings: bool = False) -> RunResult:
        """Like :meth:`Executor.invoke`, in a worker process.

        Raises:
            WorkerCrashed: the worker died during the call (it is replaced).
            Timeout: the call ran ``grace`` seconds past its timeout and the
                worker was killed (and replaced).
            ClosedError: the executor is closed.
        """
        # Validate here, and send only plain str data (picklable by construction).
        flat = flatten(arguments, self.profile)
        plain = {flat[i].decode(): flat[i + 1].decode() for i in range(0, len(flat), 2)}
        input_map = {k: absolute(v) for k, v in file_map(inputs, "inputs").items()}
        output_map = {k: absolute(v) for k, v in file_map(outputs, "outputs").items()}
        limit = self.timeout if timeout is None else timeout
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float))
                                  or not limit > 0):
            raise ValueError("timeout must be a positive number of seconds")
        worker = self._acquire()
        replace = True
        try:
            worker.wait_ready(self.start_timeout)
            worker.conn.send(("invoke", plain, input_map, output_map, limit, timings))
            deadline = None if limit is None else time.monotonic() + limit + self.grace
            if not self._wait(worker, deadline):
                worker.kill()
                _remove_leftovers(output_map, worker.pid)
                with self._cond:
                    self.kills += 1
                raise Timeout(f"execution timed out: no answer {limit:g} s + {self.grace:g} s "
                              f"grace after the call started; worker process {worker.pid} was "
                              "killed and replaced")
            try:
                kind, value = worker.conn.recv()
            except (EOFError, OSError, pickle.UnpicklingError):
                _remove_leftovers(output_map, worker.pid)
                error = worker.crashed("during the call")
                with self._cond:
                    closed = self._closed
                    self.crashes += 0 if closed else 1
                if closed:
                    raise ClosedError("the executor was closed during the call") from error
                raise error from None
            replace = False
        finally:
            self._release(worker, replace)
        if kind == "error":
            raise value
        assert isinstance(value, RunResult)
        if value.outputs:  # report the caller's paths, as Executor does
            given = file_map(outputs, "outputs")
            value.outputs = {fid: path_of(given[fid]) for fid in value.outputs}
        return value

    @staticmethod
    def _wait(worker: _Worker, deadline: float | None) -> bool:
        """Wait for an answer (or EOF); False when the deadline passes first."""
        if deadline is None:
            return True  # recv() blocks until the answer, or EOF if the worker dies
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            # POLLIN, or POLLHUP when the worker died: recv() then raises EOFError
            if worker.poller.poll(max(1, math.ceil(remaining * 1000))):
                return True

    # -- the pool ----------------------------------------------------------
    def _acquire(self) -> _Worker:
        with self._cond:
            while not self._idle and not self._closed:
                self._cond.wait()
            if self._closed:
                raise ClosedError("the executor is closed")
            self._busy += 1
            return self._idle.pop()

    def _release(self, worker: _Worker, replace: bool) -> None:
        """Give a worker back after a call, or replace it when it is gone.

        ``_busy`` drops only once the worker is back, stopped or replaced, so
        :meth:`close` returns with every process reaped.
        """
        fresh: _Worker | None = None
        try:
            with self._cond:
                closed = self._closed
                if not replace and not closed:
                    self._idle.append(worker)
                    return
                self._all.discard(worker)
            if not replace:
                worker.stop()  # closed while the call ran
                return
            worker.kill()  # no-op for a worker already reaped
            if not closed:
                fresh = _Worker(self._ctx, self._config)
                with self._cond:
                    if not self._closed:
                        self._all.add(fresh)
                        self._idle.append(fresh)
                        fresh = None
                if fresh is not None:
                    fresh.kill()
        finally:
            with self._cond:
                self._busy -= 1
                self._cond.notify_all()

    @property
    def pids(self) -> list[int]:
        """Process ids of the current workers."""
        with self._cond:
            return sorted(w.pid for w in self._all)

    # -- lifetime ----------------------------------------------------------
    def close(self, *, kill: bool = False) -> None:
        """Stop every worker and reap it (no zombies are left).

        Calls in flight finish first, unless ``kill``: then every worker is
        killed at once and those calls raise :class:`~pywamr.ClosedError`.
        """
        with self._cond:
            already = self._closed
            self._closed = True
            idle, self._idle = self._idle, []
            for worker in idle:
                self._all.discard(worker)
            busy = list(self._all) if kill else []
            self._cond.notify_all()
        for worker in idle:
            worker.stop()
        for worker in busy:
            if worker.process.exitcode is None:
                worker.process.kill()  # the caller's thread reaps it
        if not already or kill:
            with self._cond:
                while self._busy:
                    self._cond.wait()
        self._finalizer.detach()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> IsolatedExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else f"{len(self._all)} workers"
        return f"<pywamr.teaclave.IsolatedExecutor {state}>"



def _remove_leftovers(outputs: Mapping[str, str | ProtectedFile], pid: int) -> None:
    """Remove the temporary outputs and the staging directories of protected
    files a dead worker left (see Executor._call)."""
    remove_staging_of(pid)
    remove_temporaries(outputs, pid)
