"""Host functions: Python callables (and native functions) imported by wasm.

Protocol: the bridge's C trampoline receives every host import call.  It
bounds-checks pointer arguments, then calls ``pw_py_host(py_id, inst_handle,
args, memory)`` (a cffi ``extern "Python"``) for Python functions.  Here the
binding decodes the raw wasm values with a plan computed at registration,
calls the function, and encodes its result into ``args[0]``.  Functions of
integers only (:func:`int_call`) take a shorter way: ``pw_py_host0`` ..
``pw_py_host4`` pass the values as C integers and return the result, so no
cdata is made or indexed per call.  With ``pywamr._fastcall`` loaded, every
function of values (:func:`c_call`: no memory view, no string) is called by
its C caller instead (``_csrc/hostcall.c``), with the same result checks
(:func:`_compile_result_check`).  An exception is never let through C: it
is stored on the calling :class:`Instance` and the guest traps; the call that
entered wasm re-raises it.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._accel import fastcall as _fastcall
from ._externref import externref_handle, externref_object

if TYPE_CHECKING:
    from ._instance import Instance
    from ._native_fast import FFI, Lib

_PARAM_LETTERS = frozenset("iIfF*~$r")
_RESULT_LETTERS = frozenset("iIfFr")
_I32_RANGE = range(-(1 << 31), 1 << 32)
_I64_RANGE = range(-(1 << 63), 1 << 64)


def parse_signature(signature: str) -> tuple[str, str]:
    """Split and validate a WAMR signature: returns (params, result)."""
    if not isinstance(signature, str) or not signature.startswith("("):
        raise ValueError(f"bad signature {signature!r}: expected e.g. '(ii)i'")
    params, sep, result = signature[1:].partition(")")
    if not sep or len(result) > 1 or not set(params) <= _PARAM_LETTERS:
        raise ValueError(f"bad signature {signature!r}")
    if result and result not in _RESULT_LETTERS:
        raise ValueError(f"bad signature {signature!r}: result must be one of i I f F r")
    for i, letter in enumerate(params):
        if letter == "~" and (i == 0 or params[i - 1] != "*"):
            raise ValueError(f"bad signature {signature!r}: '~' must follow '*'")
    return params, result


@dataclass(frozen=True)
class NativeFunction:
    """A C function implementing a host import without Python.

    ``address`` is a function pointer with WAMR's raw native ABI
    ``void fn(wasm_exec_env_t env, uint64_t *args)`` (results go to
    ``args[0]``); pointer arguments (``*``, ``$``) arrive already bounds-checked
    and converted to native addresses.  Use :data:`pywamr.natives` for the
    functions pywamr itself provides.
    """

    address: int
    signature: str
    builtin: str | None = None


def c_call(params: str, result: str = "") -> bool:
    """Whether ``pywamr._fastcall`` calls a Python host function of this
    signature in C when it is loaded: numbers and pointers only (``i``, ``I``,
    ``f``, ``F``, ``*``), no ``*~`` memory view, no ``$`` string and no ``r``
    externref.  hosts.c states the same rule."""
    return not set(params) & {"~", "$", "r"} and result != "r"


def int_call(params: str, result: str) -> bool:
    """Whether the bridge calls a Python host function with C integers
    (``pw_py_host0..4``): at most four ``i``/``I``/``*`` parameters and an
    ``i``/``I`` result or none.  hosts.c states the same rule."""
    return len(params) <= 4 and set(params) <= {"i", "I", "*"} and result in ("", "i", "I")


class _Binding:
    """A Python host function and its invoker, generated for its signature."""

    __slots__ = ("__weakref__", "func", "invoke", "pass_instance", "qualname")

    def __init__(self, func: Callable[..., Any], qualname: str, params: str, result: str,
                 pass_instance: bool, ffi: FFI) -> None:
        self.func = func
        self.qualname = qualname
        self.pass_instance = pass_instance
        self.invoke = _compile_invoker(func, qualname, params, result, pass_instance, ffi)


_bindings: dict[int, _Binding] = {}
#: py_id -> ``invoke(inst_handle, *values) -> int`` of the int_call bindings.
_int_invokers: dict[int, Callable[..., int]] = {}
_binding_ids = itertools.count(1)
_instances: weakref.WeakValueDictionary[int, Instance] = weakref.WeakValueDictionary()
_instance_ids = itertools.count(1)


def new_binding(func: Callable[..., Any], qualname: str, params: str, result: str,
                pass_instance: bool, ffi: FFI) -> int:
    """Register a Python host function; returns its id for the bridge."""
    py_id = next(_binding_ids)
    _bindings[py_id] = _Binding(func, qualname, params, result, pass_instance, ffi)
    if int_call(params, result):
        _int_invokers[py_id] = _compile_int_invoker(func, qualname, params, result,
                                                    pass_instance)
    if _fastcall is not None and c_call(params, result):
        _fastcall.set_host(py_id, func, _compile_result_check(qualname, result), pass_instance)
    return py_id


def drop_bindings(ids: list[int]) -> None:
    for py_id in ids:
        _bindings.pop(py_id, None)
        _int_invokers.pop(py_id, None)
        if _fastcall is not None:
            _fastcall.drop_host(py_id)


def track_instance(instance: Instance) -> int:
    handle = next(_instance_ids)
    _instances[handle] = instance
    return handle


def _compile_invoker(func: Callable[..., Any], qualname: str, params: str, result: str,
                     pass_instance: bool, ffi: FFI) -> Callable[[Any, Any, int], int]:
    """Generate ``invoke(args, memory, inst_handle)`` for one signature.

    Straight-line code: decode each raw wasm value, call ``func``, check and
    encode its result into ``args[0]``.  ``*~`` views are released when the
    call returns, so guest memory is never reachable afterwards.
    """
    lines: list[str] = []
    names: list[str] = []
    views: list[str] = []
    i = 0
    while i < len(params):
        letter, v = params[i], f"v{len(names)}"
        if letter == "*" and params[i + 1 : i + 2] == "~":
            lines.append(f"{v} = memoryview(buffer(m + (a[{i}] & 0xFFFFFFFF), "
                         f"a[{i + 1}] & 0xFFFFFFFF))")
            views.append(v)
            i += 2
        else:
            lines.append(f"{v} = " + {
                "i": f"((a[{i}] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000",
                "*": f"a[{i}] & 0xFFFFFFFF",
                "~": f"a[{i}] & 0xFFFFFFFF",
                "I": f"(a[{i}] ^ 0x8000000000000000) - 0x8000000000000000",
                "f": f"cast('float *', a + {i})[0]",
                "F": f"cast('double *', a + {i})[0]",
                "$": f"string(cast('char *', m + (a[{i}] & 0xFFFFFFFF)))"
                     f".decode('utf-8', 'surrogateescape')",
                # WAMR passes an externref as the host value pywamr gave it
                "r": f"extern_object(a[{i}])",
            }[letter])
            i += 1
        names.append(v)
    call_args = ", ".join((["instance_of(h)"] if pass_instance else []) + names)
    call = f"r = func({call_args})"
    if views:
        lines += ["try:", f"    {call}", "finally:"] + [f"    release({v})" for v in views]
    else:
        lines.append(call)
    lines += _result_lines(qualname, result)
    if result in ("i", "I"):
        lines.append(f"a[0] = r & {(1 << (32 if result == 'i' else 64)) - 1}")
    elif result == "r":   # the calling instance holds the object from now on;
        # WAMR takes the all-ones host value for the null reference
        lines.append("a[0] = 0xFFFFFFFFFFFFFFFF if r is None else extern_handle(instance_of(h), r)")
    elif result:
        lines.append(f"cast('{'float' if result == 'f' else 'double'} *', a)[0] = r")
    body = "\n".join("    " + line for line in lines)
    source = f"def invoke(a, m, h):\n{body}\n    return 0\n"
    namespace: dict[str, Any] = {"func": func, "buffer": ffi.buffer, "cast": ffi.cast,
                                 "string": ffi.string, "release": _release,
                                 "instance_of": _instances.get,
                                 "extern_object": externref_object,
                                 "extern_handle": externref_handle}
    exec(compile(source, f"<pywamr host {qualname}>", "exec"), namespace)  # noqa: S102
    invoke: Callable[[Any, Any, int], int] = namespace["invoke"]
    return invoke


def _result_lines(qualname: str, result: str) -> list[str]:
    """Check ``r`` against the result type (shared by both invokers)."""
    if not result:
        return ["if r is not None:",
                f"    raise TypeError('host function {qualname} has no result but returned '"
                " + type(r).__name__)"]
    if result == "r":     # any Python object (None is the null reference)
        return []
    if result in "iI":
        bits = 32 if result == "i" else 64
        return ["if not isinstance(r, int):",
                f"    raise TypeError('host function {qualname} must return int, not '"
                " + type(r).__name__)",
                f"if not {-(1 << (bits - 1))} <= r < {1 << bits}:",
                f"    raise ValueError('host function {qualname} returned ' + str(r) + "
                f"', out of range for {'i32' if bits == 32 else 'i64'}')"]
    return ["if isinstance(r, bool) or not isinstance(r, (int, float)):",
            f"    raise TypeError('host function {qualname} must return float, not '"
            " + type(r).__name__)"]


def _compile_int_invoker(func: Callable[..., Any], qualname: str, params: str, result: str,
                         pass_instance: bool) -> Callable[..., int]:
    """Generate ``invoke(inst_handle, a0, ...) -> int`` for an :func:`int_call`
    signature: the bridge passes i32 values sign-extended and pointers as
    offsets, so the values go to ``func`` as they are; the result is checked
    and returned for C to store (an i64 from 2**63 up as its signed twin)."""
    names = [f"a{i}" for i in range(len(params))]
    call_args = ", ".join((["instance_of(h)"] if pass_instance else []) + names)
    lines = [f"r = func({call_args})", *_result_lines(qualname, result)]
    if not result:
        lines.append("return 0")
    elif result == "I":
        lines.append("return r if r < 0x8000000000000000 else r - 0x10000000000000000")
    else:
        lines.append("return r")
    body = "\n".join("    " + line for line in lines)
    source = f"def invoke(h{''.join(', ' + n for n in names)}):\n{body}\n"
    namespace: dict[str, Any] = {"func": func, "instance_of": _instances.get}
    exec(compile(source, f"<pywamr host {qualname}>", "exec"), namespace)  # noqa: S102
    invoke: Callable[..., int] = namespace["invoke"]
    return invoke


def _compile_result_check(qualname: str, result: str) -> Callable[[Any], Any]:
    """Generate ``check(r)`` for the C caller of :func:`c_call` host
    functions (``_csrc/hostcall.c``): it raises for the results C does not
    accept at once, as the invokers do, and returns the others."""
    body = "\n".join("    " + line for line in _result_lines(qualname, result))
    source = f"def check(r):\n{body}\n    return r\n"
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<pywamr host {qualname}>", "exec"), namespace)  # noqa: S102
    check: Callable[[Any], Any] = namespace["check"]
    return check


def host_failed(py_id: int, inst_handle: int, exc: BaseException) -> None:
    """Store the exception of host function ``py_id`` on its instance."""
    instance = _instances.get(inst_handle)
    if instance is not None:
        instance._set_host_error(exc, _bindings.get(py_id))


if _fastcall is not None:
    _fastcall.set_host_context(_instances.get, host_failed)


def _release(view: memoryview) -> None:
    try:
        view.release()
    except BufferError:  # the host function exported it further: it stays valid
        pass


def install(ffi: FFI, lib: Lib) -> None:
    """Hook the dispatcher into one core's cffi module."""
    err_host: int = lib.PW_ERR_HOST

    raised = lib.pw_host_raised
    failed = host_failed
    if _fastcall is not None:  # c_call functions: called by _fastcall
        lib.pw_set_host_caller(_fastcall.host_caller_address())

    @ffi.def_extern(name="pw_py_host")  # type: ignore[untyped-decorator]
    def dispatch(py_id: int, inst_handle: int, args: Any, memory: Any) -> int:
        try:
            return _bindings[py_id].invoke(args, memory, inst_handle)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, inst_handle, exc)
            return err_host

    # The int_call ways, one per arity (a failure is flagged, not returned).
    invokers = _int_invokers

    @ffi.def_extern(name="pw_py_host0")  # type: ignore[untyped-decorator]
    def dispatch0(py_id: int, h: int) -> int:
        try:
            return invokers[py_id](h)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, h, exc)
            raised()
            return 0

    @ffi.def_extern(name="pw_py_host1")  # type: ignore[untyped-decorator]
    def dispatch1(py_id: int, h: int, a0: int) -> int:
        try:
            return invokers[py_id](h, a0)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, h, exc)
            raised()
            return 0

    @ffi.def_extern(name="pw_py_host2")  # type: ignore[untyped-decorator]
    def dispatch2(py_id: int, h: int, a0: int, a1: int) -> int:
        try:
            return invokers[py_id](h, a0, a1)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, h, exc)
            raised()
            return 0

    @ffi.def_extern(name="pw_py_host3")  # type: ignore[untyped-decorator]
    def dispatch3(py_id: int, h: int, a0: int, a1: int, a2: int) -> int:
        try:
            return invokers[py_id](h, a0, a1, a2)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, h, exc)
            raised()
            return 0

    @ffi.def_extern(name="pw_py_host4")  # type: ignore[untyped-decorator]
    def dispatch4(py_id: int, h: int, a0: int, a1: int, a2: int, a3: int) -> int:
        try:
            return invokers[py_id](h, a0, a1, a2, a3)
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            failed(py_id, h, exc)
            raised()
            return 0
