"""Targets: generate an input from an RNG, run it, and check the rules it must keep.

A broken rule raises :class:`Finding`; a crash kills the worker process (see ``driver``).
"""

from __future__ import annotations

import math
import os
import random
import shutil
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from .corpus import ROOT, corpus
from .mutators import mutate

MODES = ["fast-interp", "classic-interp"]
CALL_TIMEOUT = 0.05

INTERESTING_I32 = [0, 1, -1, 2, 7, 8, 16, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
                   0x10000, 65535, 65536, 0x7FFFFFFF, -0x80000000, 0xFFFFFFFF, 0xFFFFFFF0,
                   1 << 24]
INTERESTING_F = [0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 2.0**31, -2.0**31 - 1, 2.0**63,
                 4294967296.0, math.inf, -math.inf, math.nan]


class Finding(Exception):
    """A broken rule: an exception that should not happen, or a broken invariant."""


class Target:
    """Generates inputs from an RNG and runs them; rules broken raise Finding."""

    name = ""

    def generate(self, rng: random.Random) -> dict[str, Any]:
        raise NotImplementedError

    def execute(self, case: dict[str, Any], stats: Counter[str]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _random_args(ftype: Any, rng: random.Random) -> list[Any]:
    from pywamr import ValType

    args: list[Any] = []
    for t in ftype.params:
        if t in (ValType.I32, ValType.I64):
            if rng.random() < 0.7:
                args.append(rng.choice(INTERESTING_I32))
            else:
                bits = 32 if t is ValType.I32 else 64
                args.append(rng.randrange(-(1 << (bits - 1)), 1 << bits))
        else:
            args.append(rng.choice(INTERESTING_F) if rng.random() < 0.7
                        else rng.uniform(-1e6, 1e6))
    if rng.random() < 0.03:  # a wrong count or type now and then: TypeError
        args.append(rng.choice([1, "x", None]))
    return args


def _hosts_for(rt: Any) -> None:
    """Python host functions under the names the corpus imports (most of them)."""
    from pywamr import natives

    rt.register_hosts("env", natives.FILE_API)
    rt.register_hosts("env", {
        "h_add": (lambda a, b: (a + b) & 0xFFFFFFFF, "(ii)i"),
        "h_buf": (lambda view: len(view) + sum(view[:16]), "(*~)i"),
        "h_str": (lambda text: len(text), "($)i"),
        "h_ptr": (lambda p: p, "(*)i"),
        "h_i64": (lambda x: x, "(I)I"),
        "h_f32": (lambda x: x, "(f)f"),
        "h_f64": (lambda x: x * 2, "(F)F"),
        "h_void": (lambda: None, "()"),
        "hook": (lambda n: n % 3, "(i)i"),
    })


class LoadTarget(Target):
    name = "load"

    def __init__(self) -> None:
        self.seeds = corpus()
        self.runtimes: dict[str, Any] = {}

    def generate(self, rng: random.Random) -> dict[str, Any]:
        data = mutate(rng.choice(self.seeds), rng, self.seeds)
        return {
            "wasm": data,
            "mode": rng.choice(MODES),
            "max_memory_pages": rng.choice([1, 2, 4, 17, 18, 20, 32, 64, 64, 256, 256]),
            "allow_unresolved": rng.random() < 0.8,
            "stack_size": rng.choice([1024, 8 * 1024, 64 * 1024, 160 * 1024]),
            "heap_size": rng.choice([0, 0, 4096, 64 * 1024, 1 << 20]),
            "exec_seed": rng.randrange(1 << 30),
        }

    def runtime(self, mode: str) -> Any:
        import pywamr

        if mode not in self.runtimes:
            rt = pywamr.Runtime(mode)
            _hosts_for(rt)
            self.runtimes[mode] = rt
        return self.runtimes[mode]

    def execute(self, case: dict[str, Any], stats: Counter[str]) -> None:
        import pywamr
        from pywamr import _limits

        rng = random.Random(case["exec_seed"])
        rt = self.runtime(case["mode"])
        allowed = (pywamr.WamrError, TypeError, ValueError)
        try:
            data = _limits.cap_memory_pages(case["wasm"], case["max_memory_pages"])
        except pywamr.LoadError:
            stats["cap_refused"] += 1
            data = None
        try:
            # Refused by the rewriter: still fuzz WAMR's loader, but never
            # instantiate without a memory cap.
            module = rt.load(data if data is not None else case["wasm"],
                             allow_unresolved=case["allow_unresolved"])
        except allowed as exc:
            stats[f"load:{type(exc).__name__}"] += 1
            return
        stats["loaded"] += 1
        try:
            exports = module.exports
            module.imports  # noqa: B018 - exercises the bridge
            repr(module)
            if data is None:
                return
            try:
                inst = module.instantiate(case["stack_size"], case["heap_size"])
            except allowed as exc:
                stats[f"instantiate:{type(exc).__name__}"] += 1
                return
            stats["instantiated"] += 1
            try:
                inst.capture_output(True)
                self._calls(inst, exports, rng, stats, allowed)
                self._memory(inst, rng, stats)
            finally:
                inst.close()
        finally:
            module.close()

    @staticmethod
    def _calls(inst: Any, exports: Any, rng: random.Random, stats: Counter[str],
               allowed: tuple[type[BaseException], ...]) -> None:
        funcs = [e for e in exports if e.type is not None][:16]
        for export in funcs:
            for _ in range(rng.choice([1, 1, 2, 3])):
                args = _random_args(export.type, rng)
                try:
                    inst.call(export.name, *args, timeout=CALL_TIMEOUT)
                    stats["call:ok"] += 1
                except allowed as exc:
                    stats[f"call:{type(exc).__name__}"] += 1
        if rng.random() < 0.1:
            try:
                inst.call("no such export")
            except allowed:
                stats["call:missing"] += 1
        inst.take_output()

    @staticmethod
    def _memory(inst: Any, rng: random.Random, stats: Counter[str]) -> None:
        import pywamr

        try:
            size = len(inst.memory)
        except pywamr.WamrError:
            return
        for _ in range(3):
            offset = rng.choice([0, size, size - 1, size + 1, rng.randrange(size + 64),
                                 (1 << 32) - 1, 1 << 40])
            length = rng.choice([0, 1, 16, 4096, size, 1 << 33])
            try:
                data = inst.memory.read(offset, length if length < (1 << 26) else 1)
                inst.memory.write(offset, data)
                stats["memory:ok"] += 1
            except IndexError:
                stats["memory:IndexError"] += 1
        if size:
            view = inst.memory.view()
            view[rng.randrange(size)] = rng.randrange(256)
            view.release()


# -- the Teaclave entrypoint -------------------------------------------------
PAYLOADS = {
    "adder": (ROOT / "examples/payloads/wasm/adder.wasm", [], [], {"a": None, "b": None}),
    "compare": (ROOT / "examples/payloads/wasm/compare.wasm", ["input_a", "input_b"],
                ["result"], {}),
    "wordcount": (ROOT / "examples/payloads/wasm/wordcount.wasm", ["input"], ["output"], {}),
    "intersection": (ROOT / "examples/payloads/wasm/intersection.wasm",
                     ["input_a", "input_b"], ["output"], {}),
    "tc_probe": (ROOT / "tests/payloads/wasm/tc_probe.wasm", ["in"], ["out"],
                 {"case": ["bad-handle", "wrong-direction", "closed-handle", "unknown-id",
                           "out-of-bounds", "leave-open", "trap-after-write", "many",
                           "handles", "copy", "args", "nope", ""]}),
}
PATH_KINDS = ["file", "file", "file", "missing", "dir", "devnull", "nodir", "nul", "same",
              "weird"]


def _unicode(rng: random.Random, n: int) -> str:
    pools = [(0x20, 0x7E), (0x0, 0x1F), (0x80, 0x7FF), (0x800, 0xFFFF), (0x10000, 0x10FFFF)]
    chars = []
    for _ in range(n):
        lo, hi = pools[rng.choice([0, 0, 0, 0, 1, 2, 3, 4])]
        chars.append(chr(rng.randint(lo, hi)))
    if n and rng.random() < 0.02:  # a lone surrogate: cannot be UTF-8 (ValueError)
        chars[rng.randrange(n)] = chr(rng.randint(0xD800, 0xDFFF))
    return "".join(chars)


def _value(rng: random.Random, depth: int = 0) -> Any:
    r = rng.random()
    if r < 0.45:
        return _unicode(rng, rng.choice([0, 1, 5, 30]))
    if r < 0.6:
        return rng.choice([0, -1, 1 << 31, 1 << 64, -(10**40), rng.randrange(-1000, 1000)])
    if r < 0.68:
        return rng.choice([0.5, -0.0, 1e308, math.inf, math.nan])
    if r < 0.74:
        return rng.choice([None, True, False])
    if r < 0.8 and depth < 3:
        return [_value(rng, depth + 1) for _ in range(rng.randint(0, 4))]
    if r < 0.86 and depth < 3:
        return {_unicode(rng, 3): _value(rng, depth + 1) for _ in range(rng.randint(0, 3))}
    if r < 0.9:
        return "x" * rng.choice([1000, 100_000, 2_000_000])  # huge
    return str(rng.randint(-10**6, 10**6))


class TeaclaveTarget(Target):
    name = "teaclave"

    def __init__(self) -> None:
        self.executors: dict[tuple[Any, ...], Any] = {}
        self.base = Path(tempfile.mkdtemp(prefix="pywamr-fuzz-"))
        self.count = 0

    def close(self) -> None:
        for executor in self.executors.values():
            executor.close()
        shutil.rmtree(self.base, ignore_errors=True)

    def generate(self, rng: random.Random) -> dict[str, Any]:
        name = rng.choice(list(PAYLOADS))
        _, input_ids, output_ids, known = PAYLOADS[name]
        arguments: dict[str, Any] = {}
        for key, values in known.items():
            if rng.random() < 0.8:
                arguments[key] = rng.choice(values) if values else _value(rng)
                if key in "ab" and rng.random() < 0.6:
                    arguments[key] = str(rng.choice([0, 1, -5, 2**31 - 1, rng.randrange(99)]))
        many = rng.random() < 0.05
        for _ in range(rng.choice([0, 0, 1, 2, 5]) if not many else rng.choice([500, 3000])):
            arguments[_unicode(rng, rng.choice([0, 1, 3, 12]))] = _value(rng)
        files = []
        for fid in input_ids + output_ids + [_unicode(rng, rng.randint(0, 6))
                                            for _ in range(rng.choice([0, 0, 1, 2]))]:
            if rng.random() < 0.15:
                continue
            output = fid in output_ids or (fid not in input_ids and rng.random() < 0.5)
            size = rng.choice([0, 1, 7, 100, 4096, 70_000, 1 << 20])
            content = (bytes(rng.randrange(256) for _ in range(min(size, 256))) * (
                size // 256 + 1))[:size]
            if rng.random() < 0.5:
                content = b"\n".join(rng.choice([b"apple", b"banana", b"", b"x" * 300])
                                     for _ in range(rng.randint(0, 50)))
            files.append({"id": fid, "output": output, "kind": rng.choice(PATH_KINDS),
                          "content": content, "exists": rng.random() < 0.3})
        return {
            "payload": name,
            "mode": rng.choice(MODES),
            "policy": rng.choice(["reuse-instance", "reuse-instance", "reuse-module",
                                  "reuse-runtime"]),
            "heap_size": rng.choice([0, 4096, 64 * 1024, 1 << 20, 20 << 20]),
            "stack_size": rng.choice([4096, 32 * 1024, 160 * 1024]),
            "max_memory_pages": rng.choice([None, None, None, 1, 17, 18, 20, 32, 1000]),
            "timeout": 2.0,
            "arguments": arguments,
            "files": files,
            # run it twice on the same executor: the second run must give the same
            # result (nothing may leak between invocations, e.g. through a reset instance)
            "repeat": rng.random() < 0.5,
        }

    def executor(self, case: dict[str, Any]) -> Any:
        from pywamr import teaclave

        key = (case["payload"], case["mode"], case["policy"], case["heap_size"],
               case["stack_size"], case["max_memory_pages"])
        if key not in self.executors:
            if len(self.executors) >= 24:
                self.executors.pop(next(iter(self.executors))).close()
            # the strict profile: its outputs are renamed into place, so output paths
            # at FIFOs and devices test that nothing special is ever replaced (the
            # teaclave profile opens outputs in place, and a FIFO without a reader
            # blocks that open, as it would in Teaclave)
            self.executors[key] = teaclave.Executor(
                PAYLOADS[case["payload"]][0], profile="strict", mode=case["mode"],
                policy=case["policy"],
                heap_size=case["heap_size"], stack_size=case["stack_size"],
                max_memory_pages=case["max_memory_pages"], timeout=case["timeout"])
        return self.executors[key]

    def _paths(self, case: dict[str, Any], work: Path) -> tuple[dict[str, str], dict[str, str],
                                                                  dict[str, bytes]]:
        inputs: dict[str, str] = {}
        outputs: dict[str, str] = {}
        made: dict[str, bytes] = {}
        first_input: str | None = None
        for n, spec in enumerate(case["files"]):
            kind = spec["kind"]
            path = str(work / f"f{n}")
            if kind == "missing":
                pass
            elif kind == "dir":
                os.mkdir(path)
            elif kind == "devnull":
                # /dev/null as an input; as an output, a FIFO of our own: a regression
                # that renamed over it must never clobber a system file
                if spec["output"]:
                    path = str(work / f"fifo{n}")
                    os.mkfifo(path)
                else:
                    path = os.devnull
            elif kind == "nodir":
                path = str(work / "no" / "such" / f"f{n}")
            elif kind == "nul":
                path = str(work / f"f{n}\0tail")
            elif kind == "same" and first_input is not None:
                path = first_input
            elif kind == "weird":
                path = str(work / f"f{n} ü \\ '\" $x {spec['id'][:8]!r}".replace("/", "_"))
            if kind in ("file", "weird") and (not spec["output"] or spec["exists"]) and (
                    "\0" not in path):
                Path(path).write_bytes(spec["content"])
                made[path] = spec["content"]
            if spec["output"]:
                outputs[spec["id"]] = path
            else:
                inputs[spec["id"]] = path
                if first_input is None and path in made:
                    first_input = path
        return inputs, outputs, made

    def execute(self, case: dict[str, Any], stats: Counter[str]) -> None:
        import pywamr

        try:
            executor = self.executor(case)
        except (pywamr.WamrError, TypeError, ValueError) as exc:
            stats[f"executor:{type(exc).__name__}"] += 1
            return
        first = self._run_once(case, executor, stats)
        if case.get("repeat"):
            second = self._run_once(case, executor, stats)
            if first != second and not (first[0] == second[0] == "ok"
                                        and (first[3] or second[3])):  # a timeout may vary
                raise Finding(f"the same invocation gave a different result the second time:\n"
                              f"first:  {first!r:.1500}\nsecond: {second!r:.1500}")

    def _run_once(self, case: dict[str, Any], executor: Any,
                  stats: Counter[str]) -> tuple[Any, ...]:
        """One invocation in a fresh directory; its outcome, comparable across runs."""
        import pywamr

        self.count += 1
        work = self.base / f"w{self.count}"
        work.mkdir()
        try:
            inputs, outputs, made = self._paths(case, work)
            try:
                result = executor.invoke(case["arguments"], inputs, outputs)
            except (pywamr.WamrError, TypeError, ValueError, MemoryError) as exc:
                stats[f"invoke:{type(exc).__name__}"] += 1
                self._check_files(work, {}, outputs, made, inputs)
                return ("error", type(exc).__name__, str(exc).replace(str(work), "<dir>"))
            stats["ok" if result.ok else "trap"] += 1
            if result.ok != isinstance(result.return_value, int):
                raise Finding(f"inconsistent result {result!r}")
            if not set(result.outputs) <= set(outputs):
                raise Finding(f"undeclared outputs reported: {result.outputs}")
            for fid, path in result.outputs.items():
                if path != outputs[fid] or not os.path.exists(path):
                    raise Finding(f"output {fid!r} reported at {path!r} but missing")
            self._check_files(work, result.outputs, outputs, made, inputs)
            written = {fid: Path(path).read_bytes() if os.path.isfile(path) else None
                       for fid, path in result.outputs.items()}
            return ("ok", result.return_value, result.trap, result.timed_out,
                    [e.replace(str(work), "<dir>") for e in result.file_errors],
                    result.files_left_open, result.stdout, written)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @staticmethod
    def _check_files(work: Path, written: dict[str, str], outputs: dict[str, str],
                     made: dict[str, bytes], inputs: dict[str, str]) -> None:
        output_paths = set(outputs.values())
        for path in work.rglob("*"):
            text = str(path)
            if ".pywamr-" in path.name:
                raise Finding(f"temporary file left behind: {text!r}")
            if path.is_dir() or path.is_fifo():  # FIFOs are the harness's own
                continue
            if text not in made and text not in output_paths:
                raise Finding(f"a file nobody declared was created: {text!r}")
            if text in made and text not in output_paths and path.read_bytes() != made[text]:
                raise Finding(f"input {text!r} was modified")


class CrashTarget(Target):
    """A self-test: input 3 of every batch (seed < 100) dies with SIGSEGV."""

    name = "crashme"

    def generate(self, rng: random.Random) -> dict[str, Any]:
        return {"value": rng.randrange(100)}

    def execute(self, case: dict[str, Any], stats: Counter[str]) -> None:
        import ctypes

        if case["index"] == 3:
            ctypes.string_at(0)
        if case["index"] == 5:
            raise RuntimeError("not an allowed exception")
        stats["ok"] += 1


TARGETS: dict[str, type[Target]] = {"load": LoadTarget, "teaclave": TeaclaveTarget,
                                    "crashme": CrashTarget}


def make_case(target: Target, seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(f"{target.name}:{seed}:{index}")
    case = target.generate(rng)
    case.update({"target": target.name, "seed": seed, "index": index})
    return case
