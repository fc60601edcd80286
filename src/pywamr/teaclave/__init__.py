"""Run Apache Teaclave WAMR payloads: the entrypoint convention and file API.

A payload exports ``int entrypoint(int argc, char *argv[])``; arguments
arrive as sorted key/value C strings in the instance's app heap, and files
are reached only through the five ``teaclave_*`` functions in module
``env`` (see ``examples/payloads/include/teaclave_file.h``).

By default (profile ``"teaclave"``) everything a payload can observe is what
Teaclave's own executor gives; profile ``"strict"`` is pywamr's stricter
behaviour.  docs/teaclave-fidelity.md compares the two, behaviour by behaviour.
"""

from ._arguments import flatten
from ._cache import CACHE_BYTES, CACHE_ENTRIES, clear_cache
from ._executor import (
    DEFAULT_POLICY,
    POLICIES,
    TEACLAVE_HEAP_SIZE,
    TEACLAVE_MODE,
    TEACLAVE_STACK_SIZE,
    EntrypointError,
    Executor,
    check_entrypoint,
    invoke,
    run,
)
from ._file_formats import FORMATS, ProtectedFile
from ._isolated import IsolatedExecutor
from ._profile import (
    DEFAULT_PROFILE,
    PROFILE_DEFAULT,
    PROFILES,
    STRICT_MAX_INVOCATION_BYTES,
    STRICT_MAX_OUTPUT_BYTES,
    Profile,
)
from ._protected_fs import ProtectedFileError
from ._result import RunResult, TaskError

__all__ = [
    "CACHE_BYTES",
    "CACHE_ENTRIES",
    "DEFAULT_POLICY",
    "DEFAULT_PROFILE",
    "FORMATS",
    "POLICIES",
    "PROFILES",
    "PROFILE_DEFAULT",
    "STRICT_MAX_INVOCATION_BYTES",
    "STRICT_MAX_OUTPUT_BYTES",
    "TEACLAVE_HEAP_SIZE",
    "TEACLAVE_MODE",
    "TEACLAVE_STACK_SIZE",
    "EntrypointError",
    "Executor",
    "IsolatedExecutor",
    "Profile",
    "ProtectedFile",
    "ProtectedFileError",
    "RunResult",
    "TaskError",
    "check_entrypoint",
    "clear_cache",
    "flatten",
    "invoke",
    "run",
]
