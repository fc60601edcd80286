"""Instance: a running module, its exported functions and its memory."""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from . import _host, _wasi
from ._errors import ClosedError, ExportNotFound, WamrError
from ._externs import Global, RefFunction, Table, release_externrefs
from ._lib import ERR_BUF, Core, raise_status
from ._memory import Memory
from ._types import ExternKind, FuncType, ValType

if TYPE_CHECKING:
    from ._module import Module
    from ._wasi import WasiConfig, WasiState

_SIG_BUF = 256
_CELL_CTYPES = {ValType.I32: "int32_t *", ValType.I64: "int64_t *",
                ValType.F32: "float *", ValType.F64: "double *"}
_CELLS = {ValType.I32: 1, ValType.I64: 2, ValType.F32: 1, ValType.F64: 2}


class Instance:
    """An instantiated module; use :meth:`Module.instantiate`.

    Calls on one instance are serialised: a call from a second thread while
    one is running raises :class:`InstanceBusy` (host functions may call back
    into the same instance on the calling thread).
    """

    _c: Any
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
        func = lib.pw_instance_func(self._c, name.encode(), sig, _SIG_BUF)
        if func == ffi.NULL:
            raise ExportNotFound(f"no exported function named {name!r}")
        ftype = FuncType.parse(ffi.string(sig).decode())
        if all(t in _CELLS for t in ftype.params + ftype.results):
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


class Function:
    """An exported function bound to its instance.

    Calling converts Python ints and floats by the function's real type:
    i32 accepts -2**31 .. 2**32-1 (results come back signed), i64 likewise
    for 64 bits; f32/f64 accept int or float.  No result gives ``None``,
    several give a tuple.  Wrong counts or types raise ``TypeError``, values
    out of range ``ValueError``, before wasm is entered.
    """

    __slots__ = (
        "_buf",
        "_c",
        "_call_float",
        "_call_int",
        "_cells",
        "_ffi",
        "_func",
        "_has_result",
        "_instance",
        "_lib",
        "_lock",
        "_nparams",
        "_param_views",
        "_result_views",
        "_sig",
        "name",
        "type",
    )

    name: str
    type: FuncType
    _instance: Instance
    _c: Any
    _func: Any
    _sig: bytes
    _nparams: int
    _has_result: bool
    _lib: Any
    _ffi: Any
    _call_int: Any
    _call_float: Any
    _lock: threading.Lock
    _buf: Any
    _param_views: tuple[Any, ...]
    _result_views: tuple[Any, ...]
    _cells: int

    @classmethod
    def _make(cls, instance: Instance, name: str, func: Any, ftype: FuncType) -> Function:
        self = object.__new__(_caller_class(ftype, instance._core.lib.PW_INT_SENTINEL))
        self.name = name
        self.type = ftype
        self._instance = instance
        self._c = instance._c
        self._func = func
        self._sig = ftype.signature.encode()
        self._nparams = len(ftype.params)
        self._has_result = bool(ftype.results)
        self._lib = instance._core.lib
        self._ffi = instance._core.ffi
        self._call_int = self._lib.pw_call_int
        self._call_float = self._lib.pw_call_float
        self._lock = threading.Lock()
        param_cells = sum(_CELLS[t] for t in ftype.params)
        result_cells = sum(_CELLS[t] for t in ftype.results)
        self._cells = max(param_cells, result_cells, 1)
        self._buf, self._param_views, self._result_views = self._views()
        return self

    def _views(self) -> tuple[Any, tuple[Any, ...], tuple[Any, ...]]:
        ffi = self._ffi
        buf = ffi.new("uint32_t[]", self._cells)

        def layout(types: tuple[ValType, ...]) -> tuple[Any, ...]:
            views, cell = [], 0
            for t in types:
                views.append(ffi.cast(_CELL_CTYPES[t], buf + cell))
                cell += _CELLS[t]
            return tuple(views)

        return buf, layout(self.type.params), layout(self.type.results)

    def __call__(self, *args: float) -> Any:
        return self.call(*args)

    def call(self, *args: float, timeout: float | None = None) -> Any:
        """Call with ``args``; ``timeout`` (seconds) stops a call that runs
        longer with :class:`Timeout`."""
        if len(args) != self._nparams:
            raise TypeError(f"{self.name}{self.type} takes {self._nparams} "
                            f"argument{'s' if self._nparams != 1 else ''}, got {len(args)}")
        deadline = _check_timeout(timeout)
        if self._lock.acquire(False):
            try:
                return self._invoke(self._buf, self._param_views, self._result_views,
                                    args, deadline)
            finally:
                self._lock.release()
        buf, params, results = self._views()  # re-entered or used concurrently
        return self._invoke(buf, params, results, args, deadline)

    def _invoke(self, buf: Any, params: tuple[Any, ...], results: tuple[Any, ...],
                args: tuple[Any, ...], deadline: float) -> Any:
        for i, (view, value, t) in enumerate(zip(params, args, self.type.params)):
            _store(view, value, t, i, self.name)
        rc = self._lib.pw_call_deadline(self._c, self._func, self._cells, buf, deadline)
        if rc:  # PW_OK is 0
            self._instance._raise(rc)
        if not results:
            return None
        if len(results) == 1:
            return results[0][0]
        return tuple(view[0] for view in results)

    def __repr__(self) -> str:
        return f"<pywamr.Function {self.name}{self.type}>"


def _check_timeout(timeout: float | None) -> float:
    if timeout is None:
        return 0.0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    return float(timeout)


def _store(view: Any, value: Any, t: ValType, index: int, name: str) -> None:
    if t in (ValType.I32, ValType.I64):
        if isinstance(value, float) or not isinstance(value, int):
            raise TypeError(f"{name}: argument {index} must be int for {t}, "
                            f"not {type(value).__name__}")
        bits = 32 if t is ValType.I32 else 64
        if not -(1 << (bits - 1)) <= value < 1 << bits:
            raise ValueError(f"{name}: argument {index} = {value} is out of range for {t}")
        if value >= 1 << (bits - 1):
            value -= 1 << bits
        view[0] = value
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name}: argument {index} must be float for {t}, "
                        f"not {type(value).__name__}")
    try:
        view[0] = value
    except OverflowError:
        raise ValueError(f"{name}: argument {index} = {value} is out of range for {t}") from None


class _ScalarFunction(Function):
    """Scalar signatures with <= 4 params and <= 1 result: one C call, no
    buffers.  Subclasses get a ``__call__`` generated for their signature."""

    __slots__ = ()

    def _failed(self, args: tuple[Any, ...], result: Any) -> Any:
        """The call returned the failure value: a real failure, or a result
        that happens to equal it."""
        rc = self._lib.pw_last_status()
        if rc == self._lib.PW_OK:
            return result if self._has_result else None
        if rc == self._lib.PW_ERR_RANGE:
            index = int(self._ffi.string(self._lib.pw_instance_error(self._c)) or 0)
            raise ValueError(f"{self.name}: argument {index} = {args[index]} is out of range "
                             f"for {self.type.params[index]}")
        self._instance._raise(rc)
        raise AssertionError  # unreachable

    def _bad_args(self, args: tuple[Any, ...], exc: Exception) -> Any:
        """cffi refused an argument: say which, as TypeError or ValueError."""
        for i, (value, t) in enumerate(zip(args, self.type.params)):
            if t in (ValType.I32, ValType.I64):
                if isinstance(value, float) or not isinstance(value, int):
                    raise TypeError(f"{self.name}: argument {i} must be int for {t}, "
                                    f"not {type(value).__name__}") from None
                bits = 32 if t is ValType.I32 else 64
                if not -(1 << (bits - 1)) <= value < 1 << bits:
                    raise ValueError(f"{self.name}: argument {i} = {value} is out of range "
                                     f"for {t}") from None
            elif not isinstance(value, (int, float)):
                raise TypeError(f"{self.name}: argument {i} must be float for {t}, "
                                f"not {type(value).__name__}") from None
            elif isinstance(value, int) and not -(1 << 1023) < value < 1 << 1023:
                raise ValueError(f"{self.name}: argument {i} = {value} is out of range "
                                 f"for {t}") from None
        raise exc


_callers: dict[str, type[Function]] = {}


def _caller_class(ftype: FuncType, int_sentinel: int) -> type[Function]:
    """The Function class for a signature: generated fast paths for scalar
    signatures (<= 4 params, <= 1 result), the generic one otherwise."""
    sig = ftype.signature
    found = _callers.get(sig)
    if found is not None:
        return found
    ints = (ValType.I32, ValType.I64)
    n = len(ftype.params)
    all_int = all(t in ints for t in ftype.params + ftype.results)
    float_result = not ftype.results or ftype.results[0] not in ints
    if n > 4 or len(ftype.results) > 1 or not (all_int or float_result):
        _callers[sig] = Function
        return Function
    names = [f"a{i}" for i in range(n)]
    args_tuple = "(" + "".join(f"{a}, " for a in names) + ")"
    if all_int:
        call = (f"self._call_int(self._c, self._func, self._sig, {n}, "
                + ", ".join(names + ["0"] * (4 - n)) + ")")
        failed = f"r == {int_sentinel}"  # pw_call_int's failure value; status confirms
    else:
        islots = [a if t in ints else "0" for a, t in zip(names, ftype.params)] + ["0"] * (4 - n)
        dslots = [a if t not in ints else "0.0" for a, t in zip(names, ftype.params)]
        dslots += ["0.0"] * (4 - n)
        call = (f"self._call_float(self._c, self._func, self._sig, {n}, "
                + ", ".join(islots + dslots) + ")")
        failed = "r != r"  # NaN: failure, or a NaN result
    source = f"""
def __call__(self{''.join(', ' + a for a in names)}):
    try:
        r = {call}
    except (TypeError, OverflowError) as exc:
        return self._bad_args({args_tuple}, exc)
    if {failed}:
        return self._failed({args_tuple}, r)
    return r if self._has_result else None
"""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<pywamr caller {sig}>", "exec"), namespace)  # noqa: S102
    klass = type(f"_Function{sig}", (_ScalarFunction,),
                 {"__slots__": (), "__call__": namespace["__call__"]})
    _callers[sig] = klass
    return klass
