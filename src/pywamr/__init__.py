"""pywamr: run WebAssembly on the WebAssembly Micro Runtime (WAMR) from Python."""

from ._aot import AotUnavailableError, compile_aot  # AOT: see _aot.py
from ._aot import available as aot_available
from ._errors import (
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
from ._host import NativeFunction
from ._instance import Exports, Function, Instance
from ._lib import MODES
from ._memory import Memory
from ._module import DEFAULT_HEAP_SIZE, DEFAULT_STACK_SIZE, Module
from ._runtime import Runtime
from ._types import ExportType, ExternKind, FuncType, GlobalType, ImportType, TableType, ValType
from ._wasi import Stdio, WasiConfig, WasiExit, WasiState  # WASI: see _wasi.py
from ._wasi_command import WASI_POLICIES, WasiCommand

__version__ = "0.1.0"
WAMR_VERSION = "1.1.2"

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
