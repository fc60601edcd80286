"""One module in one engine: wasmtime-py (the reference) or pywamr (a mode)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .outcome import HANG_RESET, LOG_SIGNATURES, NUMERIC, Call, Outcome, trap_category
from .wasmtypes import function_exports, global_imports

CALL_TIMEOUT = 10.0          # seconds per export call in pywamr
# Set by the campaign when PYWAMR_CACHE_DIR is its own temporary directory: workers then
# delete their AOT cache entries (each fuzzed module is compiled once, never reused).
TIDY_CACHE_ENV = "DIFFFUZZ_TIDY_AOT_CACHE"
LETTERS = {"i32": "i", "i64": "I", "f32": "f", "f64": "F"}
# Newer binaryen's translate-to-fuzz imports globals from this module (an externref, numbers):
# both engines give them zero (null).
FUZZ_GLOBALS = "__fuzz_import"
ZERO: dict[str, object] = {"i32": 0, "i64": 0, "f32": 0.0, "f64": 0.0, "funcref": None,
                           "externref": None}


@dataclass(frozen=True)
class Export:
    """A function export the harness calls, with its wasm types."""

    name: str
    params: tuple[str, ...]
    results: tuple[str, ...]

    @property
    def callable(self) -> bool:
        return set(self.params + self.results) <= NUMERIC


class Reference:
    """wasmtime-py: validates the module and gives the expected outcome."""

    def __init__(self) -> None:
        import wasmtime
        self.wasmtime = wasmtime
        config = wasmtime.Config()
        for feature in ("wasm_multi_value", "wasm_bulk_memory", "wasm_reference_types",
                        "wasm_simd"):
            setattr(config, feature, True)
        # Wasm 2.0 and nothing later: newer binaryen may emit later proposals' instructions
        # (e.g. ref.as_non_null of typed function references), which wasmtime would accept.
        for feature in ("wasm_gc", "wasm_function_references", "wasm_tail_call",
                        "wasm_exceptions", "wasm_memory64", "wasm_multi_memory",
                        "wasm_relaxed_simd", "wasm_threads", "wasm_custom_page_sizes",
                        "wasm_wide_arithmetic", "wasm_stack_switching"):
            if feature in dir(type(config)):    # write-only properties: hasattr() is False
                setattr(config, feature, False)
        # Compiling is most of the reference's cost; Cranelift's semantics do not depend on
        # its optimisation level, and one thread per worker is what the fuzzer wants.
        config.cranelift_opt_level = "none"
        config.parallel_compilation = False
        self.engine = wasmtime.Engine(config)
        self._compiled: tuple[bytes, Any] | None = None    # plan() compiles, run() reuses

    def _module(self, wasm: bytes) -> Any:
        if self._compiled is not None and self._compiled[0] == wasm:
            return self._compiled[1]
        module = self.wasmtime.Module(self.engine, wasm)
        self._compiled = (wasm, module)
        return module

    def plan(self, wasm: bytes) -> tuple[list[Export], list[tuple[str, str]], str | None]:
        """The function exports and imports of a module, or why wasmtime refuses it."""
        try:
            module = self._module(wasm)
        except Exception as exc:  # noqa: BLE001 (wasmtime's error for an invalid module)
            return [], [], f"{type(exc).__name__}: {exc}"
        # Types from the binary: wasmtime-py aborts on the kind of a v128 type.
        exports = [Export(name, params, results)
                   for name, params, results in function_exports(wasm)]
        imports = [(imp.module, imp.name or "") for imp in module.imports]
        return exports, imports, None

    def run(self, wasm: bytes, calls: list[tuple[Export, list[object]]]) -> Outcome:
        wasmtime = self.wasmtime
        store = wasmtime.Store(self.engine)
        module = self._module(wasm)
        logs: list[tuple[str, Any]] = []
        externs = []
        for imp in module.imports:
            if imp.module == FUZZ_GLOBALS and isinstance(imp.type, wasmtime.GlobalType):
                content = imp.type.content
                names = {name: getattr(wasmtime.ValType, name)() for name in ZERO}
                kind = next((name for name, t in names.items() if t == content), None)
                if kind is None:
                    return Outcome(refused=f"unsupported import {imp.module}.{imp.name}")
                zero = ZERO[kind]
                value = wasmtime.Val(content, zero) if zero is not None else None
                externs.append(wasmtime.Global(store, imp.type, value))
                continue
            kind = LOG_SIGNATURES.get(imp.name or "")
            if imp.module != "fuzzing-support" or kind is None:
                return Outcome(refused=f"unsupported import {imp.module}.{imp.name}")
            externs.append(wasmtime.Func(store, imp.type, _logger(logs, imp.name or "")))
        try:
            instance = wasmtime.Instance(store, module, externs)
        except wasmtime.Trap as exc:
            return Outcome(refused=f"start trapped: {exc.message}")
        exports = instance.exports(store)
        # Only the memory export is fetched: wasmtime-py aborts the process when it is
        # handed a v128 global.
        memory_name = next((e.name for e in module.exports
                            if isinstance(e.type, wasmtime.MemoryType)), None)
        memory = exports[memory_name] if memory_name is not None else None
        reset = exports[HANG_RESET] if HANG_RESET in _export_names(module) else None
        outcome = Outcome()
        for export, args in calls:
            if reset is not None:
                reset(store)
            logs.clear()
            call = Call(export.name)
            try:
                result = exports[export.name](store, *args)
                call.result = _as_tuple(result, len(export.results))
            except wasmtime.Trap as exc:
                call.trap, call.trap_message = trap_category(exc.message), exc.message
            except wasmtime.WasmtimeError as exc:
                call.trap, call.trap_message = trap_category(str(exc)), str(exc)
            call.logs = list(logs)
            call.memory = bytes(memory.read(store)) if memory is not None else None
            outcome.calls.append(call)
        return outcome


def _export_names(module: Any) -> list[str]:
    return [e.name for e in module.exports]


def _logger(logs: list[tuple[str, Any]], name: str) -> Any:
    def log(value: Any) -> None:
        logs.append((name, value))
    return log


def _as_tuple(result: Any, n: int) -> tuple[Any, ...]:
    if n == 0:
        return ()
    if n == 1:
        return (result,)
    return tuple(result)


class Pywamr:
    """pywamr in one mode; the fuzzing-support imports are Python host functions."""

    def __init__(self, mode: str) -> None:
        import pywamr
        self.pywamr = pywamr
        self.mode = mode
        self.logs: list[tuple[str, Any]] = []
        self.runtime = pywamr.Runtime(mode)
        self.tidy_cache = mode == "aot" and os.environ.get(TIDY_CACHE_ENV) == "1"
        for name, t in LOG_SIGNATURES.items():
            self.runtime.register_host("fuzzing-support", name, _logger(self.logs, name),
                                       f"({LETTERS[t]})")

    def tidy(self) -> None:
        """Delete this worker's AOT cache entries (see ``TIDY_CACHE_ENV``)."""
        if self.tidy_cache:
            for entry in (Path(os.environ["PYWAMR_CACHE_DIR"]) / "aot").glob("*.aot"):
                entry.unlink(missing_ok=True)

    def run(self, wasm: bytes, calls: list[tuple[Export, list[object]]]) -> Outcome:
        pywamr = self.pywamr
        for module_name, name, valtype, mutable in global_imports(wasm):
            if module_name == FUZZ_GLOBALS and valtype in ZERO:
                self.runtime.define_global(module_name, name, ZERO[valtype], valtype,
                                           mutable=mutable)
        try:
            module = self.runtime.load(wasm)
        except pywamr.WamrError as exc:
            return Outcome(refused=f"{type(exc).__name__}: {exc}")
        try:
            try:
                instance = module.instantiate(heap_size=0)
            except pywamr.WamrError as exc:
                return Outcome(refused=f"{type(exc).__name__}: {exc}")
            with instance:
                return self._calls(instance, module, calls)
        finally:
            module.close()

    def _calls(self, instance: Any, module: Any, calls: list[tuple[Export, list[object]]]
               ) -> Outcome:
        pywamr = self.pywamr
        kinds = {e.name: e.kind for e in module.exports}
        has_memory = pywamr.ExternKind.MEMORY in kinds.values()
        exports = instance.exports           # looked up once: each access builds a mapping
        reset = exports[HANG_RESET] if HANG_RESET in kinds else None
        functions: dict[str, Any] = {}
        outcome = Outcome()
        for export, args in calls:
            if reset is not None:
                reset.call(timeout=CALL_TIMEOUT)
            self.logs.clear()
            call = Call(export.name)
            try:
                function = functions.get(export.name)
                if function is None:
                    function = functions[export.name] = exports[export.name]
                result = function.call(*args, timeout=CALL_TIMEOUT)
                call.result = _as_tuple(result, len(export.results))
            except pywamr.Trap as exc:
                call.trap, call.trap_message = trap_category(str(exc)), str(exc)
            except (pywamr.WamrError, TypeError, ValueError) as exc:
                call.trap, call.trap_message = f"api error: {type(exc).__name__}", str(exc)
            call.logs = list(self.logs)
            # A copy through a zero-copy view: Memory.read() of a whole 1 MiB memory costs
            # 50 times more (it allocates and fills fresh pages on every call).
            call.memory = bytes(instance.memory.view()) if has_memory else None
            outcome.calls.append(call)
        return outcome
