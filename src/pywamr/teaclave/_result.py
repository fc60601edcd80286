"""What one payload invocation produced."""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields
from typing import Any

from .._errors import Timeout, Trap, WamrError

PHASES = ("runtime_init", "register_natives", "load", "instantiate", "exec_env",
          "marshal", "call", "cleanup", "destroy")


class TaskError(WamrError):
    """The run failed as a Teaclave task although the payload returned
    (e.g. a declared output was never created: Teaclave fails the upload)."""


@dataclass
class RunResult:
    """The outcome of one invocation.

    ``return_value`` is the entrypoint's int result, or ``None`` when the
    payload trapped (``trap`` holds WAMR's message).  ``summary`` is what
    Teaclave reports: the return value as text, or the trap message.
    ``error`` says why the run failed as a task although the payload ran
    (teaclave profile: a declared output never created).  ``file_errors``
    lists every file API call that returned -1 and why; ``files_left_open``
    counts handles the payload did not close (pywamr closed them).
    ``outputs`` maps each output that was kept to its path; ``output_tags``
    has the authentication tag of each protected output written (Teaclave's
    ``TaskOutputs`` tags).  ``timings`` (nanoseconds per phase) is filled
    when asked for.
    """


    return_value: int | None
    trap: str | None = None
    timed_out: bool = False
    stdout: bytes = b""
    file_errors: list[str] = field(default_factory=list)
    files_left_open: int = 0
    outputs: dict[str, str] = field(default_factory=dict)
    output_tags: dict[str, bytes] = field(default_factory=dict)
    timings: dict[str, int] | None = None
    error: str | None = None

    @classmethod
    def _returned(cls, value: int) -> RunResult:
        """The result of a clean return, made the quick way (the warm path):
        the same fields as ``RunResult(return_value=value)``, without the
        generated constructor's per-field work."""
        state = _TEMPLATE.copy()
        state["return_value"] = value
        state["file_errors"] = []
        state["outputs"] = {}
        state["output_tags"] = {}
        result: RunResult = _new(cls)
        result.__dict__ = state
        return result

    @property
    def ok(self) -> bool:
        return self.trap is None and self.error is None

    @property
    def summary(self) -> str:
        return str(self.return_value) if self.trap is None else self.trap

    def unwrap(self) -> int:
        """The return value; a trap is raised as :class:`~pywamr.Trap`
        (:class:`~pywamr.Timeout` when the deadline passed), a failed task as
        :class:`TaskError`."""
        if self.trap is not None:
            raise (Timeout if self.timed_out else Trap)(self.trap)
        if self.error is not None:
            raise TaskError(self.error)
        assert self.return_value is not None
        return self.return_value


_new = object.__new__
#: Every field's default, in order (the containers are replaced per result).
_TEMPLATE: dict[str, Any] = {
    f.name: None if f.default is MISSING else f.default for f in fields(RunResult)}
