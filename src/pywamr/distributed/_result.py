"""What one distributed invocation produced: plain data, never native handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .._errors import Timeout, Trap, WamrError, WorkerCrashed


@dataclass
class InvocationResult:
    """The outcome of one invocation run on a cluster.

    The fields mirror :class:`pywamr.teaclave.RunResult`: ``return_value``
    (the entrypoint's int, or an export's result), ``trap`` (WAMR's message;
    ``timed_out`` when the deadline passed), ``stdout`` (and a WASI
    command's ``stderr``; its exit code is the return value), ``file_errors``,
    ``files_left_open`` and ``timings`` (nanoseconds per phase, when asked
    for).  ``outputs`` maps each output that was published to its bytes (an
    output returned as bytes) or to the path it was written to;
    ``output_tags`` has the authentication tag of each protected output.

    ``error`` is set when the invocation could not run at all (a payload that
    does not load, arguments of the wrong type, a crash of every worker that
    tried it); ``crashed`` tells the last case apart.  ``worker`` is the
    address of the Dask worker that ran it, ``seconds`` the wall time of the
    invocation on that worker.  ``id`` is the caller's id for the invocation
    (its position in the batch unless one was given).
    """

    id: Any
    return_value: Any = None
    trap: str | None = None
    timed_out: bool = False
    stdout: bytes = b""
    stderr: bytes = b""
    file_errors: list[str] = field(default_factory=list)
    files_left_open: int = 0
    outputs: dict[str, bytes | str] = field(default_factory=dict)
    output_tags: dict[str, bytes] = field(default_factory=dict)
    timings: dict[str, int] | None = None
    seconds: float = 0.0
    worker: str | None = None
    error: str | None = None
    crashed: bool = False

    @property
    def ok(self) -> bool:
        """True when the invocation ran and returned normally."""
        return self.trap is None and self.error is None

    @property
    def summary(self) -> str:
        """What Teaclave reports: the return value as text, or the trap
        message (or, when the invocation could not run, the error)."""
        if self.error is not None:
            return self.error
        return str(self.return_value) if self.trap is None else self.trap

    def unwrap(self) -> Any:
        """The return value; a trap raises :class:`~pywamr.Trap` (or
        :class:`~pywamr.Timeout`), a crash :class:`~pywamr.WorkerCrashed`, any
        other failure :class:`~pywamr.WamrError`."""
        if self.crashed:
            raise WorkerCrashed(self.error or "the worker crashed")
        if self.error is not None:
            raise WamrError(self.error)
        if self.trap is not None:
            raise (Timeout if self.timed_out else Trap)(self.trap)
        return self.return_value
