"""WasiCommand: one WASI program run many times under a runtime-reuse policy.

WASI state -- the fd table with its preopens, argv, the environment, the exit
status -- lives in WAMR's WASI context inside the instance.  Only a new
instance resets it: the snapshot restore behind Teaclave's ``reuse-instance``
policy (``reset.c``) restores memory, globals and tables, not that context.
So ``cold``, ``reuse-runtime`` and ``reuse-module`` are offered (each run gets
a fresh instance with its own :class:`~pywamr.WasiConfig`), and
``reuse-instance`` is refused when the command is made.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from ._errors import WamrError
from ._lib import DEFAULT_MODE
from ._linking import memory_imports
from ._module import DEFAULT_HEAP_SIZE, DEFAULT_STACK_SIZE, Module
from ._runtime import Runtime
from ._wasi import WasiConfig

WASI_POLICIES = ("cold", "reuse-runtime", "reuse-module")
_REFUSED = {
    "reuse-instance": "the reuse-instance policy cannot reset WASI state (open files, the "
                      "preopen table, argv and environment live in the instance's WASI "
                      "context, which a snapshot restore does not cover): use reuse-module, "
                      "which keeps the loaded module and makes a fresh instance per run",
}


def load_program(runtime: Runtime, program: bytes, max_memory_pages: int | None) -> Module:
    """Load a WASI program; as iwasm does, one linked with ``--import-memory``
    gets its own memory, made from the import's limits."""
    for module_name, name, minimum, maximum in memory_imports(program):
        try:
            runtime.define_memory(module_name, name, minimum, maximum)
        except ValueError:
            pass  # limits no memory can have: the load refuses the module
    return runtime.load(program, max_memory_pages=max_memory_pages)


class WasiCommand:
    """Run a WASI command (``_start``) once per :meth:`run`, each with its own config.

    ``policy``: ``"cold"`` initialises WAMR, loads and instantiates every run
    (it needs the mode's core to itself, as Teaclave's cold policy);
    ``"reuse-runtime"`` keeps the runtime; ``"reuse-module"`` (default) keeps
    the loaded module.  ``"reuse-instance"`` is refused with ``ValueError``.
    """

    def __init__(self, program: bytes | str | os.PathLike[str], *, mode: str = DEFAULT_MODE,
                 policy: str = "reuse-module", stack_size: int = DEFAULT_STACK_SIZE,
                 heap_size: int = DEFAULT_HEAP_SIZE, timeout: float | None = None,
                 max_memory_pages: int | None = None) -> None:
        if policy in _REFUSED:
            raise ValueError(_REFUSED[policy])
        if policy not in WASI_POLICIES:
            raise ValueError(f"unknown policy {policy!r}; choose one of: "
                             f"{', '.join(WASI_POLICIES)}")
        if isinstance(program, (str, os.PathLike)):
            with open(program, "rb") as handle:
                program = handle.read()
        self._bytes = bytes(program)
        self.mode, self.policy = mode, policy
        self.stack_size, self.heap_size, self.timeout = stack_size, heap_size, timeout
        self.max_memory_pages = max_memory_pages
        self._lock = threading.Lock()
        self._runtime: Runtime | None = None
        self._module: Module | None = None
        if policy != "cold":
            self._runtime = Runtime(mode)
            if policy == "reuse-module":
                self._module = self._load(self._runtime)

    def _load(self, runtime: Runtime) -> Module:
        return load_program(runtime, self._bytes, self.max_memory_pages)

    def run(self, config: WasiConfig) -> int:
        """Run the command with ``config``; its exit code (see :meth:`Instance.run`)."""
        with self._lock:
            if self.policy == "cold":
                runtime = Runtime._fresh(self.mode)
                try:
                    return self._run_in(self._load(runtime), config, close_module=True)
                finally:
                    runtime.close()
            if self._runtime is None:
                raise WamrError("the command is closed")
            if self._module is not None:
                return self._run_in(self._module, config, close_module=False)
            return self._run_in(self._load(self._runtime), config, close_module=True)

    def _run_in(self, module: Module, config: WasiConfig, close_module: bool) -> int:
        try:
            with module.instantiate(self.stack_size, self.heap_size, wasi=config) as instance:
                return instance.run(timeout=self.timeout)
        finally:
            if close_module:
                module.close()

    def close(self) -> None:
        """Release the kept module and runtime (idempotent)."""
        with self._lock:
            if self._module is not None:
                self._module.close()
                self._module = None
            if self._runtime is not None:
                self._runtime.close()
                self._runtime = None

    def __enter__(self) -> WasiCommand:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
