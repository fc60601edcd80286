"""Instance: a running module, its exported functions and its memory."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _host, _wasi
from ._errors import ClosedError, ExportNotFound, WamrError
from ._externref import release_externrefs
from ._externs import Global, RefFunction, Table
from ._function import Function, is_scalar
from ._lib import ERR_BUF, Core, raise_status
from ._memory import Memory
from ._types import ExternKind, FuncType

if TYPE_CHECKING:
    from ._module import Module
    from ._native_fast import CData
    from ._wasi import WasiConfig, WasiState

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
    _functions: dict[str, Function | RefFunction]
    _host_error: BaseException | None
    _memory: Memory | None
    _externrefs: set[int]

    _wasi: WasiState | None

    @classmethod
    def _create(cls, module: Module, stack_size: int, heap_size: int,
                wasi: WasiConfig | None = None) -> Instance:
        lib, ffi = module._core.lib, module._core.ffi
        self = cls.__new__(cls)
        self._module = module
        self._core = module._core
        self._functions = {}
        self._host_error = None
        self._memory = None
        self._externrefs = set()  # externref objects the guest may hold
        weakref.finalize(self, release_externrefs, self._externrefs)
        self._handle = _host.track_instance(self)
        raw = lib.pw_instance_alloc(self._handle)
        if raw == ffi.NULL:
            raise MemoryError("out of memory creating an instance")
        self._c = ffi.gc(raw, lib.pw_instance_free)
        err = ffi.new("char[]", ERR_BUF)
        # The start function runs in here and may call host functions.
        self._wasi = None
        if wasi is None:
            rc = lib.pw_instance_start(self._c, module._c, stack_size, heap_size, err, ERR_BUF)
        else:  # WASI: see _wasi.py
            rc, self._wasi = _wasi.start(wasi, module, self._c, stack_size, heap_size, err,
                                         ERR_BUF)
        if rc != lib.PW_OK:
            if self._host_error is not None:  # a host function raised: that is the error
                exc, self._host_error = self._host_error, None
                raise exc
            raise_status(module._core, rc, err)
        if self._wasi is not None:
            _wasi.initialize_reactor(self)
        return self

    # -- WASI (see _wasi.py) -----------------------------------------------
    @property
    def wasi(self) -> WasiState:
        """The instance's WASI state (captured output, exit code)."""
        if self._wasi is None:
            raise WamrError("this instance was not made with a WASI configuration")
        return self._wasi

    def run(self, *, timeout: float | None = None) -> int:
        """Run a WASI command (its ``_start``) and return its exit code.

        The code is 0 when ``_start`` returns and ``n`` after ``proc_exit(n)``;
        a trap raises :class:`Trap`.  A command runs once per instance.
        """
        return _wasi.run_command(self, timeout)

    @property
    def module(self) -> Module:
        return self._module

    @property
    def exports(self) -> Exports:
        """Every export by name: :class:`Function` (callable),
        :class:`Memory`, :class:`Global` or :class:`Table`."""
        return Exports(self)

    @property
    def memory(self) -> Memory:
        """The default linear memory."""
        if self._memory is None:
            self._memory = Memory(self)
        return self._memory

    def function(self, name: str) -> Function | RefFunction:
        """The exported function ``name``; look it up once, call it often."""
        cached = self._functions.get(name)
        if cached is not None:
            return cached
        if not isinstance(name, str):
            raise TypeError(f"export name must be str, not {type(name).__name__}")
        lib, ffi = self._core.lib, self._core.ffi
        if lib.pw_instance_is_closed(self._c):
            raise ClosedError("the instance is closed")
        sig = ffi.new("char[]", _SIG_BUF)
        index = -1 if self._module.closed else self._module._export_index(name)
        if index is None:
            func = ffi.NULL
        elif index >= 0:  # a module with NUL in export names (see _names)
            func = lib.pw_instance_func_at(self._c, index, sig, _SIG_BUF)
        else:
            func = lib.pw_instance_func(self._c, name.encode(), sig, _SIG_BUF)
        if func == ffi.NULL:
            raise ExportNotFound(f"no exported function named {name!r}")
        ftype = FuncType.parse(ffi.string(sig).decode())
        if is_scalar(ftype):
            found: Function | RefFunction = Function._make(self, name, func, ftype)
        else:  # v128 or reference values
            found = RefFunction(self, name, func, ftype)
        self._functions[name] = found
        return found

    def _export(self, name: str) -> Function | RefFunction | Memory | Global | Table:
        """The export ``name`` of any kind."""
        for index, export in enumerate(self._module_exports()):
            if export.name != name:
                continue
            if export.kind is ExternKind.FUNC:
                return self.function(name)
            if export.kind is ExternKind.MEMORY:
                return self.memory  # WAMR 1.1.2: one memory per instance
            if lib_closed(self):
                raise ClosedError("the instance is closed")
            if export.kind is ExternKind.GLOBAL:
                return Global(self, name, index)
            return Table(self, name, index)
        raise ExportNotFound(f"no export named {name!r}")

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
        if self._wasi is not None:
            code = _wasi.take_exit(self)
            if code is not None:
                raise _wasi.WasiExit(code)
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
        release_externrefs(self._externrefs)  # the guest cannot hold them any more

    @property
    def closed(self) -> bool:
        return bool(self._core.lib.pw_instance_is_closed(self._c))

    def __enter__(self) -> Instance:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<pywamr.Instance {'closed' if self.closed else 'open'} mode={self._core.mode!r}>"


def lib_closed(instance: Instance) -> bool:
    return bool(instance._core.lib.pw_instance_is_closed(instance._c))


Export = Any  # Function | RefFunction | Memory | Global | Table


class Exports(Mapping[str, Export]):
    """Read-only mapping of an instance's exports, every kind:
    :class:`Function`, :class:`Memory`, :class:`Global`, :class:`Table`."""

    __slots__ = ("_instance", "_names")

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._names = list(dict.fromkeys(e.name for e in instance._module_exports()))

    def __getitem__(self, name: str) -> Export:
        if name not in self._names:
            raise KeyError(name)
        return self._instance._export(name)

    def __getattr__(self, name: str) -> Export:
        try:
            return self._instance._export(name)
        except ExportNotFound as exc:
            raise AttributeError(str(exc)) from None

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)
