#!/usr/bin/env python3
"""Fuzz pywamr: module loading and the Teaclave entrypoint, crash-isolated.

Targets:

* ``load``: mutated ``.wasm`` modules (byte-level and section-aware mutations
  of every payload in the repository) are capped with ``max_memory_pages``,
  loaded, introspected, instantiated, and every exported function is called
  with random arguments (with a timeout); guest memory is read and written
  through the Python API.  Each step must succeed or raise a ``WamrError``,
  ``TypeError`` or ``ValueError`` (``IndexError`` for the memory API).
* ``teaclave``: the example payloads and ``tc_probe.wasm`` run through
  ``teaclave.Executor`` with random arguments (keys and values of any
  unicode, huge strings, thousands of arguments, JSON values), random file
  declarations (existing, missing, directories, ``/dev/null``, unusual names)
  and random contents, random heap/stack sizes, memory caps and policies.
  Besides the allowed exceptions (plus ``MemoryError`` for arguments that do
  not fit the app heap), the run must leave no temporary files, create no
  file it was not given as an output, and leave inputs untouched.

Inputs are generated from ``(target, seed, index)`` alone, so any input can
be made again.  The driver runs the target in a worker subprocess per batch
and reads its progress from a pipe; when a worker dies (a signal, an abort)
or stalls, the input it was running is saved to the crashes directory as
JSON (``.wasm`` too for ``load``) with its seed and index, replayed once in a
fresh process to confirm it, and the batch goes on after it.  An unexpected
exception or a broken invariant is saved the same way (a "finding").

    python tools/fuzz.py --target load --seconds 600
    python tools/fuzz.py --target teaclave --seconds 600 --seed 7
    python tools/fuzz.py --replay crashes/load-7-1234.json
    python tools/fuzz.py --target load --engine atheris -- -max_total_time=600

Exit status: 0 when nothing was found, 1 otherwise.  ``--engine atheris``
(optional: ``pip install atheris``) lets libFuzzer mutate the ``load``
target's bytes in process, guided by Python coverage; its crash files are
libFuzzer's own.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import math
import os
import random
import select
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIRS = [ROOT / "tests" / "payloads" / "wasm", ROOT / "examples" / "payloads" / "wasm"]
MODES = ["fast-interp", "classic-interp"]
CALL_TIMEOUT = 0.05
STALL_SECONDS = 60.0  # no progress for this long: the worker is hung

INTERESTING_I32 = [0, 1, -1, 2, 7, 8, 16, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF,
                   0x10000, 65535, 65536, 0x7FFFFFFF, -0x80000000, 0xFFFFFFFF, 0xFFFFFFF0,
                   1 << 24]
INTERESTING_F = [0.0, -0.0, 1.0, -1.0, 0.5, 1e300, -1e300, 2.0**31, -2.0**31 - 1, 2.0**63,
                 4294967296.0, math.inf, -math.inf, math.nan]


# ==========================================================================
# Encoding of inputs (JSON, bytes as base64)
# ==========================================================================
def _to_json(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode()}
    if isinstance(value, dict):
        return {k: _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) == {"__b64__"}:
            return base64.b64decode(value["__b64__"])
        return {k: _from_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value


class Finding(Exception):
    """A broken rule: an exception that should not happen, or a broken invariant."""


# ==========================================================================
# Wasm helpers: LEB128, a lenient section splitter, tiny modules
# ==========================================================================
def leb(value: int) -> bytes:
    out = bytearray()
    while True:
        b = value & 0x7F
        value >>= 7
        out.append(b | (0x80 if value else 0))
        if not value:
            return bytes(out)


def split_sections(data: bytes) -> list[tuple[int, bytes]] | None:
    """Sections as (id, body), or None when the framing does not parse."""
    if len(data) < 8 or data[:4] != b"\0asm":
        return None
    out, pos = [], 8
    while pos < len(data):
        section_id = data[pos]
        pos += 1
        size = shift = 0
        for _ in range(5):
            if pos >= len(data):
                return None
            b = data[pos]
            pos += 1
            size |= (b & 0x7F) << shift
            shift += 7
            if not b & 0x80:
                break
        else:
            return None
        if pos + size > len(data):
            return None
        out.append((section_id, data[pos:pos + size]))
        pos += size
    return out


def join_sections(header: bytes, sections: list[tuple[int, bytes]]) -> bytes:
    return header + b"".join(bytes([sid]) + leb(len(body)) + body for sid, body in sections)


def _tiny_modules() -> list[bytes]:
    """Shapes the payloads lack: imported memory, no maximum, tables, globals."""
    def vec(items: list[bytes]) -> bytes:
        return leb(len(items)) + b"".join(items)

    def name(s: str) -> bytes:
        return leb(len(s)) + s.encode()

    def sec(i: int, body: bytes) -> bytes:
        return bytes([i]) + leb(len(body)) + body

    types = sec(1, vec([b"\x60\x01\x7f\x01\x7f", b"\x60\x00\x01\x7f"]))
    code = sec(10, vec([b"\x06\x00\x20\x00\x40\x00\x0b", b"\x04\x00\x3f\x00\x0b"]))
    exports = sec(7, vec([name("grow") + b"\x00\x00", name("pages") + b"\x00\x01",
                          name("memory") + b"\x02\x00"]))
    funcs = sec(3, vec([b"\x00", b"\x01"]))
    out = []
    for imported in (False, True):
        for limits in (b"\x00\x01", b"\x01\x01\x04"):
            imports = sec(2, vec([name("env") + name("memory") + b"\x02" + limits]))
            mems = sec(5, vec([limits]))
            out.append(b"\0asm\x01\0\0\0" + types + (imports if imported else b"") + funcs
                       + (b"" if imported else mems) + exports + code)
    return out


def corpus() -> list[bytes]:
    seeds = [p.read_bytes() for d in CORPUS_DIRS for p in sorted(d.glob("*.wasm"))]
    return seeds + _tiny_modules()


# ==========================================================================
# Mutations
# ==========================================================================
def mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    buf = bytearray(data)
    op = rng.randrange(9)
    pos = rng.randrange(len(buf)) if buf else 0
    if not buf:
        return bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
    if op == 0:
        buf[pos] ^= 1 << rng.randrange(8)
    elif op == 1:
        buf[pos] = rng.choice([0, 1, 0x7F, 0x80, 0xFF, 0x40, rng.randrange(256)])
    elif op == 2:
        buf[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
    elif op == 3:
        del buf[pos:pos + rng.randint(1, 32)]
    elif op == 4:
        n = rng.randint(1, 64)
        buf[pos:pos] = buf[pos:pos + n]
    elif op == 5:
        del buf[pos:]
    elif op == 6:  # an interesting LEB128 over what is there
        value = rng.choice([0, 0x7F, 0x80, 0x3FFF, 0x4000, 65536, 65537, 0xFFFFFFFF,
                            rng.randrange(1 << 32)])
        enc = leb(value)
        if rng.random() < 0.3:  # padded, non-minimal form
            enc = bytes(b | 0x80 for b in enc) + b"\x00"
        buf[pos:pos + len(enc)] = enc
    elif op == 7:
        for _ in range(rng.randint(2, 16)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
    else:
        i, j = sorted(rng.randrange(len(buf)) for _ in range(2))
        buf[i:j] = bytes(reversed(buf[i:j]))
    return bytes(buf)


def mutate_sections(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    sections = split_sections(data)
    if not sections:
        return mutate_bytes(data, rng)
    op = rng.randrange(7)
    i = rng.randrange(len(sections))
    sid, body = sections[i]
    if op <= 2:  # mutate inside a section and keep its size right
        sections[i] = (sid, mutate_bytes(body, rng))
    elif op == 3:
        del sections[i]
    elif op == 4:
        sections.insert(rng.randrange(len(sections) + 1), sections[i])
    elif op == 5:  # splice a section of the same id from another module
        other = split_sections(rng.choice(seeds)) or []
        same = [s for s in other if s[0] == sid] or other
        if same:
            sections[i] = rng.choice(same)
    else:
        j = rng.randrange(len(sections))
        sections[i], sections[j] = sections[j], sections[i]
    return join_sections(data[:8], sections)


def mutate(data: bytes, rng: random.Random, seeds: list[bytes]) -> bytes:
    for _ in range(rng.choice([1, 1, 1, 1, 2, 2, 3, 4])):
        if rng.random() < 0.8:
            data = mutate_sections(data, rng, seeds)
        else:
            data = mutate_bytes(data, rng)
    return data


# ==========================================================================
# Targets
# ==========================================================================
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
            self.executors[key] = teaclave.Executor(
                PAYLOADS[case["payload"]][0], mode=case["mode"], policy=case["policy"],
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


# ==========================================================================
# The worker: runs inputs start.. of one seed, reports progress on a pipe
# ==========================================================================
def worker(args: argparse.Namespace) -> int:
    target = TARGETS[args.target]()
    report = os.fdopen(args.report_fd, "w", buffering=1)
    stats: Counter[str] = Counter()
    done = 0
    try:
        for index in range(args.start, args.count):
            if args.until and time.time() > args.until:
                break
            case = make_case(target, args.seed, index)
            report.write(f"I {index}\n")
            try:
                target.execute(case, stats)
            except Finding as finding:
                report.write(f"F {index} {json.dumps(str(finding))}\n")
            except BaseException as exc:  # noqa: BLE001 - a rule broken
                text = "".join(traceback.format_exception(exc))[-3000:]
                report.write(f"F {index} {json.dumps(text)}\n")
            done += 1
    finally:
        target.close()
        report.write(f"D {done} {json.dumps(dict(stats))}\n")
        report.close()
    return 0


def replay(path: Path) -> int:
    case = _from_json(json.loads(path.read_text()))
    target = TARGETS[case["target"]]()
    stats: Counter[str] = Counter()
    try:
        target.execute(case, stats)
    except Finding as finding:
        print(f"finding: {finding}")
        return 1
    finally:
        target.close()
    print(f"no crash: {dict(stats)}")
    return 0


# ==========================================================================
# The driver
# ==========================================================================
class Driver:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.target = TARGETS[args.target]()
        self.crashes_dir = Path(args.crashes)
        self.stats: Counter[str] = Counter()
        self.inputs = 0
        self.workers = 0
        self.found: list[Path] = []

    def save(self, kind: str, index: int, seed: int, detail: str) -> Path:
        case = make_case(self.target, seed, index)
        self.crashes_dir.mkdir(parents=True, exist_ok=True)
        stem = self.crashes_dir / f"{self.target.name}-{seed}-{index}"
        path = stem.with_suffix(".json")
        path.write_text(json.dumps(_to_json(case), indent=1))
        if "wasm" in case:
            stem.with_suffix(".wasm").write_bytes(case["wasm"])
        reproduced = ""
        if kind == "crash":
            again = subprocess.run([sys.executable, __file__, "--replay", str(path)],
                                   capture_output=True, text=True, timeout=120, check=False)
            reproduced = f"replayed alone: exit status {again.returncode}\n"
        stem.with_suffix(".txt").write_text(
            f"{kind} in target {self.target.name}, seed {seed}, input {index}\n{reproduced}"
            f"replay: python tools/fuzz.py --replay {path}\n\n{detail}\n")
        self.found.append(path)
        print(f"[{self.target.name}] {kind.upper()} at seed {seed} input {index}: saved {path}",
              flush=True)
        return path

    def run_batch(self, seed: int, start: int, until: float) -> int | None:
        """Run one worker; returns the index to resume at, or None when done."""
        read_fd, write_fd = os.pipe()
        log = tempfile.TemporaryFile()  # noqa: SIM115 - closed below, after the worker
        cmd = [sys.executable, __file__, "--worker", "--target", self.target.name,
               "--seed", str(seed), "--start", str(start), "--count", str(self.args.batch),
               "--report-fd", str(write_fd), "--until", str(until)]
        proc = subprocess.Popen(cmd, pass_fds=(write_fd,), stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
        os.close(write_fd)
        self.workers += 1
        last: int | None = None
        finished = False
        buffer = b""
        reader = os.fdopen(read_fd, "rb", buffering=0)
        while True:
            ready, _, _ = select.select([reader], [], [], STALL_SECONDS)
            if not ready:
                proc.kill()
                break
            chunk = reader.read(65536)
            if not chunk:
                break
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                kind, _, rest = raw.decode().partition(" ")
                if kind == "I":
                    last = int(rest)
                    self.inputs += 1
                elif kind == "F":
                    index, _, text = rest.partition(" ")
                    self.save("finding", int(index), seed, json.loads(text))
                elif kind == "D":
                    _, _, stats = rest.partition(" ")
                    self.stats.update(json.loads(stats))
                    finished = True
        reader.close()
        code = proc.wait()
        log.seek(0)
        tail = log.read()[-4000:].decode(errors="replace")
        log.close()
        if finished and code == 0:
            return None
        if last is None:
            raise SystemExit(f"fuzz worker failed before its first input (status {code}):\n"
                             f"{tail}")
        how = f"signal {-code}" if code < 0 else f"exit status {code}"
        if not finished and code == -9:
            how = f"no progress for {STALL_SECONDS:.0f} s (killed)"
        self.stats["crashes"] += 1
        self.save("crash", last, seed, f"worker died: {how}\n--- worker output ---\n{tail}")
        return last + 1

    def run(self) -> int:
        args = self.args
        start_time = time.time()
        until = start_time + args.seconds
        seed = args.seed
        last_report = start_time
        while time.time() < until and (not args.max_inputs or self.inputs < args.max_inputs):
            start: int | None = 0
            while start is not None and start < args.batch and time.time() < until:
                start = self.run_batch(seed, start, until)
            seed += 1
            if time.time() - last_report > 30 or time.time() >= until:
                last_report = time.time()
                self.progress(start_time)
        self.progress(start_time)
        summary = {"target": self.target.name, "seconds": round(time.time() - start_time, 1),
                   "inputs": self.inputs, "workers": self.workers,
                   "seeds": f"{args.seed}..{seed - 1}", "found": [str(p) for p in self.found],
                   "outcomes": dict(sorted(self.stats.items()))}
        print(json.dumps(summary, indent=1))
        return 1 if self.found else 0

    def progress(self, start_time: float) -> None:
        elapsed = time.time() - start_time
        print(f"[{self.target.name}] {elapsed:7.1f}s inputs={self.inputs} "
              f"({self.inputs / max(elapsed, 1e-9):.0f}/s) workers={self.workers} "
              f"found={len(self.found)}", flush=True)


def run_atheris(args: argparse.Namespace, extra: list[str]) -> int:
    try:
        import atheris  # type: ignore[import-not-found]
    except ImportError:
        raise SystemExit("--engine atheris needs `pip install atheris`") from None
    target = LoadTarget()

    def one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        choice = fdp.ConsumeIntInRange(0, 255)
        wasm = fdp.ConsumeBytes(fdp.remaining_bytes())
        if choice < 128:  # mutate a corpus module with the remaining bytes as a seed
            wasm = mutate(target.seeds[choice % len(target.seeds)],
                          random.Random(hashlib.sha256(wasm).digest()), target.seeds)
        case = {"wasm": wasm, "mode": MODES[choice % 2], "max_memory_pages": 64,
                "allow_unresolved": True, "stack_size": 64 * 1024, "heap_size": 4096,
                "exec_seed": choice}
        target.execute(case, Counter())

    import pywamr  # noqa: F401 - loaded before instrumenting

    # Coverage of the Python layer (the limits rewriter, the bridge wrappers) guides
    # libFuzzer; the native code is not instrumented.
    atheris.instrument_all()
    atheris.Setup([sys.argv[0], *extra], one_input)
    atheris.Fuzz()
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        extra = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(TARGETS), default="load")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--max-inputs", type=int, default=0, help="stop after this many")
    parser.add_argument("--seed", type=int, default=int(time.time()) % 100000)
    parser.add_argument("--batch", type=int, default=2000, help="inputs per worker process")
    parser.add_argument("--crashes", default=str(ROOT / "crashes"),
                        help="where crashing inputs are saved (default: crashes/)")
    parser.add_argument("--replay", type=Path, help="run one saved input in this process")
    parser.add_argument("--engine", choices=["random", "atheris"], default="random")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--report-fd", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--until", type=float, default=0.0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.replay:
        return replay(args.replay)
    if args.worker:
        return worker(args)
    if args.engine == "atheris":
        return run_atheris(args, extra)
    print(f"[{args.target}] seed {args.seed}, {args.seconds:g} s, batches of {args.batch}, "
          f"crashes to {args.crashes}", flush=True)
    return Driver(args).run()


if __name__ == "__main__":
    sys.exit(main())
