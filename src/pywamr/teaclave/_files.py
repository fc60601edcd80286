"""A run's files: which paths its file ids name, and how outputs land.

Used by both executors.  How inputs and outputs flow:

1. :func:`file_map` validates the ``inputs``/``outputs`` mappings callers give
   (values: a path, or a :class:`ProtectedFile` description);
2. :class:`~pywamr.teaclave._staged.Staging` turns protected files into
   paths the natives can open (memfds, FIFOs), verified before the run;
3. :class:`RunFiles` decides the path the natives open for each file id (the
   executor declares them: ``teaclave_files.c`` opens exactly those paths) and,
   after the run, publishes or discards outputs and reports what happened.

Outputs, two ways (:attr:`Profile.outputs_in_place`):

* in place (Teaclave): the natives open the output's own path, so bytes land
  as the payload writes them and stay after a trap;
* published (strict): the natives write a temporary file beside the path,
  ``.NAME.pywamr-PID-N.tmp``, renamed into place only when the payload
  returned normally and every write succeeded, removed otherwise.  A worker
  process that dies mid-run leaves its temporaries behind:
  :func:`remove_temporaries` deletes them by the same name pattern.

Protected outputs are written by the payload into a FIFO and encrypted by
:mod:`._staged`; :meth:`RunFiles.verdict` says whether each is kept, with the
same rules as plain outputs.
"""

from __future__ import annotations

import errno
import glob
import itertools
import os
import stat
from collections.abc import Callable, Mapping

from ._file_formats import ProtectedFile
from ._result import RunResult

PathLike = str | os.PathLike[str]
FileSpec = PathLike | ProtectedFile  # a plain path, or a file in one of Teaclave's schemas
_temp_ids = itertools.count()


def describe(value: object) -> str | ProtectedFile:
    """A file map's value as the executor keeps it: a path or a description."""
    if isinstance(value, ProtectedFile):
        return value
    if isinstance(value, (str, os.PathLike)):
        return os.fspath(value)
    raise TypeError("files must map str file ids to paths or ProtectedFile descriptions")


def path_of(value: str | ProtectedFile) -> str:
    """Where a file map's value lives on disk."""
    return value.fspath if isinstance(value, ProtectedFile) else value


def absolute(value: str | ProtectedFile) -> str | ProtectedFile:
    """The same file with an absolute path (for worker processes)."""
    if isinstance(value, ProtectedFile):
        return ProtectedFile(os.path.abspath(value.fspath), value.key, value.format, iv=value.iv,
                             tag=value.tag)
    return os.path.abspath(value)


def file_map(mapping: Mapping[str, FileSpec] | None, label: str) -> dict[str, str | ProtectedFile]:
    """``{file id: path or ProtectedFile}`` checked (str ids, no NUL characters)."""
    if not mapping and (mapping is None or isinstance(mapping, Mapping)):
        return {}
    if not isinstance(mapping, Mapping):
        raise TypeError(f"{label} must map file ids to paths")
    out: dict[str, str | ProtectedFile] = {}
    for fid, path in mapping.items():
        if not isinstance(fid, str) or not isinstance(path, (str, os.PathLike, ProtectedFile)):
            raise TypeError(f"{label} must map str file ids to paths")
        if "\0" in fid:
            raise ValueError(f"file id {fid!r} contains a NUL character")
        try:
            fid.encode()
        except UnicodeEncodeError:
            raise ValueError(f"file id {fid!r} is not valid Unicode text") from None
        value = out[fid] = describe(path)
        if "\0" in os.fsdecode(path_of(value)):  # C would cut the path short there
            raise ValueError(f"the path of file id {fid!r} contains a NUL character")
    return out


def _temp_name(tail: str, pid: int | str, serial: int | str) -> str:
    """The one place the temporary-output name format is written."""
    return f".{tail}.pywamr-{pid}-{serial}.tmp"


def temp_path(path: str, kind: str = "") -> str:
    """A fresh temporary name beside ``path`` (``kind`` tells users apart)."""
    head, tail = os.path.split(os.path.abspath(path))
    return os.path.join(head, _temp_name(tail, os.getpid(), f"{kind}{next(_temp_ids)}"))


def remove_temporaries(outputs: Mapping[str, str | ProtectedFile], pid: int) -> None:
    """Delete the temporary outputs process ``pid`` left beside ``outputs``."""
    for value in outputs.values():
        head, tail = os.path.split(os.path.abspath(path_of(value)))
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
    """The files of one run: what to declare, then how to finish.

    ``inputs``: file id -> the path the natives open; ``outputs``: plain
    outputs, file id -> the caller's path; ``direct``: outputs the natives
    write as they are (protected outputs' FIFOs), finished elsewhere.
    """

    def __init__(self, inputs: Mapping[str, str], outputs: Mapping[str, str],
                 direct: Mapping[str, str], in_place: bool) -> None:
        self.inputs = dict(inputs)
        self.outputs = dict(outputs)
        self.direct = dict(direct)
        self.in_place = in_place
        self.targets = dict(outputs) if in_place else {
            fid: temp_path(path) for fid, path in outputs.items()}

    def declarations(self) -> list[tuple[str, str, bool]]:
        """``(file id, path the natives open, is_output)`` for every file."""
        return ([(fid, path, False) for fid, path in self.inputs.items()]
                + [(fid, path, True) for fid, path in {**self.targets, **self.direct}.items()])

    def verdict(self, created: bool, failed: bool, trapped: bool) -> str | None:
        """``None`` keeps an output; otherwise why it is discarded ("": never created)."""
        if not created:
            return ""
        if self.in_place:
            return None  # Teaclave keeps (and uploads) what was written, trap or not
        if failed:
            return "a write failed"
        return "the payload trapped" if trapped else None

    def finish(self, state: Callable[[str], tuple[bool, bool]], result: RunResult,
               missing_fails: bool) -> None:
        """Publish or discard each plain output and record it in ``result``.

        ``state(fid)`` says whether the payload created the output and
        whether a write to it failed.  With ``missing_fails`` a declared
        output (plain or direct) never created fails the run.
        """
        for fid, path in self.outputs.items():
            created, failed = state(fid)
            why = self.verdict(created, failed, result.trap is not None)
            if self.in_place:
                if why is None:
                    result.outputs[fid] = path
                continue
            temp = self.targets[fid]
            if why is None:
                try:
                    _check_replaceable(path)
                    os.replace(temp, path)
                    result.outputs[fid] = path
                    continue
                except OSError as exc:  # e.g. the path is a directory: recorded, temp removed
                    why = f"it could not be moved into place ({exc.strerror or exc})"
            if created:
                result.file_errors.append(f"output '{fid}' discarded: {why}")
            try:
                os.unlink(temp)
            except FileNotFoundError:
                pass
        if missing_fails:
            for fid in [*self.outputs, *self.direct]:
                if not state(fid)[0]:
                    why = f"output '{fid}' was declared but never created"
                    result.file_errors.append(why)
                    if result.error is None:
                        result.error = why

    def discard(self) -> None:
        """Remove temporaries after a run that never reached :meth:`finish`."""
        if not self.in_place:
            for temp in self.targets.values():
                try:
                    os.unlink(temp)
                except FileNotFoundError:
                    pass
