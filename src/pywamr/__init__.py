"""pywamr: run WebAssembly on the WebAssembly Micro Runtime (WAMR) from Python."""

from ._aot import available as aot_available
from ._aot import compile_aot  # AOT: see _aot.py
from ._errors import (
    AotUnavailableError,
    ClosedError,
    ExportNotFound,
    InstanceBusy,
    InstantiationError,
    LinkError,
    LoadError,
    Timeout,
    Trap,
    WamrError,
    WorkerCrashed,
)
from ._externs import Global, RefFunction, Table
from ._function import Function
from ._host import NativeFunction
from ._instance import Exports, Instance
from ._lib import MODES
from ._memory import Memory
from ._module import DEFAULT_HEAP_SIZE, DEFAULT_STACK_SIZE, Module
from ._runtime import Runtime
from ._types import (
    ExportType,
    ExternKind,
    FuncType,
    GlobalType,
    ImportType,
    MemoryType,
    TableType,
    ValType,
)
from ._version import WAMR_VERSION as WAMR_VERSION
from ._version import __version__ as __version__
from ._wasi import Stdio, WasiConfig, WasiExit, WasiState  # WASI: see _wasi.py
from ._wasi_command import WASI_POLICIES, WasiCommand

__all__ = [
    "DEFAULT_HEAP_SIZE",
    "DEFAULT_STACK_SIZE",
    "MODES",
    "WAMR_VERSION",
    "WASI_POLICIES",
    "AotUnavailableError",
    "ClosedError",
    "ExportNotFound",
    "ExportType",
    "Exports",
    "ExternKind",
    "FuncType",
    "Function",
    "Global",
    "GlobalType",
    "ImportType",
    "Instance",
    "InstanceBusy",
    "InstantiationError",
    "LinkError",
    "LoadError",
    "Memory",
    "MemoryType",
    "Module",
    "NativeFunction",
    "RefFunction",
    "Runtime",
    "Stdio",
    "Table",
    "TableType",
    "Timeout",
    "Trap",
    "ValType",
    "WamrError",
    "WasiCommand",
    "WasiConfig",
    "WasiExit",
    "WasiState",
    "WorkerCrashed",
    "aot_available",
    "compile_aot",
]
