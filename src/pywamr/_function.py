"""Function: an exported function bound to its instance, and how it is called.

Three call paths, one set of rules (:func:`check_argument`, the one place
they are stated):

- the C-API caller (CPython): :class:`Function` is a subclass of
  ``pywamr._fastcall.FastCall``, called through vectorcall; it converts
  plain ints and floats itself and calls the bridge's ``pw_fcall_cells``
  with the function's ``pw_fastfn`` (both prepared by cffi at lookup), for
  every scalar signature.  Anything it does not take (a wrong count, type
  or range; a failed call) leaves through :meth:`Function._bad_args` and
  :meth:`Function._failed`, which say what broke in the same words;
- without that module (``PYWAMR_FASTCALL=OFF``, or an interpreter it is not
  built for): scalar signatures with at most four parameters and one result
  get a caller generated per signature that passes Python ints and floats
  straight to ``pw_fcallN`` / ``pw_fcall_float`` over cffi, and
  :class:`Function` is a :class:`functools.partial` of it (one C-level
  dispatch; a Python ``__call__`` would add a bound-method call and an
  argument tuple);
- the generic one (:meth:`Function.call`: any signature, a timeout;
  arguments stored into a cell buffer, ``pw_call_deadline``).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from . import _accel
from ._externs import call_packed
from ._types import FuncType, ValType

if TYPE_CHECKING:
    from ._instance import Instance
    from ._native_fast import FFI, CData, Lib


_fastcall = _accel.fastcall
#: Whether :class:`Function` is called by the C-API caller.
ACCELERATED = _fastcall is not None

if TYPE_CHECKING:
    from ._fastcall import FastCall as _CallBase
elif _fastcall is not None:
    _CallBase = _fastcall.FastCall
else:
    _CallBase = functools.partial

_CELL_CTYPES = {ValType.I32: "int32_t *", ValType.I64: "int64_t *",
                ValType.F32: "float *", ValType.F64: "double *"}
_CELLS = {ValType.I32: 1, ValType.I64: 2, ValType.F32: 1, ValType.F64: 2}
_INT_BITS = {ValType.I32: 32, ValType.I64: 64}


def is_scalar(ftype: FuncType) -> bool:
    """Whether :class:`Function` calls ``ftype``: only i32, i64, f32 and f64
    values (v128 and reference values go through ``_externs.RefFunction``)."""
    return all(t in _CELLS for t in ftype.params + ftype.results)


def check_argument(name: str, index: int, t: ValType, value: Any) -> Any:
    """pywamr's rules for argument ``index`` of ``name``, of wasm type ``t``.

    - i32 / i64: an ``int`` (``bool`` included) from ``-2**(bits-1)`` to
      ``2**bits - 1``; the upper half wraps to the signed value with the same
      bits (results come back signed);
    - f32 / f64: an ``int`` or ``float`` (``bool`` included); an ``int`` must
      be convertible to a double (f32 rounds, and overflows to infinity, as C
      does).

    Returns the value to store; raises ``TypeError`` for a wrong type and
    ``ValueError`` for a value out of range.
    """
    bits = _INT_BITS.get(t)
    if bits is not None:
        if not isinstance(value, int):
            raise TypeError(f"{name}: argument {index} must be int for {t}, "
                            f"not {type(value).__name__}")
        if not -(1 << (bits - 1)) <= value < 1 << bits:
            raise ValueError(f"{name}: argument {index} = {value} is out of range for {t}")
        return value - (1 << bits) if value >= 1 << (bits - 1) else value
    if not isinstance(value, (int, float)):
        raise TypeError(f"{name}: argument {index} must be float for {t}, "
                        f"not {type(value).__name__}")
    if isinstance(value, int):
        try:
            float(value)
        except OverflowError:
            raise ValueError(f"{name}: argument {index} = {value} is out of range "
                             f"for {t}") from None
    return value


class Function(_CallBase):
    """An exported function bound to its instance.

    Calling converts Python ints and floats by the function's real type, as
    :func:`check_argument` states (i32 takes -2**31 .. 2**32-1, results come
    back signed; f32/f64 take int or float).  No result gives ``None``,
    several give a tuple.  Wrong counts or types raise ``TypeError``, values
    out of range ``ValueError``, before wasm is entered.
    """

    __slots__ = (
        "_buf",
        "_c",
        "_cells",
        "_fast",
        "_ffi",
        "_func",
        "_has_result",
        "_instance",
        "_lib",
        "_lock",
        "_nparams",
        "_param_views",
        "_result_views",
        "name",
        "type",
    )

    name: str
    type: FuncType
    _instance: Instance
    _c: CData
    _func: CData
    _fast: CData | None
    _nparams: int
    _has_result: bool
    _lib: Lib
    _ffi: FFI
    _lock: threading.Lock
    _buf: Any
    _param_views: tuple[Any, ...]
    _result_views: tuple[Any, ...]
    _cells: int

    @classmethod
    def _make(cls, instance: Instance, name: str, func: Any, ftype: FuncType) -> Function:
        lib, ffi = instance._core.lib, instance._core.ffi
        if _fastcall is not None:
            self = cls._make_accelerated(lib, ffi, instance, func, ftype)
        else:
            self = cls._make_over_cffi(lib, ffi, instance, name, func, ftype)
        self.name = name
        self.type = ftype
        self._instance = instance
        self._c = instance._c
        self._func = func
        self._nparams = len(ftype.params)
        self._has_result = bool(ftype.results)
        self._lib = lib
        self._ffi = ffi
        self._lock = threading.Lock()
        param_cells = sum(_CELLS[t] for t in ftype.params)
        result_cells = sum(_CELLS[t] for t in ftype.results)
        self._cells = max(param_cells, result_cells, 1)
        self._buf, self._param_views, self._result_views = self._views()
        return self

    @classmethod
    def _make_accelerated(cls, lib: Lib, ffi: FFI, instance: Instance, func: Any,
                          ftype: FuncType) -> Function:
        """An instance of the C-API caller, armed with the function's
        ``pw_fastfn`` and the bridge's ``pw_fcall_cells``."""
        assert _fastcall is not None
        sig = ftype.signature
        raw = lib.pw_fastfn_new(instance._c, func, sig.encode())
        if raw == ffi.NULL:
            raise MemoryError("could not prepare a fast call")
        self: Function = _fastcall.FastCall.__new__(cls)
        self._fast = ffi.gc(raw, lib.pw_fastfn_free)  # lives as long as self
        params, results = sig[1:].split(")")
        entry = int(ffi.cast("uintptr_t", ffi.addressof(lib, "pw_fcall_cells")))
        # False (too many values): calls go to self.call
        self._arm(entry, int(ffi.cast("uintptr_t", self._fast)), params, results)
        return self

    @classmethod
    def _make_over_cffi(cls, lib: Lib, ffi: FFI, instance: Instance, name: str, func: Any,
                        ftype: FuncType) -> Function:
        """A :class:`functools.partial` of a caller generated for the
        signature (or of the generic one)."""
        maker = _caller_maker(ftype, lib.PW_INT_SENTINEL)
        fast = None
        if maker is not None:
            raw = lib.pw_fastfn_new(instance._c, func, ftype.signature.encode())
            if raw == ffi.NULL:
                raise MemoryError("could not prepare a fast call")
            fast = ffi.gc(raw, lib.pw_fastfn_free)
            all_int = all(t in _INT_BITS for t in ftype.params + ftype.results)
            cfn = getattr(lib, _INT_CALLS[len(ftype.params)] if all_int else "pw_fcall_float")
            call, bind = maker(cfn, int(ffi.cast("uintptr_t", fast)))
        else:
            call, bind = _generic_caller()
        call.__name__ = call.__qualname__ = name  # "add() missing 1 required ..."
        self: Function = cast(Any, functools.partial).__new__(cls, call)
        bind(self)
        self._fast = fast
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

    def call_bits(self, *args: Any, timeout: float | None = None) -> Any:
        """Call with f32 and f64 values as their IEEE 754 bit patterns
        (unsigned ints, e.g. ``0x7fa00000``), both ways; i32/i64 as
        :meth:`call`.  A Python float carries an f32 through a conversion to
        double, which sets a signalling NaN's quiet bit: use this where exact
        bits matter (the fast :meth:`__call__` and :meth:`call` are unchanged)."""
        return call_packed(self._instance, self._func, self.name, self.type, args, timeout,
                           float_bits=True)

    def _invoke(self, buf: Any, params: tuple[Any, ...], results: tuple[Any, ...],
                args: tuple[Any, ...], deadline: float) -> Any:
        for i, (view, value, t) in enumerate(zip(params, args, self.type.params)):
            view[0] = check_argument(self.name, i, t, value)
        rc = self._lib.pw_call_deadline(self._c, self._func, self._cells, buf, deadline)
        if rc:  # PW_OK is 0
            self._instance._raise(rc)
        if not results:
            return None
        if len(results) == 1:
            return results[0][0]
        return tuple(view[0] for view in results)

    # -- the fast path's slow exits --------------------------------------
    def _failed(self, args: tuple[Any, ...], result: Any) -> Any:
        """A fast call returned the failure value: a real failure, or a
        result that happens to equal it."""
        rc = self._lib.pw_last_status()
        if rc == self._lib.PW_OK:
            return result if self._has_result else None
        if rc == self._lib.PW_ERR_RANGE:  # C refused an i32 beyond 32 bits
            self._check_arguments(args)
        self._instance._raise(rc)
        raise AssertionError  # unreachable

    def _bad_args(self, args: tuple[Any, ...]) -> Any:
        """cffi refused an argument of a fast call: say which, as TypeError
        or ValueError (a wrong count is a TypeError too).

        An argument the rules allow but C's int64 cannot take (an i64 from
        2**63 up, which wraps to a negative value) goes the generic way."""
        try:
            self._check_arguments(args)
        except (TypeError, ValueError) as err:
            raise err from None
        return self.call(*args)

    def _check_arguments(self, args: tuple[Any, ...]) -> None:
        for i, (value, t) in enumerate(zip(args, self.type.params)):
            check_argument(self.name, i, t, value)

    def __repr__(self) -> str:
        return f"<pywamr.Function {self.name}{self.type}>"

    def __reduce__(self) -> Any:
        raise TypeError("a pywamr.Function cannot be pickled (it is bound to a live instance)")


if _fastcall is not None:
    _fastcall.enable_vectorcall(Function)


def _check_timeout(timeout: float | None) -> float:
    if timeout is None:
        return 0.0
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError("timeout must be a number of seconds")
    if not timeout > 0:
        raise ValueError("timeout must be positive")
    return float(timeout)


# A caller and the function that binds it to its Function, once that exists.
_Caller = tuple[Callable[..., Any], Callable[[Function], None]]


def _generic_caller() -> _Caller:
    function: Function | None = None

    def call(*args: Any) -> Any:
        assert function is not None
        return function.call(*args)

    def bind(f: Function) -> None:
        nonlocal function
        function = f

    return call, bind


#: The bridge's fast calls of int-only signatures, by arity.
_INT_CALLS = ("pw_fcall0", "pw_fcall1", "pw_fcall2", "pw_fcall3", "pw_fcall4")
_Maker = Callable[[Any, int], _Caller]
_makers: dict[str, _Maker | None] = {}


def _caller_maker(ftype: FuncType, int_sentinel: int) -> _Maker | None:
    """For scalar signatures with <= 4 params and <= 1 result, a factory of
    generated callers (``maker(bridge function, fastfn address) -> (call,
    bind)``; the bridge function is ``_INT_CALLS[arity]`` for int-only
    signatures, ``pw_fcall_float`` otherwise); None for the generic path."""
    sig = ftype.signature
    if sig in _makers:
        return _makers[sig]
    ints = (ValType.I32, ValType.I64)
    n = len(ftype.params)
    all_int = all(t in ints for t in ftype.params + ftype.results)
    float_result = not ftype.results or ftype.results[0] not in ints
    if n > 4 or len(ftype.results) > 1 or not (all_int or float_result):
        _makers[sig] = None
        return None
    names = [f"a{i}" for i in range(n)]
    params = ", ".join(names)
    args_tuple = "(" + "".join(f"{a}, " for a in names) + ")"
    if all_int:
        call = f"cfn({', '.join(['fast', *names])})"
        failed = f"r == {int_sentinel}"  # the failure value; the status confirms
    else:
        islots = [a if t in ints else "0" for a, t in zip(names, ftype.params)] + ["0"] * (4 - n)
        dslots = [a if t not in ints else "0.0" for a, t in zip(names, ftype.params)]
        dslots += ["0.0"] * (4 - n)
        call = f"cfn({', '.join(['fast', *islots, *dslots])})"
        failed = "r != r"  # NaN: failure, or a NaN result
    result = "r" if ftype.results else "None"
    source = f"""
def maker(cfn, fast):
    function = None

    def call({params}):
        try:
            r = {call}
        except (TypeError, OverflowError):
            return function._bad_args({args_tuple})
        if {failed}:
            return function._failed({args_tuple}, r)
        return {result}

    def bind(f):
        nonlocal function
        function = f

    return call, bind
"""
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<pywamr caller {sig}>", "exec"), namespace)  # noqa: S102
    maker: _Maker = namespace["maker"]
    _makers[sig] = maker
    return maker
