"""Protected inputs and outputs of one invocation, streamed through FIFOs.

The payload's five natives open files by path, so a protected file is
staged under another path that the executor declares in its place:

* an input is authenticated as a whole (its tag compared with the expected
  one) before the payload runs.  Up to ``MEMORY_INPUT_LIMIT`` bytes of
  plaintext are then decrypted into an anonymous in-memory file
  (``memfd``, declared as ``/proc/self/fd/N``): every open gets the file
  from its start and reads behave exactly as on a plain file.  A larger
  input is streamed through named pipes (FIFOs) in a private directory
  (mode 0700): each open by the payload reaches a FIFO of its own, into
  which a thread writes the plaintext node by node, so every handle reads
  the file from its start; a read may return fewer bytes than asked before
  the end (as pipes do).
* an output's FIFO is drained by a thread that encrypts what the payload
  writes, node by node, into a temporary file beside the destination (in
  the requested schema and key); when the executor publishes the output,
  the temporary file is renamed over the destination and its tag reported.
  Creating the output again discards what was written before, as
  re-creating a file does.

Plaintext only ever exists in pipe buffers and in memory: nothing of it is
written to disk.  The payload runs without the GIL, so the threads run
alongside it.  Known limits of the streamed forms: a second open of one large
input made before the first handle received any data may share the first
handle's stream; an output
closed and created again before the drain thread saw the first close keeps
both versions' bytes.
"""

from __future__ import annotations

import glob
import itertools
import multiprocessing.util
import os
import select
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping

from ._file_formats import PlaintextWriter, ProtectedFile, chunks, create_writer, plaintext_reader
from ._file_formats import verify as verify_file
from ._files import temp_path
from ._protected_fs import ProtectedFileError

_temp_ids = itertools.count()
_PIPE_READ = 64 * 1024
_RELEASE_TRIES = 500
MEMORY_INPUT_LIMIT = 1024 * 1024  # protected inputs up to this size are staged in memory


_dirs_lock = threading.Lock()
_dirs: dict[int, str] = {}  # process id -> its staging directory


def staging_dir() -> str:
    """This process's private staging directory (mode 0700), made once and removed
    when the process exits (worker processes too)."""
    pid = os.getpid()
    with _dirs_lock:
        directory = _dirs.get(pid)
        if directory is None or not os.path.isdir(directory):
            directory = tempfile.mkdtemp(prefix=f"pywamr-staged-{pid}-")
            _dirs[pid] = directory
            multiprocessing.util.Finalize(None, shutil.rmtree, args=(directory, True),
                                          exitpriority=0)
        return directory


def remove_staging_of(pid: int) -> None:
    """Remove the staging directories a dead process left (FIFOs and links only)."""
    pattern = os.path.join(glob.escape(tempfile.gettempdir()), f"pywamr-staged-{pid}-*")
    for directory in glob.glob(pattern):
        shutil.rmtree(directory, ignore_errors=True)


def output_temp(path: str) -> str:
    """Where an output is written before it is published (the executor's pattern)."""
    return temp_path(path, "p")


def _point(link: str, target: str) -> None:
    """Make ``link`` a symbolic link to ``target`` (relative to its directory), atomically."""
    temp = f"{link}.{next(_temp_ids)}.link"
    os.symlink(target, temp)
    os.replace(temp, link)


def _shut(link: str) -> None:
    """After a failure, make every later open of ``link`` fail at once (ENOENT, even with
    O_CREAT: the target's directory does not exist) instead of waiting for a partner."""
    try:
        _point(link, os.path.join("failed", "file"))
    except OSError:
        pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _Feeder(threading.Thread):
    """Serves one large input: every open by the payload gets its own FIFO.

    The declared path is a symbolic link to the FIFO the next open will
    reach.  When a reader connects, the link is moved to a fresh FIFO (so the
    next open is independent) and a sender thread writes the plaintext into
    the connected one, node by node.
    """

    def __init__(self, fid: str, spec: ProtectedFile, base: str, n: int) -> None:
        super().__init__(name=f"pywamr-input-{fid}", daemon=True)
        self.fid, self.spec = fid, spec
        self.path = f"{base}in{n}"  # what the executor declares
        self._count = 0
        self.stop = threading.Event()
        self.errors: list[str] = []
        self._senders: list[threading.Thread] = []
        self._fifo = self._next_fifo()

    def _next_fifo(self) -> str:
        fifo = f"{self.path}.{self._count}"
        self._count += 1
        os.mkfifo(fifo, 0o600)
        _point(self.path, os.path.basename(fifo))  # the next open reaches the new FIFO
        return fifo

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                fd = os.open(self._fifo, os.O_WRONLY | os.O_CLOEXEC)  # until the payload opens
            except OSError as exc:
                self.errors.append(f"input '{self.fid}': {exc}")
                _shut(self.path)
                return
            if self.stop.is_set():
                os.close(fd)
                return
            try:
                self._fifo = self._next_fifo()
            except OSError as exc:  # this open is still served; later ones fail at once
                self.errors.append(f"input '{self.fid}': {exc}")
                _shut(self.path)
                self.stop.set()
            sender = threading.Thread(target=self._send, args=(fd,), daemon=True,
                                      name=f"pywamr-input-{self.fid}-{self._count}")
            self._senders.append(sender)
            sender.start()

    def _send(self, fd: int) -> None:
        try:
            with plaintext_reader(self.spec) as reader:
                for chunk in chunks(reader):
                    _write_all(fd, chunk)
        except BrokenPipeError:
            pass  # the payload closed the input before its end
        except Exception as exc:  # noqa: BLE001 - e.g. the file changed after verification
            self.errors.append(f"input '{self.fid}': {exc}")
        finally:
            os.close(fd)

    def release(self) -> None:
        """Stop (every payload handle is closed by now); wake a waiting open."""
        self.stop.set()
        for _ in range(_RELEASE_TRIES):
            if not self.is_alive():
                break
            try:
                os.close(os.open(self._fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
            except OSError:
                pass
            self.join(0.01)
        for sender in self._senders:
            sender.join(5.0)


class _Drain(threading.Thread):
    """Encrypts what the payload writes into one output's FIFO."""

    def __init__(self, fid: str, spec: ProtectedFile, base: str, n: int) -> None:
        super().__init__(name=f"pywamr-output-{fid}", daemon=True)
        self.fid, self.spec = fid, spec
        self.path = f"{base}out{n}"  # what the executor declares
        self.fifo = self.path + ".fifo"
        os.mkfifo(self.fifo, 0o600)
        _point(self.path, os.path.basename(self.fifo))
        self.temp = output_temp(spec.fspath)
        self.stored_name = os.path.basename(spec.fspath)
        self.writer: PlaintextWriter | None = None
        self.error: str | None = None
        self.closes = 0  # payload closes seen so far
        self._fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self._stop_r, self._stop_w = os.pipe()

    def _new_version(self) -> PlaintextWriter:
        if self.writer is not None:
            self.writer.abort()  # created again: what was written before is discarded
        target = ProtectedFile(self.temp, self.spec.key, self.spec.format, iv=self.spec.iv)
        self.writer = create_writer(target, name=self.stored_name)
        return self.writer

    def run(self) -> None:
        try:
            self._loop()
        except Exception as exc:  # noqa: BLE001 - any failure is the output's, reported
            self.error = f"output '{self.fid}': {exc}"
            _shut(self.path)  # a later create fails at once; writes already open get EPIPE
        finally:
            os.close(self._fd)

    def _loop(self) -> None:
        poller = select.poll()
        poller.register(self._stop_r, select.POLLIN)
        poller.register(self._fd, select.POLLIN)
        fresh = True  # no writer seen since the FIFO was (re)opened
        while True:
            events = dict(poller.poll())
            if self._fd in events:
                data = os.read(self._fd, _PIPE_READ)
                if fresh:
                    self._new_version()
                    fresh = False
                if data:
                    assert self.writer is not None
                    self.writer.write(data)
                    continue
                self.closes += 1
                poller.unregister(self._fd)  # the payload closed it: wait for a new open
                os.close(self._fd)
                self._fd = os.open(self.fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
                poller.register(self._fd, select.POLLIN)
                fresh = True
            elif self._stop_r in events:
                while True:  # the run is over: every payload handle is closed
                    data = os.read(self._fd, _PIPE_READ)
                    if not data:
                        return
                    if fresh:
                        self._new_version()
                        fresh = False
                    assert self.writer is not None
                    self.writer.write(data)

    def release(self) -> None:
        """Stop once everything written is read (every payload handle is closed by now)."""
        if self._stop_w < 0:
            return
        os.write(self._stop_w, b"x")
        os.close(self._stop_w)
        self._stop_w = -1
        self.join()
        os.close(self._stop_r)


class Staging:
    """The staged files of one invocation; see the module docstring.

    ``inputs``/``outputs`` map file ids to what the executor declares: the
    given path for plain files, a FIFO for protected ones.  Protected inputs
    are verified here; a refused one raises :class:`ProtectedFileError` (its
    ``file_errors`` attribute lists every refusal) before anything is
    created.  Use as a context manager around the call, then :meth:`finish`.
    """

    def __init__(self, inputs: Mapping[str, str | ProtectedFile],
                 outputs: Mapping[str, str | ProtectedFile]) -> None:
        self.inputs: dict[str, str] = {}
        self.outputs: dict[str, str] = {}
        self.protected_outputs: dict[str, ProtectedFile] = {}
        self._feeders: list[_Feeder] = []
        self._drains: dict[str, _Drain] = {}
        self._base: str | None = None  # this invocation's names in the staging directory
        self._memfds: list[int] = []
        protected_inputs: dict[str, ProtectedFile] = {}
        refused: list[str] = []
        for fid, value in inputs.items():
            if not isinstance(value, ProtectedFile):
                self.inputs[fid] = value
                continue
            try:  # small: decrypted into memory, every node authenticated on the way
                memory = self._in_memory(value)
                if memory is not None:
                    self.inputs[fid] = memory
                    continue
                tag = verify_file(value)  # large: authenticated now, streamed during the run
            except (ProtectedFileError, OSError) as exc:
                refused.append(f"input '{fid}' refused: {exc}")
                continue
            protected_inputs[fid] = ProtectedFile(value.path, value.key, value.format,
                                                  iv=value.iv, tag=tag)
        if refused:
            self.close()  # partial memfds go too
            raise ProtectedFileError("; ".join(refused), refused)
        for fid, value in outputs.items():
            if isinstance(value, ProtectedFile):
                self.protected_outputs[fid] = value
            else:
                self.outputs[fid] = value
        if not protected_inputs and not self.protected_outputs:
            return
        self._base = os.path.join(staging_dir(), f"s{next(_temp_ids)}-")
        try:
            for n, (fid, spec) in enumerate(protected_inputs.items()):
                feeder = _Feeder(fid, spec, self._base, n)
                self.inputs[fid] = feeder.path
                self._feeders.append(feeder)
                feeder.start()
            for n, (fid, spec) in enumerate(self.protected_outputs.items()):
                drain = _Drain(fid, spec, self._base, n)
                self._drains[fid] = drain
                drain.start()
        except BaseException:
            self.close()
            raise

    def _in_memory(self, spec: ProtectedFile) -> str | None:
        """Decrypt a small input into a memfd; its path, or None to stream it."""
        memfd_create = getattr(os, "memfd_create", None)
        if memfd_create is None or not os.path.isdir("/proc/self/fd"):
            return None
        with plaintext_reader(spec) as reader:
            if reader.size > MEMORY_INPUT_LIMIT:  # type: ignore[attr-defined]
                return None
            fd = memfd_create("pywamr-input", os.MFD_CLOEXEC)
            self._memfds.append(fd)
            for chunk in chunks(reader):
                _write_all(fd, chunk)
        return f"/proc/self/fd/{fd}"

    @property
    def fifo_outputs(self) -> dict[str, str]:
        """Protected outputs: file id -> the path the executor declares (no temp, no rename)."""
        return {fid: drain.path for fid, drain in self._drains.items()}

    def finish(self, publish: Callable[[str], str | None]) -> tuple[dict[str, bytes], list[str]]:
        """Finish every protected output after the call (all payload handles closed).

        ``publish(fid)`` returns ``None`` to keep the output, or why it is
        discarded.  Returns the tags of the outputs written and the errors.
        """
        tags: dict[str, bytes] = {}
        errors: list[str] = []
        for feeder in self._feeders:
            feeder.release()
            errors.extend(feeder.errors)
        for fid, drain in self._drains.items():
            drain.release()
            if drain.error is not None:
                errors.append(drain.error)
                if drain.writer is not None:
                    drain.writer.abort()
                continue
            why = publish(fid)
            writer = drain.writer
            if why is None and writer is None:  # created, nothing written, closed
                writer = drain._new_version()
            if writer is None:
                continue
            if why is None:
                try:
                    tag = writer.finish()
                    os.replace(drain.temp, drain.spec.fspath)
                    tags[fid] = tag
                    continue
                except (OSError, ValueError) as exc:
                    why = f"it could not be written ({exc})"
                    try:
                        os.unlink(drain.temp)
                    except OSError:
                        pass
            else:
                writer.abort()
            errors.append(f"output '{fid}' discarded: {why}")
        self._drains.clear()
        return tags, errors

    def close(self) -> None:
        """Stop every thread, remove partial outputs and the FIFOs."""
        for feeder in self._feeders:
            feeder.release()
        self._feeders.clear()
        for drain in self._drains.values():
            drain.release()
            if drain.writer is not None:
                drain.writer.abort()
        self._drains.clear()
        for fd in self._memfds:
            os.close(fd)
        self._memfds.clear()
        if self._base is not None:
            for name in glob.glob(glob.escape(self._base) + "*"):
                try:
                    os.unlink(name)
                except OSError:
                    pass
            self._base = None

    def __enter__(self) -> Staging:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
