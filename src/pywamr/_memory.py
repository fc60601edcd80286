"""Memory: bounds-checked access to an instance's default linear memory."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, overload

from ._errors import ClosedError
from ._lib import raise_status

if TYPE_CHECKING:
    from ._instance import Instance

Buffer = bytes | bytearray | memoryview


class Memory:
    """The instance's default linear memory (including WAMR's app heap,
    which WAMR appends as extra pages).

    ``read``/``write`` and indexing copy and are bounds-checked: out of range
    raises ``IndexError`` and never touches host memory.  :meth:`view`
    gives a zero-copy writable ``memoryview``.  A view covers the size at
    the time it was taken: after ``memory.grow`` take a new one.  A live view
    keeps the instance's memory mapped even after ``Instance.close()`` (the
    instance is deinstantiated when the last view is released).
    """

    __slots__ = ("_c", "_ffi", "_instance", "_lib")

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._lib = instance._core.lib
        self._ffi = instance._core.ffi
        self._c = instance._c

    def _base(self) -> tuple[Any, int]:
        if self._lib.pw_instance_is_closed(self._c):
            raise ClosedError("the instance is closed")
        size = self._ffi.new("uint64_t *")
        base = self._lib.pw_memory(self._c, size)
        return base, size[0]

    def __len__(self) -> int:
        return self._base()[1]

    @property
    def size(self) -> int:
        """Current size in bytes."""
        return len(self)

    def read(self, offset: int, size: int) -> bytes:
        """Copy ``size`` bytes starting at ``offset``."""
        if type(offset) is not int or type(size) is not int or offset < 0 or size < 0:
            _check_range(offset, size)  # raises the error that applies
        # One copy, straight from linear memory into the bytes object (a
        # copy through a fresh C buffer first cost ~45x as much for a whole
        # 4 MiB memory: page faults on the buffer).
        src = self._lib.pw_memory_at(self._c, offset, size)
        if not src:  # NULL
            if self._lib.pw_instance_is_closed(self._c):
                raise ClosedError("the instance is closed")
            self._raise(self._lib.PW_ERR_RANGE, offset, size)
        data: bytes = self._ffi.unpack(src, size)
        return data

    def write(self, offset: int, data: Buffer) -> None:
        """Copy ``data`` into memory at ``offset``."""
        view = memoryview(data).cast("B")
        _check_range(offset, view.nbytes)
        rc = self._lib.pw_memory_write(self._c, offset, self._ffi.from_buffer(view), view.nbytes)
        if rc:  # PW_OK is 0
            self._raise(rc, offset, view.nbytes)

    def _raise(self, rc: int, offset: int, size: int) -> None:
        if rc == self._lib.PW_ERR_RANGE:
            raise IndexError(f"memory access [{offset}, {offset + size}) is out of bounds "
                             f"(memory is {len(self)} bytes)")
        raise_status(self._instance._core, rc)

    def view(self) -> memoryview:
        """A writable zero-copy view of the whole memory, as it is now."""
        base, size = self._base()
        if base == self._ffi.NULL or size == 0:
            return memoryview(b"")
        lib, c = self._lib, self._c
        lib.pw_view_acquire(c)
        anchor = self._ffi.gc(base, lambda _p: lib.pw_view_release(c))
        return memoryview(self._ffi.buffer(anchor, size))

    @overload
    def __getitem__(self, key: int) -> int: ...
    @overload
    def __getitem__(self, key: slice) -> bytes: ...

    def __getitem__(self, key: int | slice) -> int | bytes:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("memory slices must be contiguous")
            return self.read(start, max(0, stop - start))
        if key < 0:
            key += len(self)
        return self.read(key, 1)[0]

    def __setitem__(self, key: int | slice, value: int | Buffer) -> None:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            data = memoryview(value).cast("B")  # type: ignore[arg-type]
            if step != 1 or stop - start != data.nbytes:
                raise ValueError("slice assignment must be contiguous and keep the size")
            self.write(start, data)
            return
        if key < 0:
            key += len(self)
        self.write(key, bytes([value]))  # type: ignore[list-item]

    def __repr__(self) -> str:
        try:
            return f"<pywamr.Memory {len(self)} bytes>"
        except ClosedError:
            return "<pywamr.Memory closed>"


def _check_range(offset: int, size: int) -> None:
    for label, value in (("offset", offset), ("size", size)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{label} must be int, not {type(value).__name__}")
        if value < 0:
            raise IndexError(f"negative {label}: {value}")
