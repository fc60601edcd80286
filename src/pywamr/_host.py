"""Host functions: Python callables (and native functions) imported by wasm.

Protocol: the bridge's C trampoline receives every host import call.  It
bounds-checks pointer arguments, then calls ``pw_py_host(py_id, inst_handle,
args, memory)`` (a cffi ``extern "Python"``) for Python functions.  Here the
binding decodes the raw wasm values with a plan computed at registration,
calls the function, and encodes its result into ``args[0]``.  An exception is
never let through C: it is stored on the calling :class:`Instance` and the
guest traps; the call that entered wasm re-raises it.
"""

from __future__ import annotations

import itertools
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ._lib import ERR_HOST

if TYPE_CHECKING:
    from ._instance import Instance

_PARAM_LETTERS = frozenset("iIfF*~$")
_RESULT_LETTERS = frozenset("iIfF")
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
        raise ValueError(f"bad signature {signature!r}: result must be one of i I f F")
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


class _Binding:
    """A Python host function with its precomputed decode/encode plan."""

    __slots__ = ("func", "qualname", "pass_instance", "decoders", "result", "__weakref__")

    def __init__(self, func: Callable[..., Any], qualname: str, params: str, result: str,
                 pass_instance: bool, ffi: Any) -> None:
        self.func = func
        self.qualname = qualname
        self.pass_instance = pass_instance
        self.decoders = _decoders(params, ffi)
        self.result = result


_bindings: dict[int, _Binding] = {}
_binding_ids = itertools.count(1)
_instances: weakref.WeakValueDictionary[int, Instance] = weakref.WeakValueDictionary()
_instance_ids = itertools.count(1)


def new_binding(func: Callable[..., Any], qualname: str, params: str, result: str,
                pass_instance: bool, ffi: Any) -> int:
    """Register a Python host function; returns its id for the bridge."""
    py_id = next(_binding_ids)
    _bindings[py_id] = _Binding(func, qualname, params, result, pass_instance, ffi)
    return py_id


def drop_bindings(ids: list[int]) -> None:
    for py_id in ids:
        _bindings.pop(py_id, None)


def track_instance(instance: Instance) -> int:
    handle = next(_instance_ids)
    _instances[handle] = instance
    return handle


def _decoders(params: str, ffi: Any) -> tuple[Callable[[Any, Any], Any], ...]:
    """One decoder per Python argument: raw args (uint64_t*) and memory -> value."""
    out: list[Callable[[Any, Any], Any]] = []
    i = 0
    while i < len(params):
        letter = params[i]
        k = i
        if letter == "*" and params[i + 1 : i + 2] == "~":
            out.append(lambda a, m, k=k: memoryview(ffi.buffer(m + (a[k] & 0xFFFFFFFF),
                                                                a[k + 1] & 0xFFFFFFFF)))
            i += 2
            continue
        if letter in "i*~":
            if letter == "i":
                out.append(lambda a, m, k=k: ((a[k] & 0xFFFFFFFF) ^ 0x80000000) - 0x80000000)
            else:
                out.append(lambda a, m, k=k: a[k] & 0xFFFFFFFF)
        elif letter == "I":
            out.append(lambda a, m, k=k: (a[k] ^ 0x8000000000000000) - 0x8000000000000000)
        elif letter == "f":
            out.append(lambda a, m, k=k: ffi.cast("float *", a + k)[0])
        elif letter == "F":
            out.append(lambda a, m, k=k: ffi.cast("double *", a + k)[0])
        elif letter == "$":
            out.append(lambda a, m, k=k: ffi.string(ffi.cast("char *", m + (a[k] & 0xFFFFFFFF)))
                       .decode("utf-8", "surrogateescape"))
        i += 1
    return tuple(out)


def _encode(binding: _Binding, value: Any, args: Any, ffi: Any) -> None:
    letter = binding.result
    if not letter:
        if value is not None:
            raise TypeError(f"host function {binding.qualname} has no result "
                            f"but returned {type(value).__name__}")
        return
    if letter in "iI":
        if not isinstance(value, int):
            raise TypeError(f"host function {binding.qualname} must return int, "
                            f"not {type(value).__name__}")
        if value not in (_I32_RANGE if letter == "i" else _I64_RANGE):
            raise ValueError(f"host function {binding.qualname} returned {value}, "
                             f"out of range for {'i32' if letter == 'i' else 'i64'}")
        args[0] = value & (0xFFFFFFFF if letter == "i" else 0xFFFFFFFFFFFFFFFF)
        return
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"host function {binding.qualname} must return float, "
                        f"not {type(value).__name__}")
    ffi.cast("float *" if letter == "f" else "double *", args)[0] = value


def install(ffi: Any) -> None:
    """Hook the dispatcher into one core's cffi module."""

    @ffi.def_extern(name="pw_py_host")
    def dispatch(py_id: int, inst_handle: int, args: Any, memory: Any) -> int:
        instance = _instances.get(inst_handle)
        views: list[memoryview] = []
        try:
            binding = _bindings[py_id]
            values = [decode(args, memory) for decode in binding.decoders]
            views = [v for v in values if type(v) is memoryview]
            if binding.pass_instance:
                values.insert(0, instance)
            _encode(binding, binding.func(*values), args, ffi)
            return 0
        except BaseException as exc:  # noqa: BLE001 - re-raised by the caller
            if instance is not None:
                instance._set_host_error(exc, _bindings.get(py_id))
            return ERR_HOST
        finally:
            for view in views:  # guest memory must not be reachable afterwards
                try:
                    view.release()
                except BufferError:
                    pass
