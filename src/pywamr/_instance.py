"""Instance: a running module, its exported functions and its memory."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _host
from ._errors import ClosedError, ExportNotFound
from ._function import Function
from ._lib import ERR_BUF, Core, raise_status
from ._memory import Memory
from ._types import ExternKind, FuncType

if TYPE_CHECKING:
    from ._module import Module
    from ._native_fast import CData

_SIG_BUF = 256


class Instance:
    """An instantiated module; use :meth:`Module.instantiate`.

    Calls on one instance are serialised: a call from a second thread while
    one is running raises :class:`InstanceBusy` (host functions may call back
    into the same instance on the calling thread).
    """

    _c: CData
    _handle: int
    _module: Module
    _core: Core
    _functions: dict[str, Function]
    _host_error: BaseException | None
    _memory: Memory | None

    @classmethod
    def _create(cls, module: Module, stack_size: int, heap_size: int) -> Instance:
        lib, ffi = module._core.lib, module._core.ffi
        self = cls.__new__(cls)
        self._module = module
        self._core = module._core
        self._functions = {}
        self._host_error = None
        self._memory = None
        self._handle = _host.track_instance(self)
        raw = lib.pw_instance_alloc(self._handle)
        if raw == ffi.NULL:
            raise MemoryError("out of memory creating an instance")
        self._c = ffi.gc(raw, lib.pw_instance_free)
        err = ffi.new("char[]", ERR_BUF)
        # The start function runs in here and may call host functions.
        rc = lib.pw_instance_start(self._c, module._c, stack_size, heap_size, err, ERR_BUF)
        if rc != lib.PW_OK:
            if self._host_error is not None:  # a host function raised: that is the error
                exc, self._host_error = self._host_error, None
                raise exc
            raise_status(module._core, rc, err)
        return self

    @property
    def module(self) -> Module:
        return self._module

    @property
    def exports(self) -> Exports:
        """Exported functions by name, as callable :class:`Function` objects."""
        return Exports(self)

    @property
    def memory(self) -> Memory:
        """The default linear memory."""
        if self._memory is None:
            self._memory = Memory(self)
        return self._memory

    def function(self, name: str) -> Function:
        """The exported function ``name``; look it up once, call it often."""
        found = self._functions.get(name)
        if found is not None:
            return found
        if not isinstance(name, str):
            raise TypeError(f"export name must be str, not {type(name).__name__}")
        lib, ffi = self._core.lib, self._core.ffi
        if lib.pw_instance_is_closed(self._c):
            raise ClosedError("the instance is closed")
        sig = ffi.new("char[]", _SIG_BUF)
        func = lib.pw_instance_func(self._c, name.encode(), sig, _SIG_BUF)
        if func == ffi.NULL:
            raise ExportNotFound(f"no exported function named {name!r}")
        found = Function._make(self, name, func, FuncType.parse(ffi.string(sig).decode()))
        self._functions[name] = found
        return found

    def call(self, name: str, *args: float, timeout: float | None = None) -> Any:
        """Call export ``name``; see :meth:`Function.call`."""
        return self.function(name).call(*args, timeout=timeout)

    def _module_exports(self) -> Any:
        if self._module.closed:  # the native module is alive while the instance is
            raise ClosedError("the module is closed; keep it open to list exports")
        return self._module.exports

    # -- guest output ----------------------------------------------------
    def capture_output(self, enabled: bool = True) -> None:
        """Collect what the guest prints (printf, puts, ...) instead of
        writing it to the process's stdout; read it with :meth:`take_output`."""
        self._core.lib.pw_output_capture(self._c, int(enabled))

    def take_output(self) -> bytes:
        """Return and clear the captured guest output."""
        lib, ffi = self._core.lib, self._core.ffi
        size = ffi.new("uint64_t *")
        data = lib.pw_output_peek(self._c, size)
        out = ffi.unpack(ffi.cast("char *", data), size[0]) if size[0] else b""
        lib.pw_output_clear(self._c)
        return out

    # -- errors ----------------------------------------------------------
    def _set_host_error(self, exc: BaseException, binding: Any) -> None:
        if self._host_error is None:
            where = binding.qualname if binding is not None else "?"
            exc.add_note(f"raised by host function {where} called from wasm")
            self._host_error = exc

    def _raise(self, rc: int) -> None:
        if rc == self._core.lib.PW_ERR_HOST and self._host_error is not None:
            exc, self._host_error = self._host_error, None
            raise exc
        raise_status(self._core, rc, self._core.lib.pw_instance_error(self._c))

    # -- lifetime ----------------------------------------------------------
    def close(self) -> None:
        """Deinstantiate (deferred while memory views are alive).

        Raises :class:`InstanceBusy` if a call is running on another thread.
        """
        rc = self._core.lib.pw_instance_close(self._c)
        if rc != self._core.lib.PW_OK:
            raise_status(self._core, rc)

    @property
    def closed(self) -> bool:
        return bool(self._core.lib.pw_instance_is_closed(self._c))

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pywamr.Instance {'closed' if self.closed else 'open'} mode={self._core.mode!r}>"


class Exports(Mapping[str, "Function"]):
    """Read-only mapping of an instance's exported functions."""

    __slots__ = ("_instance", "_names")

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._names = [e.name for e in instance._module_exports() if e.kind is ExternKind.FUNC]

    def __getitem__(self, name: str) -> Function:
        return self._instance.function(name)

    def __getattr__(self, name: str) -> Function:
        try:
            return self._instance.function(name)
        except ExportNotFound as exc:
            raise AttributeError(str(exc)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
