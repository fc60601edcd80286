"""Module: a loaded .wasm or AOT image, ready to instantiate."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING, Any

from ._errors import ClosedError, LoadError
from ._externs import link_globals
from ._instance import Instance
from ._lib import ERR_BUF, Core, raise_status
from ._types import ExportType, ExternKind, FuncType, ImportType
from ._wasi import WasiConfig, imports_wasi

if TYPE_CHECKING:
    from ._native_fast import CData
    from ._runtime import Runtime
    from ._wasi import WasiConfig

DEFAULT_STACK_SIZE = 160 * 1024
DEFAULT_HEAP_SIZE = 64 * 1024
_SIG_BUF = 256
_PROVIDERS = {0: None, 1: "host", 2: "builtin"}


class Module:
    """A module loaded into a :class:`Runtime`; use :meth:`Runtime.load`."""

    _c: CData
    _runtime: Runtime
    _core: Core
    _release: weakref.finalize[..., Any]
    _exports: tuple[ExportType, ...] | None
    _imports: tuple[ImportType, ...] | None
    _imports_wasi: bool | None

    @classmethod
    def _load(cls, runtime: Runtime, data: bytes | bytearray | memoryview,
              allow_unresolved: bool) -> Module:
        lib, ffi = runtime._core.lib, runtime._core.ffi
        view = memoryview(data).cast("B")
        if view.nbytes >= 1 << 32:
            raise LoadError("module is larger than 4 GiB")
        out = ffi.new("pw_module **")
        err = ffi.new("char[]", ERR_BUF)
        rc = lib.pw_module_load(runtime._host_table(), ffi.from_buffer(view), view.nbytes,
                                int(allow_unresolved), out, err, ERR_BUF)
        if rc != lib.PW_OK:
            raise_status(runtime._core, rc, err)
        self = cls.__new__(cls)
        self._runtime = runtime
        self._core = runtime._core
        self._c = out[0]
        self._release = weakref.finalize(self, lib.pw_module_release, self._c)
        self._exports = None
        self._imports = None
        self._imports_wasi = None
        try:
            link_globals(self._core, self._c, self.imports, runtime._globals, allow_unresolved)
        except BaseException:
            self.close()
            raise
        return self

    @property
    def runtime(self) -> Runtime:
        return self._runtime

    @property
    def is_aot(self) -> bool:
        """Whether this is an AOT-compiled module rather than bytecode."""
        self._check_open()
        return bool(self._core.lib.pw_module_is_aot(self._c))

    @property
    def kind(self) -> str:
        """``"aot"`` or ``"wasm"``."""
        return "aot" if self.is_aot else "wasm"

    @property
    def exports(self) -> tuple[ExportType, ...]:
        """Every export, in module order, with function types."""
        self._check_open()
        if self._exports is None:
            lib, ffi = self._core.lib, self._core.ffi
            name, kind = ffi.new("char **"), ffi.new("int *")
            sig = ffi.new("char[]", _SIG_BUF)
            found = []
            for i in range(lib.pw_module_export_count(self._c)):
                lib.pw_module_export(self._c, i, name, kind, sig, _SIG_BUF)
                ekind = ExternKind(kind[0])
                ftype = (FuncType.parse(ffi.string(sig).decode()) if ekind is ExternKind.FUNC
                         else None)
                found.append(ExportType(ffi.string(name[0]).decode(errors="replace"), ekind, ftype))
            self._exports = tuple(found)
        return self._exports

    @property
    def imports(self) -> tuple[ImportType, ...]:
        """Every import, in module order, and who provides each function."""
        self._check_open()
        if self._imports is None:  # fixed at load: the links are made then
            self._imports = self._read_imports()
        return self._imports

    def _read_imports(self) -> tuple[ImportType, ...]:
        lib, ffi = self._core.lib, self._core.ffi
        mod, name, kind, linked = (ffi.new("char **"), ffi.new("char **"), ffi.new("int *"),
                                   ffi.new("int *"))
        sig = ffi.new("char[]", _SIG_BUF)
        found = []
        for i in range(lib.pw_module_import_count(self._c)):
            lib.pw_module_import(self._c, i, mod, name, kind, sig, _SIG_BUF, linked)
            ikind = ExternKind(kind[0])
            is_func = ikind is ExternKind.FUNC
            found.append(ImportType(
                ffi.string(mod[0]).decode(errors="replace"),
                ffi.string(name[0]).decode(errors="replace"),
                ikind,
                FuncType.parse(ffi.string(sig).decode()) if is_func else None,
                _PROVIDERS[linked[0]] if is_func else None,
            ))
        return tuple(found)

    def instantiate(self, stack_size: int = DEFAULT_STACK_SIZE,
                    heap_size: int = DEFAULT_HEAP_SIZE, *,
                    wasi: WasiConfig | None = None) -> Instance:
        """Create an instance.

        ``stack_size`` is the wasm operand/call stack in bytes (default
        160 KiB, as Teaclave); ``heap_size`` the app heap WAMR appends to the
        linear memory for ``malloc``-style allocation from the host (default
        64 KiB; Teaclave uses 20 MiB).  ``wasi`` configures a WASI guest
        (a module importing WASI without one gets an empty
        :class:`WasiConfig`: no arguments, files or output).  Failures raise
        :class:`InstantiationError`.
        """
        if wasi is None:
            if self._imports_wasi is None:
                self._imports_wasi = imports_wasi(self)
            if self._imports_wasi:
                wasi = WasiConfig()

        self._check_open()
        for label, value in (("stack_size", stack_size), ("heap_size", heap_size)):
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{label} must be int")
            if not 0 <= value < 1 << 31:
                raise ValueError(f"{label} out of range: {value}")
        return Instance._create(self, stack_size, heap_size, wasi)

    def close(self) -> None:
        """Release this handle; instances made from it keep working."""
        self._release()

    @property
    def closed(self) -> bool:
        return not self._release.alive

    def _check_open(self) -> None:
        if not self._release.alive:
            raise ClosedError("the module is closed")

    def __enter__(self) -> Module:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "closed" if self.closed else self.kind
        return f"<pywamr.Module {state} mode={self._core.mode!r}>"
