"""Run Apache Teaclave WAMR payloads: the entrypoint convention and file API.

A payload exports ``int entrypoint(int argc, char *argv[])``; arguments
arrive as sorted key/value C strings in the instance's app heap, and files
are reached only through the five ``teaclave_*`` functions in module
``env`` (see ``examples/payloads/include/teaclave_file.h``).
"""

from ._arguments import flatten
from ._executor import (
    CACHE_BYTES,
    CACHE_ENTRIES,
    DEFAULT_POLICY,
    POLICIES,
    TEACLAVE_HEAP_SIZE,
    TEACLAVE_STACK_SIZE,
    EntrypointError,
    Executor,
    check_entrypoint,
    clear_cache,
    invoke,
    run,
)
from ._file_formats import FORMATS, ProtectedFile
from ._isolated import IsolatedExecutor
from ._protected_fs import ProtectedFileError
from ._result import RunResult

__all__ = [
    "CACHE_BYTES",
    "CACHE_ENTRIES",
    "DEFAULT_POLICY",
    "FORMATS",
    "POLICIES",
    "TEACLAVE_HEAP_SIZE",
    "TEACLAVE_STACK_SIZE",
    "EntrypointError",
    "Executor",
    "IsolatedExecutor",
    "ProtectedFile",
    "ProtectedFileError",
    "RunResult",
    "check_entrypoint",
    "clear_cache",
    "flatten",
    "invoke",
    "run",
]
