#!/usr/bin/env python3
"""WebAssembly in a Python application: exports, linear memory and host functions.

Loads ``cpu.wasm`` (compute kernels written in C) and ``host.wasm`` (which calls functions
the embedder provides), calls exports, moves bytes through linear memory and serves host
calls from Python.

    python examples/python_app.py [--mode fast-interp|classic-interp|aot]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pywamr

PAYLOADS = Path(__file__).resolve().parent.parent / "tests" / "payloads" / "wasm"


def kernels(runtime: pywamr.Runtime) -> None:
    """Call exported functions: look a function up once, then call it like a Python one."""
    with runtime.load(PAYLOADS / "cpu.wasm").instantiate() as inst:
        fib = inst.exports["fib"]
        print("fib(20) =", fib(20), " type:", fib.type)
        print("primes below 100000:", inst.call("sieve", 100_000))
        try:
            inst.call("fib", 40, timeout=0.001)             # stop a call that runs too long
        except pywamr.Timeout:
            print("fib(40) stopped after 1 ms; the instance is still usable:", fib(10))


def host_functions(runtime: pywamr.Runtime) -> None:
    """Provide the functions a module imports; pass buffers and strings through memory."""
    log: list[str] = []
    runtime.register_hosts("env", {
        "h_add": (lambda a, b: a + b, "(ii)i"),
        "h_buf": (lambda view: view.tobytes().count(b"a"), "(*~)i"),   # a memoryview of guest bytes
        "h_str": (lambda text: log.append(text) or len(text), "($)i"),  # a NUL-terminated str
        "h_ptr": (lambda address: address, "(*)i"),
        "h_i64": (lambda x: x * 3, "(I)I"),
        "h_f32": (lambda x: x, "(f)f"),
        "h_f64": (lambda x: x / 4, "(F)F"),
        "h_void": (lambda: None, "()"),
    })
    with runtime.load(PAYLOADS / "host.wasm").instantiate() as inst:
        print("h_add via wasm:", inst.call("call_add", 20, 22))
        text = b"banana and papaya"
        inst.memory.write(1024, text)                         # copy into linear memory
        print("count of 'a' computed in Python on guest memory:", inst.call("call_buf", 1024,
                                                                           len(text)))
        print("string from guest memory:", inst.call("call_str", 16), log)
        print("i64 through the host:", inst.call("call_i64", 1 << 40))
        view = inst.memory.view()                             # zero-copy view of all memory
        print("memory:", len(inst.memory), "bytes; at 16:", bytes(view[16:21]))
        view.release()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = [m for m in pywamr.MODES if m != "aot" or pywamr.aot_available()]
    parser.add_argument("--mode", default="fast-interp", choices=modes)
    args = parser.parse_args(argv)
    with pywamr.Runtime(args.mode) as runtime:
        kernels(runtime)
        host_functions(runtime)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
