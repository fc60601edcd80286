"""Every path a user times, pywamr beside its peers, measured in one run.

Prints (and writes to ``bench/results/compare.md``) the table of the
performance issue: the per-call cost of an export, a host round trip,
instantiating a small module, a Teaclave-style cold cycle, a warm Teaclave
invocation, and the CPU kernels of ``tests/payloads/src/cpu.c`` — pywamr in
each mode beside wasmtime-py and pywasm3 (wasm3), all in the same process,
one after the other.  Run from the repository root::

    python -m bench.compare            # the issue's sizes (a few minutes)
    python -m bench.compare --quick    # smaller kernels, fewer rounds

Timings are medians over rounds of many calls (``time.perf_counter_ns``);
nothing here asserts a time.  pywasm3 is optional (``pip install pywasm3``);
its rows read "n/a" without it.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import wasmtime

import pywamr
from pywamr import teaclave

from .startup import Case, wasmtime_invoker

try:  # optional peer
    import wasm3
except ImportError:  # pragma: no cover - depends on the environment
    wasm3 = None

ROOT = Path(__file__).resolve().parent.parent
PAYLOADS = ROOT / "tests" / "payloads" / "wasm"
EXAMPLES = ROOT / "examples" / "payloads" / "wasm"
RESULTS = Path(__file__).resolve().parent / "results" / "compare.md"
STACK = 160 * 1024
INTERPRETERS = ("fast-interp", "classic-interp")


@dataclass
class Row:
    """One line of the table: a path and its cost per engine (seconds)."""

    path: str
    costs: dict[str, float | None]


# The clock: wall time (``perf_counter``), or the CPU time of this process's
# threads (``process_time``), which a machine shared with other jobs disturbs
# far less (it excludes the time other processes hold the cores).
CLOCKS: dict[str, Callable[[], int]] = {"wall": time.perf_counter_ns,
                                        "cpu": time.process_time_ns}
clock = CLOCKS["wall"]


def per_call(fn: Callable[[], Any], calls: int, rounds: int) -> float:
    """Median seconds per call over ``rounds`` rounds of ``calls`` calls."""
    samples = []
    gc.collect()
    for _ in range(rounds):
        start = clock()
        for _ in range(calls):
            fn()
        samples.append((clock() - start) / calls / 1e9)
    return statistics.median(samples)


def once(fn: Callable[[], Any], rounds: int) -> float:
    return per_call(fn, 1, rounds)


# -- peers ------------------------------------------------------------------------
def _wasm3_runtime(wasm: bytes, link: Callable[[Any], None] | None = None) -> Any:
    env = wasm3.Environment()
    runtime = env.new_runtime(STACK)
    module = env.parse_module(wasm)
    runtime.load(module)
    if link is not None:
        link(module)
    return runtime


def _wasm3_teaclave_natives(module: Any, runtime_box: list[Any]) -> None:
    """atoi/strcmp for the adder, over wasm3's memory view."""

    def string(ptr: int) -> bytes:
        memory = runtime_box[0].get_memory(0)
        end = bytes(memory[ptr:ptr + 4096]).index(b"\0")
        return bytes(memory[ptr:ptr + end])

    def atoi(ptr: int) -> int:
        return int(string(ptr) or b"0")

    def strcmp(a: int, b: int) -> int:
        x, y = string(a), string(b)
        return (x > y) - (x < y)

    module.link_function("env", "atoi", "i(i)", atoi)
    module.link_function("env", "strcmp", "i(ii)", strcmp)


def _argv_image(arguments: dict[str, str], base: int) -> tuple[int, bytes]:
    """(argc, bytes) of an argv pointer array followed by its strings at ``base``."""
    flat = teaclave.flatten(arguments)
    pointers, offset = [], base + 4 * (len(flat) + 1)
    for s in flat:
        pointers.append(offset)
        offset += len(s) + 1
    table = b"".join(p.to_bytes(4, "little") for p in pointers) + b"\0\0\0\0"
    return len(flat), table + b"".join(s + b"\0" for s in flat)


def wasm3_teaclave(case: Case, warm: bool) -> Callable[[], int]:
    """A Teaclave-style invocation on wasm3: cold (everything fresh) or warm."""
    scratch = 60 * 1024  # below the adder's stack, above its data (see adder.wasm)

    def setup() -> tuple[Any, Any, int, bytes]:
        box: list[Any] = []
        runtime = _wasm3_runtime(case.wasm, lambda m: _wasm3_teaclave_natives(m, box))
        box.append(runtime)
        argc, image = _argv_image(case.arguments, scratch)
        return runtime, runtime.find_function("entrypoint"), argc, image

    def call(runtime: Any, entry: Any, argc: int, image: bytes) -> int:
        memory = runtime.get_memory(0)
        memory[scratch:scratch + len(image)] = image
        return int(entry(argc, scratch))

    if warm:
        state = setup()
        return lambda: call(*state)
    return lambda: call(*setup())


# -- the table ----------------------------------------------------------------------
@contextmanager
def pywamr_instance(mode: str, name: str, hosts: bool = False) -> Iterator[pywamr.Instance]:
    with pywamr.Runtime(mode) as rt:
        if hosts:
            rt.register_hosts("env", HOSTS)
        module = rt.load(PAYLOADS / f"{name}.wasm")
        with module.instantiate(stack_size=STACK, heap_size=0) as inst:
            yield inst
        module.close()


def _h_add(a: int, b: int) -> int:
    return a + b


HOSTS: dict[str, Any] = {
    "h_add": (_h_add, "(ii)i"),
    "h_buf": (lambda data: len(data), "(*~)i"),
    "h_str": (lambda s: len(s), "($)i"),
    "h_ptr": (lambda p: p, "(*)i"),
    "h_i64": (lambda x: x, "(I)I"),
    "h_f32": (lambda x: x, "(f)f"),
    "h_f64": (lambda x: x, "(F)F"),
    "h_void": (lambda: None, "()"),
}


def modes() -> list[str]:
    return [*INTERPRETERS, *(("aot",) if pywamr.aot_available() else ())]


def row_add(rounds: int) -> Row:
    costs: dict[str, float | None] = {}
    for mode in modes():
        with pywamr_instance(mode, "basic") as inst:
            add = inst.exports["add"]
            costs[f"pywamr {mode}"] = per_call(lambda add=add: add(1, 2), 20000, rounds)
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wt = wasmtime.Instance(store, wasmtime.Module.from_file(engine, str(PAYLOADS / "basic.wasm")),
                           [])
    wt_add = wt.exports(store)["add"]
    costs["wasmtime-py"] = per_call(lambda: wt_add(store, 1, 2), 2000, rounds)
    if wasm3 is not None:
        add3 = _wasm3_runtime((PAYLOADS / "basic.wasm").read_bytes()).find_function("add")
        costs["pywasm3"] = per_call(lambda: add3(1, 2), 20000, rounds)
    return Row("call `add(i32,i32)`, looked up once", costs)


def row_host(rounds: int) -> Row:
    """Per host round trip: the guest calls ``h_add`` ``loop`` times."""
    loop = 1000
    costs: dict[str, float | None] = {}
    for mode in modes():
        with pywamr_instance(mode, "host", hosts=True) as inst:
            fn = inst.exports["call_add_loop"]
            costs[f"pywamr {mode}"] = per_call(lambda fn=fn: fn(loop), 10, rounds) / loop
    if wasm3 is not None:
        def link(module: Any) -> None:
            for name, (fn, sig) in HOSTS.items():
                if name == "h_buf":
                    module.link_function("env", name, "i(ii)", lambda p, n: n)
                elif name == "h_str":
                    module.link_function("env", name, "i(i)", lambda p: 0)
                else:
                    module.link_function("env", name, _wasm3_sig(sig), fn)
        call_loop = _wasm3_runtime((PAYLOADS / "host.wasm").read_bytes(),
                                   link).find_function("call_add_loop")
        costs["pywasm3"] = per_call(lambda: call_loop(loop), 10, rounds) / loop
    return Row("host round trip wasm -> Python -> wasm `(ii)i`", costs)


def _wasm3_sig(sig: str) -> str:
    """pywamr's ``(ii)i`` to wasm3's ``i(ii)`` (``v`` for no result)."""
    params, result = sig[1:].split(")")
    return f"{result.replace('F', 'F') or 'v'}({params})"


def row_instantiate(rounds: int) -> Row:
    costs: dict[str, float | None] = {}
    for mode in modes():
        with pywamr.Runtime(mode) as rt:
            module = rt.load(PAYLOADS / "basic.wasm")

            def inst(module: pywamr.Module = module) -> None:
                module.instantiate(stack_size=STACK, heap_size=0).close()
            costs[f"pywamr {mode}"] = per_call(inst, 200, rounds)
            module.close()
    engine = wasmtime.Engine()
    wt_module = wasmtime.Module.from_file(engine, str(PAYLOADS / "basic.wasm"))
    costs["wasmtime-py"] = per_call(
        lambda: wasmtime.Instance(wasmtime.Store(engine), wt_module, []), 200, rounds)
    if wasm3 is not None:
        data = (PAYLOADS / "basic.wasm").read_bytes()
        costs["pywasm3"] = per_call(lambda: _wasm3_runtime(data), 200, rounds)
    return Row("instantiate a small module (no app heap)", costs)


def _adder() -> Case:
    return Case("adder", (EXAMPLES / "adder.wasm").read_bytes(), {"a": "40", "b": "2"},
                expected=42)


def _adder_with_allocator() -> Case:
    """The adder exporting its own malloc/free (no app heap: WAMR calls the guest's malloc)."""
    return Case("tc_alloc", (PAYLOADS / "tc_alloc.wasm").read_bytes(), {"a": "40", "b": "2"},
                expected=42)


def row_teaclave(policy: str, rounds: int, label: str, wasm3_warm: bool | None,
                 wasmtime_path: str | None, case: Case | None = None) -> Row:
    case = case or _adder()
    costs: dict[str, float | None] = {}
    calls = 20 if policy == "cold" else 2000
    for mode in modes():
        # strict: tc_alloc calls libc-builtin, and the rows compare like with like
        with teaclave.Executor(case.wasm, profile="strict", mode=mode,
                               policy=policy) as executor:
            result = executor.invoke(case.arguments)
            assert result.return_value == case.expected, result
            costs[f"pywamr {mode}"] = per_call(
                lambda executor=executor: executor.invoke(case.arguments), calls, rounds)
        teaclave.clear_cache()
    if wasmtime_path is not None:
        invoke, close = wasmtime_invoker(case, wasmtime_path)
        costs["wasmtime-py"] = per_call(invoke, max(calls // 10, 5), rounds)
        close()
    if wasm3 is not None and wasm3_warm is not None:
        fn = wasm3_teaclave(case, warm=wasm3_warm)
        assert fn() == case.expected
        costs["pywasm3"] = per_call(fn, calls, rounds)
    return Row(label, costs)


SHA_MSG = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/"


def kernels(quick: bool) -> dict[str, tuple[str, int, Any]]:
    """cpu.c's kernels (sieve and matmul are capped at 1 << 20 and 128 by cpu.c)."""
    sha_rounds = 2000 if quick else 20000
    return {
        "fib": ("fib", 30 if quick else 35, 832040 if quick else 9227465),
        "sieve": ("sieve", 1 << 20, 82025),
        "matmul": ("matmul", 128, None),
        "sha256": ("sha256_loop", sha_rounds,
                   int.from_bytes(hashlib.sha256(SHA_MSG * sha_rounds).digest()[:4], "big")),
    }


def rows_kernels(quick: bool, rounds: int) -> list[Row]:
    wasm = (PAYLOADS / "cpu.wasm").read_bytes()
    engines: dict[str, Callable[[str], Callable[..., Any]]] = {}
    keep: list[Any] = []
    for mode in modes():
        rt = pywamr.Runtime(mode)
        inst = rt.load(wasm).instantiate(stack_size=1 << 20, heap_size=0)
        keep.append((rt, inst))
        engines[f"pywamr {mode}"] = lambda name, inst=inst: inst.exports[name]
    engine = wasmtime.Engine()
    store = wasmtime.Store(engine)
    wt = wasmtime.Instance(store, wasmtime.Module(engine, wasm), [])
    wt_exports = wt.exports(store)
    engines["wasmtime-py"] = lambda name: (lambda *a: wt_exports[name](store, *a))
    if wasm3 is not None:
        rt3 = _wasm3_runtime(wasm)
        engines["pywasm3"] = rt3.find_function
    rows = []
    for label, (export, arg, expected) in kernels(quick).items():
        costs: dict[str, float | None] = {}
        results = set()
        for name, lookup in engines.items():
            fn = lookup(export)
            value = fn(arg)
            results.add(round(value, 3) if isinstance(value, float) else value & 0xFFFFFFFF)
            if expected is not None:
                assert value & 0xFFFFFFFF == expected & 0xFFFFFFFF, (name, label, value)
            costs[name] = once(lambda fn=fn, arg=arg: fn(arg), rounds)
        assert len(results) == 1, (label, results)
        rows.append(Row(f"`{export}({arg})`", costs))
    for rt, inst in keep:
        inst.close()
        rt.close()
    return rows


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "n/a"
    if seconds >= 0.1:
        return f"{seconds:.2f} s"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds * 1e6:.3g} us"


def render(rows: list[Row]) -> str:
    engines: list[str] = []
    for row in rows:
        engines += [e for e in row.costs if e not in engines]
    head = "| path | " + " | ".join(engines) + " | best pywamr / best peer |"
    lines = [head, "|---|" + "---:|" * (len(engines) + 1)]
    for row in rows:
        ours = [v for k, v in row.costs.items() if k.startswith("pywamr") and v is not None]
        peers = [v for k, v in row.costs.items() if not k.startswith("pywamr") and v is not None]
        ratio = f"{min(ours) / min(peers):.2f}" if ours and peers else "n/a"
        cells = " | ".join(_fmt(row.costs.get(e)) for e in engines)
        lines.append(f"| {row.path} | {cells} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small kernels, few rounds")
    parser.add_argument("--no-kernels", action="store_true", help="skip the CPU kernels")
    parser.add_argument("--out", type=Path, default=RESULTS, help="markdown output file")
    parser.add_argument("--clock", choices=sorted(CLOCKS), default="wall",
                        help="wall time, or this process's CPU time (for a shared machine)")
    args = parser.parse_args(argv)
    global clock
    clock = CLOCKS[args.clock]
    rounds = 3 if args.quick else 7
    rows = [
        row_add(rounds),
        row_host(rounds),
        row_instantiate(rounds),
        # Cold: a fresh runtime per invocation; the cold policy needs its core to itself,
        # so it runs after every other pywamr object of that mode has been closed.
        row_teaclave("cold", rounds, "Teaclave-style cold cycle (init ... destroy)",
                     wasm3_warm=False, wasmtime_path="cold"),
        row_teaclave("reuse-instance", rounds, "warm Teaclave invocation (`reuse-instance`)",
                     wasm3_warm=True, wasmtime_path="warm"),
        row_teaclave("reuse-instance", rounds,
                     "the same, payload exporting `malloc`/`free`",
                     wasm3_warm=None, wasmtime_path=None, case=_adder_with_allocator()),
    ]
    if not args.no_kernels:
        rows += rows_kernels(args.quick, 3)
    table = render(rows)
    peers = f"wasmtime-py {metadata.version('wasmtime')}"
    if wasm3 is not None:
        peers += f", pywasm3 {metadata.version('pywasm3')} (wasm3 {wasm3.M3_VERSION})"
    header = (f"# pywamr beside its peers ({time.strftime('%Y-%m-%d')})\n\n"
              f"`python -m bench.compare{' --quick' if args.quick else ''} --clock {args.clock}`;"
              f" one process, medians of {args.clock} time; {peers};"
              f" Python {sys.version.split()[0]}.\n\n")
    print(table)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(header + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
