"""A run's files: which paths its file ids name, and how outputs land.

Used by both executors.  :func:`file_map` validates the ``inputs``/``outputs``
mappings callers give; :class:`RunFiles` decides the path the natives open for
each file id and, after the run, publishes outputs and reports what happened.

Outputs, two ways (:attr:`Profile.outputs_in_place`):

* in place (Teaclave): the natives open the output's own path, so bytes land
  as the payload writes them and stay after a trap;
* published (strict): the natives write a temporary file beside the path,
  ``.NAME.pywamr-PID-N.tmp``, renamed into place only when the payload
  returned normally and every write succeeded, removed otherwise.  A worker
  process that dies mid-run leaves its temporaries behind:
  :func:`remove_temporaries` deletes them by the same name pattern.
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import stat
from collections.abc import Callable, Mapping

from ._result import RunResult

PathLike = str | os.PathLike[str]
_temp_ids = itertools.count()


def file_map(mapping: Mapping[str, PathLike] | None, label: str) -> dict[str, str]:
    """``{file id: path}`` checked (str ids, paths, no NUL characters)."""
    if not mapping:
        if mapping is None or isinstance(mapping, Mapping):
            return {}
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{label} must map file ids to paths")
    out = {}
    for fid, path in mapping.items():
        if not isinstance(fid, str) or not isinstance(path, (str, os.PathLike)):
            raise TypeError(f"{label} must map str file ids to paths")
        if "\0" in fid:
            raise ValueError(f"file id {fid!r} contains a NUL character")
        try:
            fid.encode()
        except UnicodeEncodeError:
            raise ValueError(f"file id {fid!r} is not valid Unicode text") from None
        out[fid] = os.fspath(path)
        if "\0" in os.fsdecode(out[fid]):  # C would cut the path short there
            raise ValueError(f"the path of file id {fid!r} contains a NUL character")
    return out


def _temp_name(tail: str, pid: int, serial: int | str) -> str:
    """The one place the temporary-output name format is written."""
    return f".{tail}.pywamr-{pid}-{serial}.tmp"


def temp_path(path: str) -> str:
    """A fresh temporary name beside ``path``."""
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, _temp_name(tail, os.getpid(), next(_temp_ids)))


def remove_temporaries(outputs: Mapping[str, str], pid: int) -> None:
    """Delete the temporary outputs process ``pid`` left beside ``outputs``."""
    for path in outputs.values():
        head, tail = os.path.split(os.path.abspath(path))
        pattern = os.path.join(glob.escape(head), _temp_name(glob.escape(tail), pid, "*"))
        for temp in glob.glob(pattern):
            try:
                os.unlink(temp)
            except OSError:
                pass


def _check_replaceable(path: str) -> None:
    """Outputs are renamed over regular files (or symlinks) only, never over a
    device, FIFO, socket or directory (e.g. ``/dev/null``)."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise OSError(errno.EEXIST, "the path exists and is not a regular file", path)


class RunFiles:
    """The files of one run: what to declare, then how to finish."""

    def __init__(self, inputs: dict[str, str], outputs: dict[str, str], in_place: bool) -> None:
        self.inputs = inputs
        self.outputs = outputs
        self.in_place = in_place
        self.targets = dict(outputs) if in_place else {
            fid: temp_path(path) for fid, path in outputs.items()}

    def declarations(self) -> list[tuple[str, str, bool]]:
        """``(file id, path the natives open, is_output)`` for every file."""
        return ([(fid, path, False) for fid, path in self.inputs.items()]
                + [(fid, path, True) for fid, path in self.targets.items()])

    def finish(self, state: Callable[[str], tuple[bool, bool]], result: RunResult,
               missing_fails: bool) -> None:
        """Publish or discard each output and record it in ``result``.

        ``state(fid)`` says whether the payload created the output and
        whether a write to it failed.
        """
        for fid, path in self.outputs.items():
            created, failed = state(fid)
            if self.in_place:
                if created:
                    result.outputs[fid] = path
                elif missing_fails:
                    why = f"output '{fid}' was declared but never created"
                    result.file_errors.append(why)
                    if result.error is None:
                        result.error = why
                continue
            temp = self.targets[fid]
            if created and not failed and result.trap is None:
                try:
                    _check_replaceable(path)
                    os.replace(temp, path)
                    result.outputs[fid] = path
                    continue
                except OSError as exc:  # e.g. the path is a directory: recorded, temp removed
                    why = f"it could not be moved into place ({exc.strerror or exc})"
            else:
                why = "a write failed" if failed else "the payload trapped"
            if created:
                result.file_errors.append(f"output '{fid}' discarded: {why}")
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass

    def discard(self) -> None:
        """Remove temporaries after a run that never reached :meth:`finish`."""
        if not self.in_place:
            for temp in self.targets.values():
                try:
                    os.unlink(temp)
                except FileNotFoundError:
                    pass
