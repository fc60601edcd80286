"""WASI preview 1: configuration, stdio plumbing, commands and reactors.

A :class:`WasiConfig` says everything a WASI guest may see: its argv, its
environment, the host directories it may reach (each under the name the guest
knows it by) and where its stdin, stdout and stderr come from and go.  Nothing
else is granted: no other file, no socket, no host environment variable.

The configuration is applied when an instance is made
(``module.instantiate(wasi=config)``); every instantiation of a module that
imports WASI goes through ``pw_wasi_instance_start`` (``_csrc/wasi.c``), which
holds a lock while WAMR 1.1.2 reads the arguments it keeps on the module, so
instances of one module -- from any thread -- each get their own.

Stdio: the instance gets duplicates of descriptors this module prepares (WAMR
patch 0010): ``/dev/null``, a file, the process's own 0/1/2, or a pipe drained
by a thread -- into memory for :data:`Stdio.CAPTURE` (read back with
:meth:`WasiState.take_stdout`), into a callable, or into a file object without
a descriptor.  Captured streams are pipes, as a terminal's would be, so a guest
can only append to them (it cannot seek, or truncate them to a huge size).
"""

from __future__ import annotations

import enum
import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, BinaryIO

from ._errors import WamrError

if TYPE_CHECKING:
    from ._instance import Instance
    from ._module import Module

WASI_MODULES = ("wasi_snapshot_preview1", "wasi_unstable")
_EXIT_MESSAGE = "wasi proc_exit"


class Stdio(enum.Enum):
    """Where a WASI stdio stream goes when it is not a file or a callable."""

    NULL = "null"  #: nothing to read; writes are discarded (the default)
    INHERIT = "inherit"  #: the Python process's own descriptor 0, 1 or 2
    CAPTURE = "capture"  #: (stdout/stderr) kept in memory: WasiState.take_stdout()


PathLike = str | os.PathLike[str]
#: stdin: NULL, INHERIT, bytes (the whole input), a path, or a binary file with fileno().
StdinSpec = Stdio | bytes | bytearray | memoryview | PathLike | BinaryIO | None
#: stdout/stderr: NULL, INHERIT, CAPTURE, a path (created or truncated), a file
#: with fileno(), or a callable receiving each chunk of bytes the guest writes.
StdoutSpec = Stdio | PathLike | BinaryIO | Callable[[bytes], Any] | None


class WasiExit(WamrError):
    """The guest called ``proc_exit(code)``.

    Raised by calls into a WASI instance that end in ``proc_exit``;
    :meth:`Instance.run` turns it into its return value instead.  The instance
    stays open and consistent (WAMR unwound the guest's stack): its memory can
    be read and reactor exports called again.
    """

    def __init__(self, code: int) -> None:
        super().__init__(f"the WASI guest exited with code {code}")
        self.code = code


@dataclass
class WasiConfig:
    """What a WASI guest is given.  Nothing else is visible to it.

    Args:
        argv: the program's arguments, ``argv[0]`` first (its name).
        env: environment variables (names must not contain ``=`` or NUL).
        preopens: guest path -> host directory, e.g. ``{"/data": "./in"}``.
            The guest reaches these directories and what is below them,
            nothing else (``..``, absolute paths and symlinks that lead out
            are refused with ``ENOTCAPABLE`` or ``EPERM``).
        stdin: :data:`Stdio.NULL` (default), :data:`Stdio.INHERIT`, bytes,
            a file path, or a binary file object (with ``fileno()``, or
            readable like ``io.BytesIO``: its remaining bytes are read at
            instantiation).
        stdout, stderr: :data:`Stdio.NULL` (default), :data:`Stdio.INHERIT`,
            :data:`Stdio.CAPTURE`, a file path (created or truncated), a file
            object (with ``fileno()``, or writable like ``io.BytesIO``), or a
            callable called with each chunk of bytes (from a reader thread;
            exceptions it raises are kept and raised by the next
            :meth:`Instance.run`).
    """

    argv: Sequence[str] = ("main",)
    env: Mapping[str, str] = field(default_factory=dict)
    preopens: Mapping[str, PathLike] = field(default_factory=dict)
    stdin: StdinSpec = Stdio.NULL
    stdout: StdoutSpec = Stdio.NULL
    stderr: StdoutSpec = Stdio.NULL

    @classmethod
    def inherit(cls, argv: Sequence[str] = ("main",), **kwargs: Any) -> WasiConfig:
        """A configuration with the process's own stdin, stdout and stderr."""
        kwargs.setdefault("stdin", Stdio.INHERIT)
        kwargs.setdefault("stdout", Stdio.INHERIT)
        kwargs.setdefault("stderr", Stdio.INHERIT)
        return cls(argv=argv, **kwargs)

    def _checked(self) -> tuple[list[bytes], list[bytes], list[tuple[bytes, bytes]]]:
        """argv, env and (host, guest) preopens as bytes; TypeError/ValueError if bad."""
        if isinstance(self.argv, (str, bytes)):
            raise TypeError("argv must be a sequence of str, not a single string")
        argv = [_text(a, "argv entry") for a in self.argv]
        env = []
        for name, value in dict(self.env).items():
            n, v = _text(name, "env name"), _text(value, "env value")
            if not n or b"=" in n:
                raise ValueError(f"invalid environment variable name {name!r}")
            env.append(n + b"=" + v)
        dirs = []
        for guest, host in dict(self.preopens).items():
            g = _text(guest, "preopen guest path")
            if not g:
                raise ValueError("a preopen's guest path must not be empty")
            h = os.fsencode(os.fspath(host))
            if b"\0" in h:
                raise ValueError(f"host path {host!r} contains NUL")
            if not os.path.isdir(h):
                raise ValueError(f"preopen {guest!r}: {os.fsdecode(h)!r} is not a directory")
            dirs.append((h, g))
        return argv, env, dirs


def _text(value: object, what: str) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"{what} must be str, not {type(value).__name__}")
    data = value.encode("utf-8", "surrogateescape")
    if b"\0" in data:
        raise ValueError(f"{what} {value!r} contains NUL")
    return data


# -- stdio plumbing -----------------------------------------------------------
class _Sink:
    """A callable stdout/stderr: a pipe whose read end a thread drains."""

    def __init__(self, func: Callable[[bytes], Any], name: str) -> None:
        self.func = func
        self.read_fd, self.write_fd = os.pipe()
        os.set_blocking(self.read_fd, False)
        self.lock = threading.Lock()
        self.error: BaseException | None = None
        self.closed = False
        self.thread = threading.Thread(target=self._pump, name=f"pywamr-wasi-{name}",
                                       daemon=True)
        self.thread.start()

    def _deliver(self) -> bool:
        """Read what is in the pipe and hand it on; False at end of file."""
        with self.lock:
            if self.closed:
                return False
            while True:
                try:
                    chunk = os.read(self.read_fd, 65536)
                except BlockingIOError:
                    return True
                if not chunk:
                    return False
                if self.error is None:
                    try:
                        self.func(chunk)
                    except BaseException as exc:  # noqa: BLE001 - kept, raised by flush()
                        self.error = exc

    def _pump(self) -> None:
        import select

        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN | select.POLLHUP)
        while True:
            try:
                poller.poll()
            except InterruptedError:  # pragma: no cover - EINTR is retried by Python
                continue
            if not self._deliver():
                break
        self.close()

    def flush(self) -> None:
        """Deliver everything written so far (the guest's writes are complete)."""
        self._deliver()

    def close(self) -> None:
        with self.lock:
            if not self.closed:
                self.closed = True
                os.close(self.read_fd)


def _open_stdin(spec: StdinSpec, owned: list[int]) -> int:
    if spec is None or spec is Stdio.NULL:
        fd = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
    elif spec is Stdio.INHERIT:
        return 0
    elif spec is Stdio.CAPTURE:
        raise ValueError("stdin cannot be Stdio.CAPTURE")
    elif isinstance(spec, (bytes, bytearray, memoryview)):
        fd = os.memfd_create("pywamr-wasi-stdin", os.MFD_CLOEXEC | os.MFD_ALLOW_SEALING)
        owned.append(fd)
        data = memoryview(spec).cast("B")
        while data:
            data = data[os.write(fd, data):]
        os.lseek(fd, 0, os.SEEK_SET)
        # sealed: the guest can read its input, not change, grow or shrink it
        fcntl.fcntl(fd, fcntl.F_ADD_SEALS, fcntl.F_SEAL_SEAL | fcntl.F_SEAL_SHRINK
                    | fcntl.F_SEAL_GROW | fcntl.F_SEAL_WRITE)
        return fd
    elif isinstance(spec, (str, os.PathLike)):
        fd = os.open(spec, os.O_RDONLY | os.O_CLOEXEC)
    elif (fileno := _fileno(spec)) is not None:
        return fileno
    elif hasattr(spec, "read"):  # e.g. io.BytesIO: its remaining bytes are the input
        return _open_stdin(bytes(spec.read()), owned)
    else:
        raise TypeError(f"unsupported stdin {type(spec).__name__}")
    owned.append(fd)
    return fd


def _fileno(spec: object) -> int | None:
    """The descriptor of a file object, or None (none, or e.g. io.BytesIO)."""
    fileno = getattr(spec, "fileno", None)
    if fileno is None:
        return None
    try:
        return int(fileno())
    except (OSError, ValueError):  # io.UnsupportedOperation is both
        return None


def _open_output(spec: StdoutSpec, which: int, owned: list[int],
                 sinks: list[_Sink]) -> tuple[int, _Sink | None, bytearray | None]:
    """The descriptor to hand over; the sink and its buffer when captured."""
    if spec is None or spec is Stdio.NULL:
        fd = os.open(os.devnull, os.O_WRONLY | os.O_CLOEXEC)
    elif spec is Stdio.INHERIT:
        return which, None, None
    elif spec is Stdio.CAPTURE:
        # A pipe, as a terminal's stdout would be: the guest can only append
        # (a file could be seeked, or truncated to a huge sparse size)
        captured = bytearray()
        sink = _Sink(captured.extend, "stdout" if which == 1 else "stderr")
        sinks.append(sink)
        owned.append(sink.write_fd)
        return sink.write_fd, sink, captured
    elif isinstance(spec, (str, os.PathLike)):
        fd = os.open(spec, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o666)
    elif callable(spec) or (_fileno(spec) is None and hasattr(spec, "write")):
        # a callable, or a file object without a descriptor (io.BytesIO): fed by a thread
        sink = _Sink(spec if callable(spec) else spec.write,
                     "stdout" if which == 1 else "stderr")
        sinks.append(sink)
        owned.append(sink.write_fd)  # the instance keeps its duplicate
        return sink.write_fd, None, None
    elif (fileno := _fileno(spec)) is not None:
        if hasattr(spec, "flush"):
            spec.flush()
        return fileno, None, None
    else:
        raise TypeError(f"unsupported stdout/stderr {type(spec).__name__}")
    owned.append(fd)
    return fd, None, None


class WasiState:
    """The WASI side of one instance: captured output and the exit status."""

    def __init__(self, captures: dict[int, tuple[_Sink, bytearray]], sinks: list[_Sink]) -> None:
        self._captures = captures  # 1/2 -> (sink, buffer)
        self._sinks = sinks
        #: the code of the last proc_exit, or of the command's return (0); None before.
        self.exit_code: int | None = None
        #: whether the command (``_start``) has run.
        self.started = False
        self._closer = weakref.finalize(self, _close_state, sinks)

    def _take(self, which: int) -> bytes:
        found = self._captures.get(which)
        if found is None:
            raise WamrError(f"{'stdout' if which == 1 else 'stderr'} is not captured "
                            "(use Stdio.CAPTURE)")
        sink, buffer = found
        sink.flush()  # what the guest wrote so far is in the pipe: take all of it
        with sink.lock:
            data = bytes(buffer)
            del buffer[:]
        return data

    def take_stdout(self) -> bytes:
        """Return and clear what the guest wrote to a captured stdout."""
        return self._take(1)

    def take_stderr(self) -> bytes:
        """Return and clear what the guest wrote to a captured stderr."""
        return self._take(2)

    def flush(self) -> None:
        """Deliver pending output to callable sinks; raise what a sink raised."""
        for sink in self._sinks:
            sink.flush()
        for sink in self._sinks:
            if sink.error is not None:
                exc, sink.error = sink.error, None
                raise exc

    def close(self) -> None:
        self._closer()


def _close_state(sinks: list[_Sink]) -> None:
    for sink in sinks:
        sink.close()


def start(config: WasiConfig, module: Module, instance: Any, stack_size: int, heap_size: int,
          err: Any, err_len: int) -> tuple[int, WasiState | None]:
    """Call ``pw_wasi_instance_start`` with ``config``; the WasiState on success."""
    if not isinstance(config, WasiConfig):
        raise TypeError(f"wasi must be a WasiConfig, not {type(config).__name__}")
    argv, env, dirs = config._checked()
    lib, ffi = module._core.lib, module._core.ffi
    owned: list[int] = []
    sinks: list[_Sink] = []
    captures: dict[int, tuple[_Sink, bytearray]] = {}
    try:
        stdin_fd = _open_stdin(config.stdin, owned)
        stdout_fd, sink, buffer = _open_output(config.stdout, 1, owned, sinks)
        if sink is not None and buffer is not None:
            captures[1] = (sink, buffer)
        stderr_fd, sink, buffer = _open_output(config.stderr, 2, owned, sinks)
        if sink is not None and buffer is not None:
            captures[2] = (sink, buffer)
        keep = [ffi.new("char[]", s) for s in argv + env + [h for h, _ in dirs]
                + [g for _, g in dirs]]
        arrays = []
        start = 0
        for count in (len(argv), len(env), len(dirs), len(dirs)):
            arrays.append(ffi.new("const char *[]", keep[start:start + count] or 1))
            start += count
        rc = lib.pw_wasi_instance_start(instance, module._c, stack_size, heap_size,
                                        arrays[0], len(argv), arrays[1], len(env),
                                        arrays[2], arrays[3], len(dirs),
                                        stdin_fd, stdout_fd, stderr_fd, err, err_len)
    except BaseException:
        _close_state(sinks)
        raise
    finally:
        for fd in owned:
            os.close(fd)
    if rc != lib.PW_OK:
        _close_state(sinks)
        return rc, None
    return rc, WasiState(captures, sinks)


def take_exit(instance: Instance) -> int | None:
    """The proc_exit code the last failed call ended with, if it did."""
    ffi, lib = instance._core.ffi, instance._core.lib
    code = ffi.new("uint32_t *")
    if lib.pw_wasi_take_exit(instance._c, code):
        return int(code[0])
    return None


# -- detection ------------------------------------------------------------------
def imports_wasi(module: Module) -> bool:
    """Whether the module imports anything from a WASI preview-1 namespace."""
    return any(imp.module in WASI_MODULES for imp in module.imports)


def wasm_imports_wasi(data: bytes) -> bool | None:
    """Whether ``.wasm`` bytes import WASI; None if they are not plain wasm."""
    if data[:8] != b"\0asm\x01\0\0\0":
        return None

    def leb(pos: int) -> tuple[int, int]:
        result = shift = 0
        while True:
            if pos >= len(data) or shift > 35:
                raise ValueError("truncated")
            byte = data[pos]
            pos += 1
            result |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return result, pos

    try:
        pos = 8
        while pos < len(data):
            section = data[pos]
            size, pos = leb(pos + 1)
            if section == 2:
                count, p = leb(pos)
                for _ in range(count):
                    n, p = leb(p)
                    name = data[p:p + n]
                    if name.decode("utf-8", "replace") in WASI_MODULES:
                        return True
                    p += n
                    n, p = leb(p)
                    p += n
                    kind = data[p]
                    p += 1
                    if kind == 0:
                        _, p = leb(p)
                    elif kind in (1, 2):
                        if kind == 1:
                            p += 1
                        flags, p = leb(p)
                        _, p = leb(p)
                        if flags & 1:
                            _, p = leb(p)
                    elif kind == 3:
                        p += 2
                    else:
                        return False
                return False
            pos += size
    except (ValueError, IndexError):
        return None
    return False


# -- commands and reactors --------------------------------------------------------
def initialize_reactor(instance: Instance) -> None:
    """Call a reactor's ``_initialize`` (WAMR 1.1.2 does not), once, at creation."""
    names = {e.name for e in instance._module_exports()}
    if "_initialize" in names and "_start" not in names:
        try:
            instance.function("_initialize")()
        except BaseException:
            instance.close()
            raise


def run_command(instance: Instance, timeout: float | None) -> int:
    """Run ``_start`` once; the exit code (0 on return, n on proc_exit(n))."""
    state = instance.wasi
    if state.started:
        raise WamrError("a WASI command runs once per instance: instantiate the module again")
    start = instance.function("_start")  # ExportNotFound for a reactor or plain module
    if start.type.params or start.type.results:
        raise WamrError(f"_start has type {start.type}, expected () -> ()")
    state.started = True
    try:
        start.call(timeout=timeout)
        state.exit_code = 0
    except WasiExit as exc:
        state.exit_code = exc.code
    finally:
        state.flush()
    return state.exit_code
