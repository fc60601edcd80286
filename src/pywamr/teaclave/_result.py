"""What one payload invocation produced."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

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

    # (A result made by :meth:`_returned` holds only its return value; the
    # lists and dicts below are made on first access, see __getattr__.)

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
        only ``return_value`` is set; the other fields read their defaults,
        ``file_errors``, ``outputs`` and ``output_tags`` appear (empty, this
        result's own) on first access."""
        result: RunResult = _new(cls)
        result.return_value = value
        return result

    if not TYPE_CHECKING:  # for the type checker every field is a plain attribute
        def __getattr__(self, name: str) -> Any:
            # only reached for a field a quick result has not set yet
            factory = _LAZY.get(name)
            if factory is None:
                raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
            value = self.__dict__[name] = factory()
            return value

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
#: The fields without a class-level default, made on first access.
_LAZY: dict[str, type[list[Any]] | type[dict[Any, Any]]] = {
    "file_errors": list, "outputs": dict, "output_tags": dict}
