"""Runtime: one WAMR core, plus the host functions modules may import."""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, Union

from . import _aot, _host, _limits, _linking, _names
from ._errors import ClosedError, LinkError, LoadError
from ._externs import global_bytes
from ._host import NativeFunction
from ._instance_links import instance_links
from ._lib import DEFAULT_MODE, ERR_BUF, Core, core, raise_status
from ._module import Module
from ._source import Source, read_source

if TYPE_CHECKING:
    from ._instance import Instance
    from ._native_fast import CData
from ._types import GlobalType, MemoryType, TableType, ValType

F = TypeVar("F", bound=Callable[..., Any])
HostSpec = Union[tuple[Callable[..., Any], str], NativeFunction]


class Runtime:
    """A WAMR runtime in one execution mode.

    ``mode`` is ``"fast-interp"`` (default) or ``"classic-interp"``.  WAMR's
    process-wide initialisation happens once per core; any number of
    runtimes, in both modes, can live in one process.  Host functions are
    per runtime and are resolved when a module is loaded.
    """

    def __init__(self, mode: str = DEFAULT_MODE) -> None:
        self._core = self._acquire(mode, fresh=False)
        self._destroy_on_close = False
        self._setup()

    @classmethod
    def _fresh(cls, mode: str) -> Runtime:
        """A runtime that initialises WAMR from scratch and destroys it on close.

        This is Teaclave's per-invocation lifecycle; it needs the core to
        itself (no other open runtime, module or instance of that mode).
        """
        self = cls.__new__(cls)
        self._core = cls._acquire(mode, fresh=True)
        self._destroy_on_close = True
        self._setup()
        return self

    @staticmethod
    def _acquire(mode: str, fresh: bool) -> Core:
        native = core(mode)
        err = native.ffi.new("char[]", ERR_BUF)
        rc = native.lib.pw_wamr_acquire(int(fresh), err, ERR_BUF)
        if rc != native.lib.PW_OK:
            raise_status(native, rc, err)
        return native

    def _setup(self) -> None:
        lib, ffi = self._core.lib, self._core.ffi
        self._hosts: CData | None = ffi.gc(lib.pw_hosts_new(), lib.pw_hosts_release)
        if self._hosts == ffi.NULL:
            lib.pw_wamr_release(0)
            raise MemoryError("could not allocate a host table")
        self._host_specs: dict[tuple[str, str], str] = {}
        self._globals: dict[tuple[str, str], tuple[GlobalType, bytes]] = {}
        self._tables: dict[tuple[str, str], TableType] = {}
        self._memories: dict[tuple[str, str], MemoryType] = {}
        # exports of registered instances that cannot be linked, and why
        self._unlinkable: dict[tuple[str, str], str] = {}
        self._binding_ids: list[int] = []
        self._closed = False
        # Bindings outlive close(): modules loaded earlier may still call them.
        weakref.finalize(self, _host.drop_bindings, self._binding_ids)
        self._wamr_ref = weakref.finalize(self, lib.pw_wamr_release, 0)

    @property
    def mode(self) -> str:
        """The execution mode this runtime runs modules in."""
        return self._core.mode

    # -- host functions ------------------------------------------------
    def register_host(self, module_name: str, name: str, func: Callable[..., Any] | NativeFunction,
                      signature: str | None = None, *, pass_instance: bool = False) -> None:
        """Provide ``module_name.name`` to modules loaded from now on.

        ``signature`` is WAMR's: ``i`` i32, ``I`` i64, ``f`` f32, ``F`` f64,
        ``*`` a guest pointer (an int), ``*~`` a pointer and length (one
        argument: a writable memoryview of exactly those guest bytes, valid
        during the call only), ``$`` a NUL-terminated string (``str``,
        undecodable bytes as surrogate escapes), ``r`` an externref (any
        Python object, ``None`` for null; one returned is kept alive by the
        calling instance until it is closed), e.g. ``"(ii)i"``.  With
        ``pass_instance`` the calling :class:`Instance` comes first.
        ``func`` may also be a :class:`NativeFunction`.  Registering a name
        again replaces it for later loads; modules already loaded keep theirs.
        """
        self._check_open()
        lib, ffi = self._core.lib, self._core.ffi
        if not isinstance(module_name, str) or not isinstance(name, str):
            raise TypeError("module_name and name must be str")
        if isinstance(func, NativeFunction):
            sig = signature or func.signature
            _host.parse_signature(sig)
            if func.builtin is not None:
                fn, kind = lib.pw_builtin_fn(func.builtin.encode()), lib.PW_HOST_BUILTIN
            else:
                fn, kind = ffi.cast("pw_raw_fn", func.address), lib.PW_HOST_NATIVE
            py_id = 0
        else:
            if not callable(func):
                raise TypeError(f"host function for {module_name}.{name} is not callable")
            if signature is None:
                raise TypeError("signature is required for a Python host function")
            sig = signature
            params, result = _host.parse_signature(sig)
            py_id = _host.new_binding(func, f"{module_name}.{name}", params, result,
                                      pass_instance, ffi)
            self._binding_ids.append(py_id)
            fn, kind = ffi.NULL, lib.PW_HOST_PYTHON
        rc = lib.pw_hosts_set(self._host_table(), module_name.encode(), name.encode(), sig.encode(),
                              kind, fn, py_id)
        if rc != lib.PW_OK:
            raise ValueError(f"cannot register {module_name}.{name} with signature {sig!r}")
        self._host_specs[(module_name, name)] = sig

    def register_hosts(self, module_name: str, functions: Mapping[str, HostSpec]) -> None:
        """Register several functions of one import module at once.

        ``functions`` maps names to ``(callable, signature)`` pairs or
        :class:`NativeFunction` objects.
        """
        for name, spec in functions.items():
            if isinstance(spec, NativeFunction):
                self.register_host(module_name, name, spec)
            else:
                func, signature = spec
                self.register_host(module_name, name, func, signature)

    def host(self, module_name: str, name: str, signature: str, *,
             pass_instance: bool = False) -> Callable[[F], F]:
        """Decorator form of :meth:`register_host`."""

        def register(func: F) -> F:
            self.register_host(module_name, name, func, signature, pass_instance=pass_instance)
            return func

        return register

    @property
    def hosts(self) -> dict[tuple[str, str], str]:
        """Registered host functions: ``(module, name) -> signature``."""
        return dict(self._host_specs)

    # -- modules -------------------------------------------------------
    def register_instance(self, module_name: str, instance: Instance) -> None:
        """Make ``instance``'s exports importable as ``module_name.<export name>``
        by modules loaded from now on (a linker, like the spec suite's
        ``register``).

        Functions are linked through host functions that call ``instance``
        (signatures of at most one result of i32, i64, f32, f64 or externref
        values); immutable globals with their value.  Mutable globals, tables,
        memories and other functions cannot be shared between instances in
        WAMR 1.1.2: a module importing one fails to load with
        :class:`LinkError` saying why.  ``instance`` must stay open while
        importers call it (a call then raises :class:`ClosedError` in the
        importer's caller); its module must be open while it is registered."""
        self._check_open()
        if not isinstance(module_name, str):
            raise TypeError("module_name must be str")
        if instance.closed:
            raise ClosedError("cannot register a closed instance")
        links = instance_links(instance)
        for name, forward, signature in links.functions:
            self.register_host(module_name, name, forward, signature)
        for name, gtype, value in links.globals:
            self.define_global(module_name, name, value, gtype.content)
        for name, why in links.refused.items():
            self._unlinkable[(module_name, name)] = why

    def define_global(self, module_name: str, name: str, value: Any,
                      content: ValType | str = ValType.I32, *, mutable: bool = False) -> None:
        """Provide the imported global ``module_name.name`` to modules loaded
        from now on: its type (``content``: a :class:`ValType` or its name,
        e.g. ``"i64"``; ``mutable`` must match the import) and value, which
        every instance starts with (each instance has its own copy: a mutable
        host global is not shared).  Reference-typed host globals can only be
        ``None``.  A module importing a global nobody defines fails to load
        with :class:`LinkError`, as one whose import type differs."""
        self._check_open()
        gtype = GlobalType(_value_type(content), bool(mutable))
        data = global_bytes(gtype, value, f"global {module_name}.{name}")
        self._globals[(module_name, name)] = (gtype, data)

    def define_table(self, module_name: str, name: str, element: ValType | str = ValType.FUNCREF,
                     minimum: int = 0, maximum: int | None = None) -> None:
        """Provide the imported table ``module_name.name`` to modules loaded
        from now on: its element type (``"funcref"`` or ``"externref"``) and
        limits.  An import must match it as the spec says (same element
        type, ``minimum`` at least the import's, and when the import has a
        maximum, ``maximum`` no larger), otherwise :class:`LinkError`.  Each
        importing instance gets its own table of exactly this type, all
        elements null (WAMR 1.1.2 cannot share a table between instances)."""
        self._check_open()
        element = _value_type(element)
        if not element.is_reference:
            raise ValueError(f"a table holds funcref or externref, not {element}")
        _check_limits(minimum, maximum, 0xFFFFFFFF, "table")
        self._tables[(module_name, name)] = TableType(element, minimum, maximum)

    def define_memory(self, module_name: str, name: str, minimum: int,
                      maximum: int | None = None) -> None:
        """Provide the imported memory ``module_name.name`` (limits in 64 KiB
        pages) to modules loaded from now on.  An import must match it as
        the spec says (``minimum`` at least the import's; when the import has
        a maximum, ``maximum`` no larger), otherwise :class:`LinkError`.
        Each importing instance gets its own zeroed memory of exactly this
        type (WAMR 1.1.2 cannot share a memory between instances)."""
        self._check_open()
        _check_limits(minimum, maximum, _limits.MAX_PAGES, "memory")
        self._memories[(module_name, name)] = MemoryType(minimum, maximum)

    def load(self, source: Source, *, allow_unresolved: bool = False,
             max_memory_pages: int | None = None) -> Module:
        """Load a ``.wasm`` module or a pywamr AOT container from bytes or a file path.

        Containers (:func:`pywamr.compile_aot`) are integrity-checked first;
        raw WAMR AOT files are refused with :class:`LoadError`.  In mode
        ``"aot"``, wasm is compiled (once, then cached on disk) and loaded as AOT.

        Every function import must be provided by a host function registered
        on this runtime or by WAMR's libc-builtin, otherwise :class:`LinkError`
        names it; with ``allow_unresolved`` the load succeeds and calling the
        missing import traps.  Table and memory imports are linked to
        :meth:`define_table` and :meth:`define_memory` (checked as the spec
        says; :class:`LinkError` when nothing matches, unless
        ``allow_unresolved``: the module then gets its own, made from the
        import's limits).  AOT containers are not checked: WAMR's AOT
        format compiles an imported memory or table in as the module's own.
        ``max_memory_pages`` caps every linear memory of a ``.wasm`` module
        at that many 64 KiB pages (``memory.grow`` past it returns -1; the
        app heap comes on top); see :mod:`pywamr._limits`.
        """
        self._check_open()
        try:
            return self._load(read_source(source), allow_unresolved, max_memory_pages)
        except LinkError as exc:
            raise self._why_unlinkable(exc) from None

    def _load(self, data: bytes | bytearray | memoryview, allow_unresolved: bool,
              max_memory_pages: int | None) -> Module:
        exports = None
        if bytes(data[:4]) == b"\0asm":
            data, exports = self._link(data, allow_unresolved)
        if max_memory_pages is not None:  # reliability: memory cap (see _limits)
            data = _limits.cap_memory_pages(data, max_memory_pages)
        # AOT (see _aot.py): containers verified, raw AOT refused, wasm compiled in mode "aot".
        data = _aot.prepare(data, self._core)
        module = Module._load(self, data, allow_unresolved)
        module._export_section = exports
        return module

    def _why_unlinkable(self, exc: LinkError) -> LinkError:
        """``exc``, told why when the unresolved import is a registered
        instance's export that cannot be linked (:meth:`register_instance`)."""
        for (module_name, name), why in self._unlinkable.items():
            if f"unresolved import {module_name}.{name} " in str(exc):
                return LinkError(f"{exc} ({module_name}.{name} is an export of a registered "
                                 f"instance: {why})")
        return exc

    def _link(self, data: bytes | bytearray | memoryview,
              allow_unresolved: bool) -> tuple[bytes | bytearray | memoryview, bytes | None]:
        """What WAMR 1.1.2 does not link right: table and memory imports
        (:mod:`pywamr._linking`) and names with NUL bytes (:mod:`pywamr._names`).
        Returns the bytes to load and, when an export name has a NUL, the
        export section.  A C scan decides whether Python needs to look."""
        lib, ffi = self._core.lib, self._core.ffi
        view = memoryview(data).cast("B")
        tables_memories, nul_import, nul_export = (ffi.new("uint32_t *"), ffi.new("int *"),
                                                   ffi.new("int *"))
        if lib.pw_wasm_scan(ffi.from_buffer(view), view.nbytes, tables_memories, nul_import,
                            nul_export) != 0:
            return data, None  # WAMR's loader judges bytes the scan cannot read
        exports = _names.export_section(bytes(data)) if nul_export[0] else None
        if tables_memories[0] or nul_import[0]:
            try:
                data = _linking.link_tables_and_memories(
                    bytes(data), self._tables, self._memories, self._host_specs, self._globals,
                    allow_unresolved)
            except LinkError:
                self._raise_if_invalid(bytes(data))  # validity is judged before linking
                raise
        return data, exports

    def _raise_if_invalid(self, data: bytes) -> None:
        """Raise WAMR's :class:`LoadError` if ``data`` does not load even unlinked."""
        try:
            module = Module._load(self, _aot.prepare(data, self._core), True)
        except LinkError:
            return
        except LoadError as exc:
            raise LoadError(str(exc)) from None
        module.close()

    # -- lifetime ------------------------------------------------------
    def close(self) -> None:
        """Release this runtime.  Modules and instances made from it keep
        working until they are closed; new loads raise :class:`ClosedError`."""
        if self._closed:
            return
        self._closed = True
        self._wamr_ref.detach()
        self._hosts = None
        self._core.lib.pw_wamr_release(int(self._destroy_on_close))

    @property
    def closed(self) -> bool:
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedError("the runtime is closed")

    def _host_table(self) -> CData:
        """The native host table (loads link against it); ClosedError once closed."""
        if self._hosts is None:
            raise ClosedError("the runtime is closed")
        return self._hosts

    def __enter__(self) -> Runtime:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<pywamr.Runtime mode={self.mode!r} {state}>"


def _value_type(content: ValType | str) -> ValType:
    """A :class:`ValType` from itself or its name (``"i64"``, ``"funcref"``)."""
    if isinstance(content, ValType):
        return content
    by_name = {str(t): t for t in ValType}
    if content not in by_name:
        raise ValueError(f"unknown value type {content!r}; one of {', '.join(by_name)}")
    return by_name[content]


def _check_limits(minimum: int, maximum: int | None, ceiling: int, what: str) -> None:
    for value in (minimum, maximum) if maximum is not None else (minimum,):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{what} limits must be int, not {type(value).__name__}")
        if not 0 <= value <= ceiling:
            raise ValueError(f"{what} limits must be between 0 and {ceiling}, got {value}")
    if maximum is not None and maximum < minimum:
        raise ValueError(f"{what} maximum {maximum} is below its minimum {minimum}")
