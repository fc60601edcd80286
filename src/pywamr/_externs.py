"""Exports other than functions, and the values that need more than a float.

* :class:`Global`: an exported global, typed ``value`` get and (mutable) set;
* :class:`Table`: an exported table, ``len``/``get``/``set``/``grow``;
* :class:`RefFunction`: calls of functions whose signature has ``v128``,
  ``funcref`` or ``externref`` values (the scalar ones keep their fast paths);
* reference values: an ``externref`` carries any Python object (or None) and
  the instance keeps it alive until it is closed; a ``funcref`` comes back as
  a callable :class:`RefFunction` (or None) and is given as a function of the
  same instance (a :class:`~pywamr.Function`/:class:`RefFunction`) or None;
  a ``v128`` is a 128-bit unsigned ``int`` (little-endian lanes).
"""

from __future__ import annotations

import struct
from typing import TYPE_CHECKING, Any

from ._errors import ClosedError, LinkError
from ._externref import externref_handle, externref_object
from ._lib import raise_status
from ._types import FuncType, GlobalType, TableType, ValType

if TYPE_CHECKING:
    from ._instance import Instance

NULL_REF = 0xFFFFFFFF
_SIG_BUF = 256
# Bytes each value takes in a call's argument buffer (WAMR's cells; an
# externref crosses the API as a host pointer, 8 bytes here).
_CALL_SIZE = {ValType.I32: 4, ValType.I64: 8, ValType.F32: 4, ValType.F64: 8,
              ValType.V128: 16, ValType.FUNCREF: 4, ValType.EXTERNREF: 8}
_FORMATS = {ValType.I32: "<i", ValType.I64: "<q", ValType.F32: "<f", ValType.F64: "<d"}

def encode_ref(instance: Instance, t: ValType, value: Any, what: str) -> int:
    """A reference value as WAMR stores it in tables and globals (an index)."""
    lib, ffi = instance._core.lib, instance._core.ffi
    if t is ValType.FUNCREF:
        if value is None:
            return NULL_REF
        func = getattr(value, "_func", None)
        if func is None or getattr(value, "_instance", None) is not instance:
            raise TypeError(f"{what}: a funcref must be a function of this instance or None, "
                            f"not {type(value).__name__}")
        index = lib.pw_function_index(instance._c, func)
        if index < 0:
            raise ValueError(f"{what}: {value!r} is not a function of this instance")
        return int(index)
    out = ffi.new("uint32_t *")
    rc = lib.pw_externref_index(instance._c, externref_handle(instance, value), out)
    if rc != lib.PW_OK:
        raise_status(instance._core, rc, "could not make an externref")
    return int(out[0])


def decode_ref(instance: Instance, t: ValType, index: int) -> Any:
    """The Python value of a stored reference."""
    if index == NULL_REF:
        return None
    if t is ValType.FUNCREF:
        return funcref_function(instance, index)
    return externref_object(int(instance._core.lib.pw_externref_value(index)))


def funcref_function(instance: Instance, index: int) -> RefFunction:
    """A callable for the function at ``index`` of the instance's function space."""
    lib, ffi = instance._core.lib, instance._core.ffi
    sig = ffi.new("char[]", _SIG_BUF)
    func = lib.pw_funcref_function(instance._c, index, sig, _SIG_BUF)
    if func == ffi.NULL:
        raise ValueError(f"funcref {index} names no function of this instance")
    return RefFunction(instance, f"funcref[{index}]", func,
                       FuncType.parse(ffi.string(sig).decode()))


def _check_value(t: ValType, value: Any, what: str) -> None:
    if t in (ValType.I32, ValType.I64, ValType.V128):
        bits = {ValType.I32: 32, ValType.I64: 64, ValType.V128: 128}[t]
        if not isinstance(value, int):
            raise TypeError(f"{what} must be int for {t}, not {type(value).__name__}")
        if not -(1 << (bits - 1)) <= value < 1 << bits:
            raise ValueError(f"{what} = {value} is out of range for {t}")
    elif t in (ValType.F32, ValType.F64) and not isinstance(value, (int, float)):
        raise TypeError(f"{what} must be float for {t}, not {type(value).__name__}")


def pack_value(instance: Instance, t: ValType, value: Any, what: str, *,
               call: bool) -> bytes:
    """``value`` as bytes of type ``t``: for a call's argument buffer
    (``call``: externref as host value) or for a global's storage."""
    _check_value(t, value, what)
    if t is ValType.V128:
        return int(value & ((1 << 128) - 1)).to_bytes(16, "little")
    if t in (ValType.I32, ValType.I64):
        bits = 32 if t is ValType.I32 else 64
        return int(value & ((1 << bits) - 1)).to_bytes(bits // 8, "little")
    if t in (ValType.F32, ValType.F64):
        try:
            return struct.pack(_FORMATS[t], value)
        except OverflowError:
            if t is ValType.F32:  # C's conversion: too large for f32 is infinity
                return struct.pack("<f", float("inf") if value > 0 else float("-inf"))
            raise ValueError(f"{what} = {value} is out of range for {t}") from None
    if t is ValType.EXTERNREF and call:  # WAMR's call API: null is the all-ones pointer
        handle = externref_handle(instance, value) if value is not None else (1 << 64) - 1
        return handle.to_bytes(8, "little")
    return encode_ref(instance, t, value, what).to_bytes(4, "little")


def unpack_value(instance: Instance, t: ValType, data: bytes, *, call: bool) -> Any:
    if t is ValType.V128:
        return int.from_bytes(data[:16], "little")
    if t in _FORMATS:
        return struct.unpack_from(_FORMATS[t], data)[0]
    if t is ValType.EXTERNREF and call:
        return externref_object(int.from_bytes(data[:8], "little"))
    return decode_ref(instance, t, int.from_bytes(data[:4], "little"))


class RefFunction:
    """A function whose signature has v128 or reference values (or a funcref
    taken from a table, global or result); called like :class:`Function`."""

    __slots__ = ("_c", "_func", "_instance", "name", "type")

    def __init__(self, instance: Instance, name: str, func: Any, ftype: FuncType) -> None:
        self._instance = instance
        self._c = instance._c
        self._func = func
        self.name = name
        self.type = ftype

    def __call__(self, *args: Any) -> Any:
        return self.call(*args)

    def call(self, *args: Any, timeout: float | None = None) -> Any:
        """Call with ``args``; ``timeout`` in seconds as for :class:`Function`."""
        return call_packed(self._instance, self._func, self.name, self.type, args, timeout,
                           float_bits=False)

    def call_bits(self, *args: Any, timeout: float | None = None) -> Any:
        """As :meth:`Function.call_bits`: f32/f64 values as their bit patterns."""
        return call_packed(self._instance, self._func, self.name, self.type, args, timeout,
                           float_bits=True)

    def __repr__(self) -> str:
        return f"<pywamr.Function {self.name}{self.type}>"


_BITS = {ValType.F32: 32, ValType.F64: 64}


def call_packed(instance: Instance, func: Any, name: str, ftype: FuncType,
                args: tuple[Any, ...], timeout: float | None, *, float_bits: bool) -> Any:
    """Call through a byte buffer: any signature.  With ``float_bits`` f32 and
    f64 arguments and results are unsigned ``int`` bit patterns, copied as
    they are (a Python float carries an f32 through a double conversion,
    which sets a signalling NaN's quiet bit)."""
    if len(args) != len(ftype.params):
        raise TypeError(f"{name}{ftype} takes {len(ftype.params)} arguments, "
                        f"got {len(args)}")
    if timeout is not None and (isinstance(timeout, bool)
                                or not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError("timeout must be a positive number of seconds")
    lib, ffi = instance._core.lib, instance._core.ffi
    parts = []
    for i, (t, v) in enumerate(zip(ftype.params, args)):
        width = _BITS.get(t) if float_bits else None
        if width is None:
            parts.append(pack_value(instance, t, v, f"{name}: argument {i}", call=True))
            continue
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name}: argument {i} must be the int bit pattern of a {t}, "
                            f"not {type(v).__name__}")
        if not 0 <= v < 1 << width:
            raise ValueError(f"{name}: argument {i} = {v} is not a {width}-bit pattern")
        parts.append(v.to_bytes(width // 8, "little"))
    packed = b"".join(parts)
    size = max(len(packed), sum(_CALL_SIZE[t] for t in ftype.results), 4)
    buf = ffi.new("uint32_t[]", size // 4)
    ffi.memmove(buf, packed, len(packed))
    rc = lib.pw_call_deadline(instance._c, func, len(packed) // 4, buf, float(timeout or 0.0))
    if rc != lib.PW_OK:
        instance._raise(rc)
    data = bytes(ffi.buffer(buf, size))
    results, at = [], 0
    for t in ftype.results:
        width = _BITS.get(t) if float_bits else None
        if width is None:
            results.append(unpack_value(instance, t, data[at:], call=True))
        else:
            results.append(int.from_bytes(data[at:at + width // 8], "little"))
        at += _CALL_SIZE[t]
    if not results:
        return None
    return results[0] if len(results) == 1 else tuple(results)


class Global:
    """An exported global: ``value`` reads it with its type, ``value = v``
    writes a mutable one (``TypeError`` for an immutable one)."""

    __slots__ = ("_index", "_instance", "name", "type")

    def __init__(self, instance: Instance, name: str, export_index: int) -> None:
        lib, ffi = instance._core.lib, instance._core.ffi
        code, mutable = ffi.new("uint8_t *"), ffi.new("int *")
        if lib.pw_global_type(instance._c, export_index, code, mutable) != lib.PW_OK:
            raise ClosedError("the instance is closed")
        self._instance = instance
        self._index = export_index
        self.name = name
        self.type = GlobalType(ValType.from_wasm(code[0]), bool(mutable[0]))

    @property
    def value(self) -> Any:
        instance = self._instance
        lib, ffi = instance._core.lib, instance._core.ffi
        out = ffi.new("uint8_t[16]")
        if lib.pw_global_get(instance._c, self._index, out) != lib.PW_OK:
            raise ClosedError("the instance is closed")
        return unpack_value(instance, self.type.content, bytes(ffi.buffer(out, 16)), call=False)

    @value.setter
    def value(self, value: Any) -> None:
        if not self.type.mutable:
            raise TypeError(f"global {self.name!r} is immutable")
        instance = self._instance
        lib = instance._core.lib
        data = pack_value(instance, self.type.content, value, f"global {self.name!r}",
                          call=False).ljust(16, b"\0")
        rc = lib.pw_global_set(instance._c, self._index, data)
        if rc != lib.PW_OK:
            raise ClosedError("the instance is closed")

    def get(self) -> Any:
        return self.value

    def set(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return f"<pywamr.Global {self.name!r} {self.type}>"


class Table:
    """An exported table of funcref or externref elements."""

    __slots__ = ("_index", "_instance", "element", "name")

    def __init__(self, instance: Instance, name: str, export_index: int) -> None:
        self._instance = instance
        self._index = export_index
        self.name = name
        self.element = self._info()[0]

    def _info(self) -> tuple[ValType, int, int]:
        instance = self._instance
        lib, ffi = instance._core.lib, instance._core.ffi
        code, size, maximum = ffi.new("uint8_t *"), ffi.new("uint32_t *"), ffi.new("uint32_t *")
        if lib.pw_table_info(instance._c, self._index, code, size, maximum) != lib.PW_OK:
            raise ClosedError("the instance is closed")
        return ValType.from_wasm(code[0]), size[0], maximum[0]

    @property
    def type(self) -> TableType:
        """Element type, current size as the minimum, and WAMR's maximum."""
        element, size, maximum = self._info()
        return TableType(element, size, maximum)

    def __len__(self) -> int:
        return self._info()[1]

    @property
    def size(self) -> int:
        return len(self)

    def _check_index(self, index: int) -> None:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError("table index must be int")
        if not 0 <= index < len(self):
            raise IndexError(f"table index {index} out of range (size {len(self)})")

    def get(self, index: int) -> Any:
        """Element ``index``: a callable, an object, or None."""
        self._check_index(index)
        instance = self._instance
        lib, ffi = instance._core.lib, instance._core.ffi
        out = ffi.new("uint32_t *")
        if lib.pw_table_get(instance._c, self._index, index, out) != lib.PW_OK:
            raise IndexError(f"table index {index} out of range")
        return decode_ref(instance, self.element, out[0])

    def set(self, index: int, value: Any) -> None:
        self._check_index(index)
        instance = self._instance
        ref = encode_ref(instance, self.element, value, f"table {self.name!r}")
        if instance._core.lib.pw_table_set(instance._c, self._index, index, ref) \
                != instance._core.lib.PW_OK:
            raise IndexError(f"table index {index} out of range")

    def grow(self, delta: int, init: Any = None) -> int:
        """Add ``delta`` elements set to ``init``; returns the old size, or -1
        when the table cannot grow that much (as ``table.grow``)."""
        if isinstance(delta, bool) or not isinstance(delta, int):
            raise TypeError("delta must be int")
        if not 0 <= delta < 1 << 32:
            raise ValueError(f"delta out of range: {delta}")
        instance = self._instance
        lib, ffi = instance._core.lib, instance._core.ffi
        ref = encode_ref(instance, self.element, init, f"table {self.name!r}")
        old = ffi.new("uint32_t *")
        if lib.pw_table_grow(instance._c, self._index, delta, ref, old) != lib.PW_OK:
            raise ClosedError("the instance is closed")
        return -1 if old[0] == NULL_REF else int(old[0])

    def __getitem__(self, index: int) -> Any:
        return self.get(index)

    def __setitem__(self, index: int, value: Any) -> None:
        self.set(index, value)

    def __repr__(self) -> str:
        return f"<pywamr.Table {self.name!r} {self.element} size={len(self)}>"


# -- host-defined globals: values for imported globals ------------------------
def global_bytes(gtype: GlobalType, value: Any, what: str) -> bytes:
    """A host global's value as the 16 bytes WAMR stores for an import."""
    if gtype.content.is_reference:
        if value is not None:
            raise TypeError(f"{what}: a host global of type {gtype.content} can only be None")
        return NULL_REF.to_bytes(4, "little").ljust(16, b"\0")
    _check_value(gtype.content, value, what)
    if gtype.content is ValType.V128:
        return int(value & ((1 << 128) - 1)).to_bytes(16, "little")
    if gtype.content in (ValType.I32, ValType.I64):
        bits = 32 if gtype.content is ValType.I32 else 64
        return int(value & ((1 << bits) - 1)).to_bytes(16, "little")
    return struct.pack(_FORMATS[gtype.content], value).ljust(16, b"\0")


def link_globals(core: Any, module_c: Any, imports: Any,
                 defined: dict[tuple[str, str], tuple[GlobalType, bytes]],
                 allow_unresolved: bool) -> None:
    """Give a loaded module's imported globals their host-defined values.

    Raises :class:`~pywamr.LinkError` for an import of a global nobody
    defines (unless ``allow_unresolved``; it then reads 0) or whose type or
    mutability differs from the definition.
    """
    lib, ffi = core.lib, core.ffi
    code, mutable, builtin = ffi.new("uint8_t *"), ffi.new("int *"), ffi.new("int *")
    for index, imp in enumerate(imports):
        if lib.pw_module_import_global(module_c, index, code, mutable, builtin) != lib.PW_OK:
            continue
        wanted = GlobalType(ValType.from_wasm(code[0]), bool(mutable[0]))
        if builtin[0]:
            continue
        found = defined.get((imp.module, imp.name))
        if found is None:
            if allow_unresolved:
                continue
            raise LinkError(f"unresolved import {imp.module}.{imp.name} (global {wanted}): "
                            "define it with Runtime.define_global before loading")
        gtype, data = found
        if gtype != wanted:
            raise LinkError(f"incompatible import type: {imp.module}.{imp.name} is imported as "
                            f"global {wanted} but defined as {gtype}")
        lib.pw_module_link_global(module_c, index, data)
