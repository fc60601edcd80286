"""Run one wast2json command list in one mode, in this process.

Every command becomes one JSON line (``{"line", "kind", "status", "cause",
"detail"}``) written and flushed as soon as it is known, so the parent still
has everything up to a crash.  ``status`` is ``pass``, ``fail`` or ``skip``
(not runnable by a binary engine: text-format modules).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pywamr

from .externtypes import exported_tables_and_memories
from .values import (
    Unsupported,
    Value,
    exact_float,
    is_signalling_nan,
    matches,
    quieted_f32_nan,
    show,
    to_argument,
)

CALL_TIMEOUT = 20.0          # seconds per invocation (a hang is a failure, not a stuck run)
STACK_SIZE = 1 << 20         # the wasm stack: deep but finite recursion must fit
SPECTEST_FUNCS = {           # the spectest module's functions: (signature)
    "print": "()", "print_i32": "(i)", "print_i64": "(I)", "print_f32": "(f)",
    "print_f64": "(F)", "print_i32_f32": "(if)", "print_f64_f64": "(FF)",
}


class Failure(Exception):
    """An assertion failed: ``cause`` groups it, ``detail`` says what happened."""

    def __init__(self, cause: str, detail: str = "") -> None:
        super().__init__(cause)
        self.cause, self.detail = cause, detail


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Script:
    """The state of one ``.wast`` file: a runtime, named instances, the current one."""

    def __init__(self, mode: str, directory: Path) -> None:
        self.mode, self.directory = mode, directory
        self.note = ""
        self.runtime = pywamr.Runtime(mode)
        self.instances: dict[str, pywamr.Instance | None] = {}
        self.current: pywamr.Instance | None = None
        self.current_error = "no module defined yet"
        self.keep: list[Any] = []            # modules stay open while their instances live
        self.sources: dict[int, bytes] = {}  # id(instance) -> its module's bytes
        # registered tables/memories: (module, name, kind, element, maximum, instance)
        self.copied: list[tuple[str, str, str, str | None, int | None, pywamr.Instance]] = []
        for name, sig in SPECTEST_FUNCS.items():
            self.runtime.register_host("spectest", name, _ignore, sig)
        define_global = getattr(self.runtime, "define_global", None)
        if define_global is not None:   # host-defined globals (when pywamr has them)
            types = pywamr.ValType
            for name, value, vtype in (("global_i32", 666, types.I32),
                                       ("global_i64", 666, types.I64),
                                       ("global_f32", 666.6, types.F32),
                                       ("global_f64", 666.6, types.F64)):
                define_global("spectest", name, value, vtype)
        if hasattr(self.runtime, "define_table"):  # host tables/memories (when pywamr has them)
            self.runtime.define_table("spectest", "table", "funcref", 10, 20)
            self.runtime.define_memory("spectest", "memory", 1, 2)

    # -- modules -------------------------------------------------------
    def _module_bytes(self, command: dict[str, Any]) -> bytes:
        return (self.directory / command["filename"]).read_bytes()

    def _load(self, data: bytes) -> pywamr.Module:
        """Load, with registered tables and memories defined at their current size
        (the type an import is matched against, as the spec's registry does)."""
        for as_name, name, kind, element, maximum, inst in self.copied:
            found = inst.exports[name]
            if kind == "table":
                self.runtime.define_table(as_name, name, element or "funcref", len(found), maximum)
            else:
                self.runtime.define_memory(as_name, name, found.size // 65536, maximum)
        return self.runtime.load(data)

    def _instantiate(self, data: bytes) -> pywamr.Instance:
        module = self._load(data)
        self.keep.append(module)
        inst = module.instantiate(stack_size=STACK_SIZE, heap_size=0)
        self.sources[id(inst)] = data
        return inst

    def _instance(self, name: str | None) -> pywamr.Instance:
        if name is None:
            if self.current is None:
                raise Failure("module unavailable", self.current_error)
            return self.current
        found = self.instances.get(name)
        if found is None:
            raise Failure("module unavailable", f"module {name} did not instantiate")
        return found

    def module(self, command: dict[str, Any]) -> None:
        self.current = None
        name = command.get("name")
        if name is not None:
            self.instances[name] = None
        try:
            inst = self._instantiate(self._module_bytes(command))
        except pywamr.WamrError as exc:
            self.current_error = f"the module at line {command['line']} failed: {_error_text(exc)}"
            cause = "valid module refused" if isinstance(exc, pywamr.LoadError) else \
                "valid module failed to instantiate"
            if isinstance(exc, pywamr.LinkError):
                cause = "import not linked"
            raise Failure(cause, _error_text(exc)) from None
        self.current = inst
        if name is not None:
            self.instances[name] = inst

    def register(self, command: dict[str, Any]) -> None:
        """Make an instance's exported functions importable as module ``as``.

        Functions are linked through host functions that call the exporting
        instance (pywamr has no module linker yet); other export kinds cannot
        be linked and imports of them fail at load.
        """
        inst = self._instance(command.get("name"))
        as_name = command["as"]
        register = getattr(self.runtime, "register", None)
        if register is not None:        # pywamr's own linking (when it has it)
            register(as_name, inst)
            return
        missing = []
        define_global = getattr(self.runtime, "define_global", None)
        declared = exported_tables_and_memories(self.sources.get(id(inst), b""))
        for export in inst.module.exports:
            if export.name in declared and hasattr(self.runtime, "define_table"):
                # Its type (current size, declared maximum) is defined, so imports are
                # checked against it; each importer gets its own copy, not this one.
                kind, element, maximum = declared[export.name]
                self.copied.append((as_name, export.name, kind, element, maximum, inst))
                missing.append(f"{kind} {export.name!r} (defined as a copy, not shared)")
                continue
            if export.kind == pywamr.ExternKind.GLOBAL and define_global is not None:
                # A copy of the value: right for immutable globals (a mutable one is not shared).
                glob = inst.exports[export.name]
                try:
                    define_global(as_name, export.name, glob.value, glob.type.content,
                                  mutable=glob.type.mutable)
                except (TypeError, ValueError) as exc:   # e.g. a non-null reference value
                    missing.append(f"global {export.name!r} ({exc})")
                continue
            if export.kind != pywamr.ExternKind.FUNC or export.type is None:
                missing.append(f"{export.kind} {export.name!r}")
                continue
            if len(export.type.results) > 1:
                missing.append(f"multi-value function {export.name!r}")
                continue
            func = inst.exports[export.name]
            self.runtime.register_host(as_name, export.name, _forwarder(func),
                                       export.type.signature)
        if missing:
            raise Failure("link: tables and memories cannot be shared between instances",
                          ", ".join(missing))

    # -- actions -------------------------------------------------------
    def action(self, action: dict[str, Any]) -> Any:
        inst = self._instance(action.get("module"))
        field = action["field"]
        if action["type"] == "get":
            return _get_global(inst, field)
        args = [Value.parse(a) for a in action.get("args", [])]
        try:
            func = inst.exports[field]
        except KeyError:
            raise Failure("export not found", f"no exported function {field!r}") from None
        ftype = getattr(func, "type", None)
        floats = (pywamr.ValType.F32, pywamr.ValType.F64)
        if hasattr(func, "call_bits") and ftype is not None and any(
                t in floats for t in ftype.params + ftype.results):
            # exact f32/f64 bits both ways (a Python float quiets an f32 signalling NaN)
            result = func.call_bits(*[int(a.raw) if a.type in ("f32", "f64") else to_argument(a)
                                      for a in args], timeout=CALL_TIMEOUT)
            results = list(result) if isinstance(result, tuple) else [result]
            results = [exact_float(str(t), r) if t in floats else r
                       for t, r in zip(ftype.results, results)]
            return tuple(results) if len(results) > 1 else (results[0] if results else None)
        python_args = [to_argument(a) for a in args]
        return func.call(*python_args, timeout=CALL_TIMEOUT)

    def assert_return(self, command: dict[str, Any]) -> None:
        expected = [Value.parse(v) for v in command["expected"]]
        args = [Value.parse(a) for a in command["action"].get("args", [])]
        try:
            result = self.action(command["action"])
        except pywamr.Trap as exc:
            raise Failure("unexpected trap", _error_text(exc)) from None
        results = _as_tuple(result, len(expected))
        if len(results) != len(expected):
            raise Failure("wrong result count", f"expected {len(expected)}, got {result!r}")
        for want, got in zip(expected, results):
            if not matches(want, got):
                if quieted_f32_nan(want, got) or any(
                        a.type == "f32" and str(a.raw).isdigit()
                        and is_signalling_nan("f32", int(a.raw)) for a in args):
                    raise Failure("api: f32 signalling NaN quieted by a Python float",
                                  f"expected {want}, got {show(want.type, got)}")
                raise Failure("wrong result", f"expected {want}, got {show(want.type, got)}")

    def assert_trap(self, command: dict[str, Any]) -> None:
        try:
            result = self.action(command["action"])
        except pywamr.Trap as exc:
            self.trap_message(command.get("text", ""), exc)
            return
        raise Failure("no trap", f"expected trap {command.get('text')!r}, returned {result!r}")

    def trap_message(self, text: str, exc: pywamr.Trap) -> None:
        """Record (not fail on) a trap whose message differs from the spec's."""
        if text not in str(exc):
            self.note = f"trap message {str(exc)!r} for {text!r}"

    def assert_exhaustion(self, command: dict[str, Any]) -> None:
        try:
            result = self.action(command["action"])
        except pywamr.Trap as exc:
            if "overflow" not in str(exc) and "exhaust" not in str(exc):
                raise Failure("wrong trap", f"expected {command.get('text')!r}, "
                              f"got {_error_text(exc)}") from None
            return
        raise Failure("no trap", f"expected exhaustion, returned {result!r}")

    def assert_rejected(self, command: dict[str, Any], cause: str) -> None:
        """assert_malformed / assert_invalid: loading must fail."""
        try:
            module = self._load(self._module_bytes(command))
        except pywamr.LinkError as exc:
            raise Failure(cause, f"refused for linking instead: {_error_text(exc)} "
                          f"(expected {command.get('text')!r})") from None
        except pywamr.LoadError:
            return
        module.close()
        raise Failure(cause, f"loaded; expected {command.get('text')!r}")

    def assert_unlinkable(self, command: dict[str, Any]) -> None:
        try:
            inst = self._instantiate(self._module_bytes(command))
        except (pywamr.LoadError, pywamr.InstantiationError):
            return
        inst.close()
        raise Failure("incompatible import accepted", f"instantiated; expected "
                      f"{command.get('text')!r}")

    def assert_uninstantiable(self, command: dict[str, Any]) -> None:
        try:
            inst = self._instantiate(self._module_bytes(command))
        except pywamr.InstantiationError:
            return
        except pywamr.LoadError as exc:
            raise Failure("valid module refused", _error_text(exc)) from None
        inst.close()
        raise Failure("instantiation did not trap", f"expected {command.get('text')!r}")

    # -- dispatch --------------------------------------------------------
    def run(self, command: dict[str, Any]) -> dict[str, Any]:
        kind = command["type"]
        record: dict[str, Any] = {"line": command.get("line"), "kind": kind, "status": "pass"}
        self.note = ""
        if command.get("module_type") == "text":
            record.update(status="skip", cause="text format (not runnable by a binary engine)")
            return record
        try:
            if kind == "module":
                self.module(command)
            elif kind == "register":
                self.register(command)
            elif kind == "action":
                try:
                    self.action(command["action"])
                except pywamr.Trap as exc:
                    raise Failure("unexpected trap", _error_text(exc)) from None
            elif kind == "assert_return":
                self.assert_return(command)
            elif kind == "assert_trap":
                self.assert_trap(command)
            elif kind == "assert_exhaustion":
                self.assert_exhaustion(command)
            elif kind == "assert_malformed":
                self.assert_rejected(command, "malformed module accepted")
            elif kind == "assert_invalid":
                self.assert_rejected(command, "invalid module accepted")
            elif kind == "assert_unlinkable":
                self.assert_unlinkable(command)
            elif kind in ("assert_uninstantiable", "assert_trap_module"):
                self.assert_uninstantiable(command)
            else:
                raise Failure("unknown command", kind)
        except Failure as exc:
            record.update(status="fail", cause=exc.cause, detail=exc.detail)
        except Unsupported as exc:
            record.update(status="fail", cause=str(exc))
        except (pywamr.WamrError, TypeError, ValueError) as exc:
            cause = f"error: {type(exc).__name__}"
            if "is not a valid ValType" in str(exc):
                cause = "api: a signature with v128 or reference types raises ValueError"
            record.update(status="fail", cause=cause, detail=_error_text(exc))
        if self.note:
            record["note"] = self.note
        return record


def _ignore(*args: Any) -> None:
    """spectest.print*: the suite only needs them to exist."""


def _forwarder(func: pywamr.Function) -> Any:
    def forward(*args: Any) -> Any:
        return func(*args)
    return forward


def _get_global(inst: pywamr.Instance, field: str) -> Any:
    """Read exported global ``field``: needs a global export API."""
    kinds = {e.name: e.kind for e in inst.module.exports}
    if kinds.get(field) != pywamr.ExternKind.GLOBAL:
        raise Failure("export not found", f"no exported global {field!r}")
    try:
        found = inst.exports[field]
    except KeyError:
        raise Unsupported("api: no global export API") from None
    if not hasattr(found, "value"):
        raise Unsupported("api: no global export API")
    return found.value


def _as_tuple(result: Any, n: int) -> tuple[Any, ...]:
    if n == 0:
        return () if result is None else (result,)
    if n == 1:
        return (result,)
    return tuple(result) if isinstance(result, tuple) else (result,)


def main(argv: list[str]) -> int:
    """``script.py MODE JSON_FILE OUT_FILE``: run one file, results as JSON lines."""
    mode, json_path, out_path = argv[0], Path(argv[1]), Path(argv[2])
    commands = json.loads(json_path.read_text())["commands"]
    with open(out_path, "w", buffering=1) as out:
        script = Script(mode, json_path.parent)
        for command in commands:
            out.write(json.dumps({"start": command.get("line")}) + "\n")
            out.write(json.dumps(script.run(command)) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
