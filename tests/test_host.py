"""Host functions: signatures, decoding, errors, linking, native functions."""

from __future__ import annotations

import struct
from typing import Any

import pytest
from helpers import payload

import pywamr

SIGS = {"h_add": "(ii)i", "h_buf": "(*~)i", "h_str": "($)i", "h_ptr": "(*)i",
        "h_i64": "(I)I", "h_f32": "(f)f", "h_f64": "(F)F", "h_void": "()"}


def register_all(rt: pywamr.Runtime, **overrides: Any) -> dict[str, list]:
    seen: dict[str, list] = {name: [] for name in SIGS}

    def recorder(name: str, result: Any) -> Any:
        def func(*args: Any) -> Any:
            seen[name].append(tuple(bytes(a) if isinstance(a, memoryview) else a
                                    for a in args))
            return result(*args) if callable(result) else result
        return func

    defaults = {"h_add": lambda a, b: a + b, "h_buf": lambda d: len(d),
                "h_str": lambda s: len(s), "h_ptr": lambda p: p, "h_i64": lambda v: v * 2,
                "h_f32": lambda v: v / 2, "h_f64": lambda v: v * 1.5, "h_void": None}
    for name, sig in SIGS.items():
        rt.register_host("env", name, overrides.get(name, recorder(name, defaults[name])), sig)
    return seen


def host_instance(rt: pywamr.Runtime) -> pywamr.Instance:
    return rt.load(payload("host")).instantiate()


def test_every_signature_kind(runtime: pywamr.Runtime) -> None:
    seen = register_all(runtime)
    inst = host_instance(runtime)
    assert inst.call("call_add", 2, 40) == 42
    assert inst.call("call_add", -5, 2) == -3
    assert inst.call("call_buf", 16, 5) == 5
    assert seen["h_buf"] == [(b"hello",)]
    assert inst.call("call_str", 32) == 5
    assert seen["h_str"] == [("world",)]
    assert inst.call("call_ptr", 123) == 123
    assert inst.call("call_i64", -(1 << 40)) == -(1 << 41)
    assert inst.call("call_f32", 3.0) == 1.5
    assert inst.call("call_f64", 2.0) == 3.0
    assert inst.call("call_void") is None and seen["h_void"] == [()]
    assert inst.call("call_add_loop", 100) == sum(i + 1 for i in range(100))


def test_buffer_is_writable_view_of_guest_memory(runtime: pywamr.Runtime) -> None:
    kept: list[memoryview] = []

    def upper(data: memoryview) -> int:
        data[:] = bytes(data).upper()
        kept.append(data)
        return len(data)

    register_all(runtime, h_buf=upper)
    inst = host_instance(runtime)
    assert inst.call("call_buf", 16, 5) == 5
    assert inst.memory.read(16, 5) == b"HELLO"
    with pytest.raises(ValueError):  # released when the host call returned
        bytes(kept[0])


def test_pass_instance(runtime: pywamr.Runtime) -> None:
    register_all(runtime)
    runtime.register_host("env", "h_ptr", lambda inst, p: inst.memory[p], "(*)i",
                          pass_instance=True)
    inst = host_instance(runtime)
    assert inst.call("call_ptr", 16) == ord("h")


@pytest.mark.parametrize("func, offset, length", [("call_buf", -10, 100),
                                                   ("call_buf", 0xFFFFFFF0, 32),
                                                   ("call_str", 1 << 20, 0)])
def test_guest_pointers_are_bounds_checked(runtime: pywamr.Runtime, func: str, offset: int,
                                           length: int) -> None:
    seen = register_all(runtime)
    inst = host_instance(runtime)
    if offset < 0:
        offset += len(inst.memory)  # relative to the end of memory
    args = (offset, length) if func == "call_buf" else (offset,)
    with pytest.raises(pywamr.Trap, match="out of bounds"):
        inst.call(func, *args)
    assert seen["h_buf"] == [] and seen["h_str"] == []
    assert inst.call("call_add", 1, 1) == 2


def test_unterminated_string_is_out_of_bounds(runtime: pywamr.Runtime) -> None:
    register_all(runtime)
    inst = host_instance(runtime)
    size = len(inst.memory)
    inst.memory.write(size - 4, b"abcd")  # no NUL before the end of memory
    with pytest.raises(pywamr.Trap, match="out of bounds"):
        inst.call("call_str", size - 4)


def test_host_exception_propagates_with_traceback(runtime: pywamr.Runtime) -> None:
    def broken(a: int, b: int) -> int:
        raise LookupError("no such thing")

    register_all(runtime, h_add=broken)
    inst = host_instance(runtime)
    with pytest.raises(LookupError, match="no such thing") as info:
        inst.call("call_add", 1, 2)
    assert any("broken" in str(entry.name) for entry in info.traceback)
    assert "env.h_add" in "".join(getattr(info.value, "__notes__", []))
    assert inst.call("call_void") is None  # the runtime stays usable
    with pytest.raises(LookupError):
        inst.call("call_add_loop", 3)


@pytest.mark.parametrize("name, value, error", [
    ("h_add", "12", TypeError), ("h_add", 1.5, TypeError), ("h_add", None, TypeError),
    ("h_add", 1 << 40, ValueError), ("h_i64", 1 << 70, ValueError), ("h_f64", "x", TypeError),
    ("h_void", 5, TypeError),
])
def test_wrong_result_types_are_errors(runtime: pywamr.Runtime, name: str, value: Any,
                                       error: type) -> None:
    register_all(runtime, **{name: lambda *a: value})
    inst = host_instance(runtime)
    call = {"h_add": ("call_add", 1, 2), "h_i64": ("call_i64", 1), "h_f64": ("call_f64", 1.0),
            "h_void": ("call_void",)}[name]
    with pytest.raises(error, match="host function env." + name):
        inst.call(*call)


def test_missing_and_mismatched_imports(runtime: pywamr.Runtime) -> None:
    with pytest.raises(pywamr.LinkError, match=r"unresolved import env\.h_"):
        runtime.load(payload("host"))
    register_all(runtime)
    runtime.register_host("env", "h_add", lambda a: a, "(i)i")
    with pytest.raises(pywamr.LinkError, match=r"env\.h_add has type \(ii\)i.*\(i\)i"):
        runtime.load(payload("host"))


def test_registration_errors(runtime: pywamr.Runtime) -> None:
    for bad in ["ii)i", "(ii", "(x)i", "(~)i", "(i)ii", "(i)*", ""]:
        with pytest.raises(ValueError):
            runtime.register_host("env", "f", lambda: 0, bad)
    with pytest.raises(TypeError):
        runtime.register_host("env", "f", 42, "()")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        runtime.register_host("env", "f", lambda: 0)


def test_hosts_are_per_runtime_and_per_load(mode: str) -> None:
    with pywamr.Runtime(mode) as one, pywamr.Runtime(mode) as two:
        register_all(one)
        register_all(two, h_add=lambda a, b: a * b)
        first, second = host_instance(one), host_instance(two)
        assert first.call("call_add", 3, 4) == 7
        assert second.call("call_add", 3, 4) == 12
        one.register_host("env", "h_add", lambda a, b: 0, "(ii)i")
        assert first.call("call_add", 3, 4) == 7  # loaded modules keep what they linked
        assert host_instance(one).call("call_add", 3, 4) == 0
        assert one.hosts[("env", "h_add")] == "(ii)i"


def test_register_many_and_decorator(runtime: pywamr.Runtime) -> None:
    runtime.register_hosts("env", {name: (lambda *a: 0, sig) for name, sig in SIGS.items()
                                   if name != "h_void"} | {"h_void": (lambda: None, "()")})

    @runtime.host("env", "h_add", "(ii)i")
    def h_add(a: int, b: int) -> int:
        return a - b

    assert h_add(5, 3) == 2  # the decorator returns the function itself
    assert host_instance(runtime).call("call_add", 5, 3) == 2


def test_reentrant_call_from_host(runtime: pywamr.Runtime) -> None:
    register_all(runtime)
    runtime.register_host("env", "h_i64", lambda inst, v: inst.call("call_add", int(v), 1),
                          "(I)I", pass_instance=True)
    inst = host_instance(runtime)
    assert inst.call("call_i64", 41) == 42


def test_printf_output_is_captured(runtime: pywamr.Runtime, capfd: pytest.CaptureFixture) -> None:
    inst = runtime.load(payload("libc")).instantiate(heap_size=64 * 1024)
    inst.capture_output()
    assert inst.call("hello", 7) == 7
    assert inst.call("hello", 8) == 8
    assert inst.take_output() == b"hello 7\nhello 8\n"
    assert inst.take_output() == b""
    assert inst.call("dup_len", 16) >= 0
    assert inst.call("use_malloc", 100) == 100
    inst.capture_output(False)
    inst.call("hello", 9)
    assert "hello 9" in capfd.readouterr().out


def test_float_bits_survive_the_bridge(runtime: pywamr.Runtime) -> None:
    register_all(runtime, h_f32=lambda v: v, h_f64=lambda v: v)
    inst = host_instance(runtime)
    value = struct.unpack("<f", struct.pack("<f", 1.1))[0]
    assert inst.call("call_f32", value) == value
    assert inst.call("call_f64", -0.0) == 0.0


def test_native_function_by_address(runtime: pywamr.Runtime) -> None:
    # A real C function with WAMR's raw ABI: the package's own close_file native,
    # registered by address as a user would register theirs.
    lib, ffi = runtime._core.lib, runtime._core.ffi
    address = int(ffi.cast("uintptr_t", lib.pw_builtin_fn(b"teaclave_close_file")))
    register_all(runtime)
    runtime.register_host("env", "h_ptr", pywamr.NativeFunction(address, "(i)i"))
    inst = host_instance(runtime)
    assert inst.call("call_ptr", 5) == -1  # handle 5 is not open: the native says -1
    assert inst.call("call_add", 1, 2) == 3


def test_generated_invokers_release_every_view() -> None:
    from pywamr import _host, _lib

    ffi = _lib.core("fast-interp").ffi
    kept: list[memoryview] = []
    invoke = _host._compile_invoker(lambda a, b: kept.extend([a, b]), "env.two", "*~*~", "",
                                    False, ffi)
    memory = ffi.new("uint8_t[]", b"abcdefgh")
    args = ffi.new("uint64_t[]", [0, 3, 4, 4])
    assert invoke(args, memory, 0) == 0
    assert len(kept) == 2
    for view in kept:
        with pytest.raises(ValueError):
            bytes(view)
