"""Function: an exported function bound to its instance, and how it is called.

Two call paths: the generic one (any signature; arguments stored into a cell
buffer, ``pw_call_deadline``) and, for scalar signatures with at most four
parameters and one result, a ``__call__`` generated per signature that passes
Python ints and floats straight to ``pw_call_int`` / ``pw_call_float``.  Both
follow the argument rules of :func:`check_argument`, the one place they are
stated: the generic path applies it to every argument, the fast path lets cffi
and C convert and range-check, and on a refusal asks :func:`check_argument`
which argument broke which rule.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from ._externs import call_packed
from ._types import FuncType, ValType

if TYPE_CHECKING:
    from ._instance import Instance
    from ._native_fast import FFI, CData, Lib

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


class Function:
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
    _c: CData
    _func: CData
    _sig: bytes
    _nparams: int
    _has_result: bool
    _lib: Lib
    _ffi: FFI
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
        if rc == self._lib.PW_ERR_RANGE:  # C refused an i32 beyond 32 bits
            self._check_arguments(args)
        self._instance._raise(rc)
        raise AssertionError  # unreachable

    def _bad_args(self, args: tuple[Any, ...]) -> Any:
        """cffi refused an argument: say which, as TypeError or ValueError.

        An argument the rules allow but C's int64 cannot take (an i64 from
        2**63 up, which wraps to a negative value) goes the generic way."""
        try:
            self._check_arguments(args)
        except (TypeError, ValueError) as err:
            raise err from None
        return Function.call(self, *args)

    def _check_arguments(self, args: tuple[Any, ...]) -> None:
        for i, (value, t) in enumerate(zip(args, self.type.params)):
            check_argument(self.name, i, t, value)


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
    except (TypeError, OverflowError):
        return self._bad_args({args_tuple})
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
