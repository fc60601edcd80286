"""The pywamr exception hierarchy: one root, one subclass per failure kind."""

from __future__ import annotations


class WamrError(Exception):
    """Root of every pywamr error; never raised directly."""


class LoadError(WamrError, ValueError):
    """A module could not be loaded: malformed, invalid or refused input."""


class LinkError(LoadError):
    """A module's imports do not match what the runtime provides."""


class InstantiationError(WamrError):
    """A module could not be instantiated (e.g. memory or heap too large)."""


class ExportNotFound(WamrError, KeyError):
    """An instance has no function export of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class Trap(WamrError):
    """WebAssembly code trapped; ``message`` is WAMR's own text."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Timeout(Trap):
    """A call ran past its deadline and was stopped."""


class ClosedError(WamrError):
    """The object was closed and cannot be used any more."""


class InstanceBusy(WamrError, RuntimeError):
    """The instance is running a call on another thread."""


class AotUnavailableError(WamrError):
    """pywamr was built without its AOT compiler (LLVM 14 was not found)."""


class WorkerCrashed(WamrError):
    """A worker process of an isolated executor died during a call.

    ``signal`` is the signal that killed it (e.g. 11 for SIGSEGV) or ``None``;
    ``exitcode`` is the process's exit status as :mod:`multiprocessing`
    reports it (negative for a signal); ``pid`` is the worker's process id.
    """

    def __init__(self, message: str, *, pid: int | None = None, exitcode: int | None = None,
                 signal: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid
        self.exitcode = exitcode
        self.signal = signal

    def __reduce__(self) -> tuple[object, ...]:
        return (_worker_crashed, (str(self), self.pid, self.exitcode, self.signal))


def _worker_crashed(message: str, pid: int | None, exitcode: int | None,
                    signal: int | None) -> WorkerCrashed:
    return WorkerCrashed(message, pid=pid, exitcode=exitcode, signal=signal)
