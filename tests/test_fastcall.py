"""The C-API caller of exports (``pywamr._fastcall``, the base of ``Function``
on CPython): every scalar signature kind gives what the general path
(:meth:`Function.call`) gives, refusals say the same words, and the safety
properties hold — the GIL released during wasm, a busy instance refused,
re-entry through host functions, traps and timeouts, no references or memory
kept per call.

The differential tests run on the cffi callers too: ``PYWAMR_FASTCALL=OFF``
in a child process (the last test).
"""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
import threading
import tracemalloc
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_MODES, INTERP_MODES, ROOT
from wat import wat

import pywamr
from pywamr import _function

accelerated = pytest.mark.skipif(not _function.ACCELERATED,
                                 reason="the C-API caller is off or not built")

_WAT_TYPES = {"i": "i32", "I": "i64", "f": "f32", "F": "f64"}
# (name, params, results): results echo parameters (by position, cyclically)
SIGNATURES = [
    ("nothing", "", ""),
    ("i", "i", "i"), ("I", "I", "I"), ("f", "f", "f"), ("F", "F", "F"),
    ("iI_f", "iI", "f"), ("fF_I", "fF", "I"), ("Ff_i", "Ff", "i"),
    ("iIfF_F", "iIfF", "F"),
    ("six", "iIfFiI", "I"),                 # more than the cffi callers' four
    ("multi", "iIfF", "FfIi"),              # several results: a tuple
    ("void4", "iIfF", ""),
    ("i64x32", "I" * 32, "I"),              # 64 cells: the C caller's most
    ("i64x33", "I" * 33, "I"),              # one more: the general path
    ("results40", "I", "I" * 40),
]


def _echo(name: str, params: str, results: str) -> str:
    ps = " ".join(_WAT_TYPES[k] for k in params)
    rs = " ".join(_WAT_TYPES[k] for k in results)
    body = []
    for j, kind in enumerate(results):
        # the j-th result: a parameter of that kind converted (or a constant)
        src = next((i for i in range(len(params)) if params[(i + j) % len(params)] == kind), None)
        if src is not None:
            body.append(f"local.get {(src + j) % len(params)}")
        else:
            body.append(f"{_WAT_TYPES[kind]}.const {j + 1}")
    return (f'(func (export "{name}") {f"(param {ps})" if ps else ""} '
            f'{f"(result {rs})" if rs else ""} {" ".join(body)})')


MODULE = """(module
  (import "env" "again" (func $again (param i32) (result i32)))
  (import "env" "nested_echo" (func $nested_echo))
""" + "\n".join(_echo(*s) for s in SIGNATURES) + """
  (memory (export "memory") 1)
  (func (export "recurse") (param i32) (result i32) local.get 0 call $again)
  (func (export "trap") (param i32) (result i32) unreachable)
  (func (export "echo_i32") (param i32) (result i32) local.get 0)
  (func (export "spin") (loop br 0))
  (func (export "host_then_spin") call $nested_echo (loop br 0))
  ;; Marks memory[4] on entry, then waits for memory[0] to become non-zero,
  ;; at most $limit iterations: returns the iterations, or -1 at the limit.
  (func (export "wait_flag") (param $limit i32) (result i32) (local $n i32)
    (i32.store (i32.const 4) (i32.const 1))
    (block $done
      (loop $l
        (br_if $done (i32.load (i32.const 0)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (br_if $l (i32.lt_u (local.get $n) (local.get $limit)))
        (return (i32.const -1))))
    local.get $n)
)
"""


@pytest.fixture(scope="module")
def module_bytes() -> bytes:
    return wat(MODULE)


@pytest.fixture(params=ALL_MODES)
def inst(request: pytest.FixtureRequest, module_bytes: bytes) -> Iterator[pywamr.Instance]:
    yield from _instance(request.param, module_bytes)


@pytest.fixture(params=INTERP_MODES)
def interp_inst(request: pytest.FixtureRequest, module_bytes: bytes) -> Iterator[pywamr.Instance]:
    yield from _instance(request.param, module_bytes)


def _instance(mode: str, module_bytes: bytes) -> Iterator[pywamr.Instance]:
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("AOT is not available in this build")
    box: list[pywamr.Instance] = []
    nested: list[int] = []

    def again(n: int) -> int:
        """Re-enters the instance through the fast path until n is 0."""
        if n == 0:
            return 0
        if n < 0:
            raise LookupError(f"refused {n}")
        return int(box[0].exports["recurse"](n - 1)) + 1

    def nested_echo() -> None:
        nested.append(box[0].exports["echo_i32"](len(nested) + 7))

    with pywamr.Runtime(mode) as rt:
        rt.register_hosts("env", {"again": (again, "(i)i"), "nested_echo": (nested_echo, "()")})
        module = rt.load(module_bytes)
        with module.instantiate(heap_size=0) as instance:
            box.append(instance)
            instance.nested = nested  # type: ignore[attr-defined]
            yield instance
        box.clear()
        module.close()


# -- values ---------------------------------------------------------------------------
GOOD = {
    "i": [0, 1, -1, -(1 << 31), (1 << 31) - 1, 1 << 31, (1 << 32) - 1, True, False],
    "I": [0, -1, -(1 << 63), (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 40, True],
    "f": [0.0, -0.0, 1.5, 1e300, -1e300, math.inf, math.nan, 3, 1 << 200, 1e-46, True],
    "F": [0.0, -0.0, 1.5, 1e300, math.nan, -math.inf, 10 ** 300, -(1 << 64), False],
}
BAD = {
    "i": [1 << 32, -(1 << 31) - 1, 1.0, "1", None, 1j],
    "I": [1 << 64, -(1 << 63) - 1, 1.5, b"1", None],
    "f": [10 ** 400, -(10 ** 400), "x", None, 1j],
    "F": [10 ** 400, "1.0", None, [1.0]],
}


def _same(value: Any) -> str:
    """A comparable form: NaN equals NaN, -0.0 differs from 0.0, 1 from 1.0."""
    return repr(value)


def _argument_rows(params: str) -> Iterator[tuple[Any, ...]]:
    """Each good value of each parameter, the others at their first value."""
    if not params:
        yield ()
        return
    for i, kind in enumerate(params):
        for value in GOOD[kind]:
            row = [GOOD[k][0] for k in params]
            row[i] = value
            yield tuple(row)


def _outcome(fn: Any, args: tuple[Any, ...]) -> str:
    try:
        return "ok " + _same(fn(*args))
    except Exception as exc:  # noqa: BLE001 - compared below
        return f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(("name", "params", "results"), SIGNATURES,
                         ids=[s[0] for s in SIGNATURES])
def test_every_signature_kind_gives_what_the_general_path_gives(
        inst: pywamr.Instance, name: str, params: str, results: str) -> None:
    fn = inst.exports[name]
    assert isinstance(fn, pywamr.Function)
    rows = list(_argument_rows(params))
    assert rows
    for args in rows:
        fast = _outcome(fn, args)
        assert fast.startswith("ok "), (name, args, fast)
        assert fast == _outcome(fn.call, args), (name, args)
    value = fn(*rows[0])
    if not results:
        assert value is None
    elif len(results) == 1:
        assert isinstance(value, float if results in "fF" else int)
    else:
        assert isinstance(value, tuple) and len(value) == len(results)


@pytest.mark.parametrize(("name", "params"), [(s[0], s[1]) for s in SIGNATURES if s[1]],
                         ids=[s[0] for s in SIGNATURES if s[1]])
def test_refusals_say_what_the_general_path_says(
        inst: pywamr.Instance, name: str, params: str) -> None:
    fn = inst.exports[name]
    good = tuple(GOOD[k][0] for k in params)
    for args in (good[:-1], (*good, 0)):  # one too few, one too many
        fast = _outcome(fn, args)
        assert fast.startswith("TypeError") and name in fast, (name, args, fast)
        if _function.ACCELERATED:  # (the cffi callers let Python count)
            assert fast == _outcome(fn.call, args)
    cases = []
    for i, kind in enumerate(params[:6]):
        for value in BAD[kind]:
            row = list(good)
            row[i] = value
            cases.append(tuple(row))
    for args in cases:
        fast, general = _outcome(fn, args), _outcome(fn.call, args)
        assert fast == general, (name, args)
        assert fast.startswith(("TypeError", "ValueError")), (name, args, fast)
        assert name in fast  # the message names the function
    assert _outcome(fn, good).startswith("ok ")  # usable after the refusals


def test_bool_and_the_upper_halves(inst: pywamr.Instance) -> None:
    exports = inst.exports
    assert exports["i"](True) == 1 and exports["F"](True) == 1.0
    assert exports["i"]((1 << 32) - 1) == -1
    assert exports["I"]((1 << 64) - 1) == -1 and exports["I"](1 << 63) == -(1 << 63)
    assert exports["I"](-(1 << 63)) == -(1 << 63)  # the cffi callers' failure sentinel
    assert exports["f"](1e300) == math.inf  # f32 overflows to infinity, as C does
    assert math.isnan(exports["F"](math.nan)) and math.isnan(exports["f"](math.nan))
    with pytest.raises(TypeError):
        exports["i"](1, timeout=1.0)  # a timeout is .call's
    with pytest.raises(TypeError):
        exports["i"](x=1)


def test_traps_closed_instances_and_the_failure_path(inst: pywamr.Instance) -> None:
    trap, echo = inst.exports["trap"], inst.exports["echo_i32"]
    for _ in range(3):
        with pytest.raises(pywamr.Trap, match="unreachable"):
            trap(1)
        assert echo(5) == 5
    inst.close()
    with pytest.raises(pywamr.WamrError):
        echo(1)


def test_reentry_through_host_functions(inst: pywamr.Instance) -> None:
    recurse = inst.exports["recurse"]
    assert recurse(0) == 0
    assert recurse(25) == 25  # wasm -> Python -> the fast path -> wasm, 25 deep
    with pytest.raises(LookupError, match="refused -1"):
        recurse(-1)
    assert recurse(3) == 3


def test_timeouts_around_fast_calls(inst: pywamr.Instance) -> None:
    with pytest.raises(pywamr.Timeout):
        inst.exports["spin"].call(timeout=0.05)
    assert inst.exports["echo_i32"](11) == 11
    # a fast call made by a host function inside a call that then times out
    with pytest.raises(pywamr.Timeout):
        inst.exports["host_then_spin"].call(timeout=0.05)
    assert inst.nested == [7]  # type: ignore[attr-defined]
    assert inst.exports["echo_i32"](12) == 12


def test_the_gil_is_released_and_a_busy_instance_refused(interp_inst: pywamr.Instance) -> None:
    """A thread waits in wasm for a flag only this thread can set: it can only
    be set (before the loop's limit) if the waiting call let go of the GIL."""
    view = interp_inst.memory.view()
    wait_flag, echo = interp_inst.exports["wait_flag"], interp_inst.exports["echo_i32"]
    result: list[int] = []
    busy: list[BaseException] = []
    worker = threading.Thread(target=lambda: result.append(wait_flag(1_500_000_000)))
    worker.start()
    polls = 0
    while view[4] == 0 and polls < 100_000:
        polls += 1
        threading.Event().wait(0.001)
    try:
        echo(1)  # the instance is in use on the other thread
    except pywamr.InstanceBusy as exc:
        busy.append(exc)
    view[0] = 1
    worker.join(300)
    assert not worker.is_alive()
    assert view[4] == 1 and result and result[0] != -1, result
    assert busy, "a call on a busy instance was not refused"
    view.release()
    assert echo(2) == 2


def test_calls_on_separate_instances_run_in_parallel_threads(module_bytes: bytes) -> None:
    errors: list[BaseException] = []
    with pywamr.Runtime("fast-interp") as rt:
        rt.register_hosts("env", {"again": (lambda n: n, "(i)i"),
                                  "nested_echo": (lambda: None, "()")})
        module = rt.load(module_bytes)
        instances = [module.instantiate(heap_size=0) for _ in range(4)]

        def work(k: int) -> None:
            try:
                multi = instances[k].exports["multi"]
                for i in range(20_000):
                    assert multi(i, -i, 0.5, 2.0) == (2.0, 0.5, -i, i)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        assert not any(t.is_alive() for t in threads)
        for instance in instances:
            instance.close()
        module.close()
    assert not errors, errors[0]


def test_no_reference_or_memory_kept_per_call(inst: pywamr.Instance) -> None:
    exports = inst.exports
    big, wide = 1 << 40, 1 << 63  # not cached small ints
    x = 2.5
    calls = [
        (exports["I"], (big,)), (exports["I"], (wide,)), (exports["multi"], (1, big, x, x)),
        (exports["F"], (x,)), (exports["i"], (big,)),           # refused: ValueError
        (exports["F"], ("x",)), (exports["trap"], (1,)),          # refused; a trap
        (exports["recurse"], (2,)), (exports["nothing"], ()),
        (exports["recurse"], (-1,)),                             # the host function raises
    ]

    def run(n: int) -> None:
        for _ in range(n):
            for fn, args in calls:
                try:
                    fn(*args)
                except (TypeError, ValueError, LookupError, pywamr.Trap):
                    pass

    run(200)  # warm caches
    gc.collect()
    refs = [sys.getrefcount(o) for o in (big, wide, x)]
    objects = len(gc.get_objects())
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    run(5_000)
    gc.collect()
    after = tracemalloc.take_snapshot()
    tracemalloc.stop()
    grown = sum(s.size_diff for s in after.compare_to(before, "filename"))
    assert [sys.getrefcount(o) for o in (big, wide, x)] == refs
    assert len(gc.get_objects()) - objects < 100
    assert grown < 64 * 1024, grown  # 50,000 calls: nothing kept per call


def test_function_keeps_its_python_face(inst: pywamr.Instance) -> None:
    fn = inst.exports["six"]
    assert fn.name == "six" and str(fn.type) in repr(fn)
    assert weakref.ref(fn)() is fn
    with pytest.raises(TypeError, match="cannot be pickled"):
        __import__("pickle").dumps(fn)
    if _function.ACCELERATED:
        assert [c.__name__ for c in type(fn).__mro__] == ["Function", "FastCall", "object"]
    else:
        assert isinstance(fn, __import__("functools").partial)


@accelerated
def test_the_accelerator_type_refuses_misuse() -> None:
    from pywamr import _fastcall

    bare = _fastcall.FastCall()
    with pytest.raises(AttributeError):  # not armed, and no .call to fall back on
        bare(1)
    with pytest.raises(TypeError):
        _fastcall.FastCall(1)  # type: ignore[call-arg]
    with pytest.raises(ValueError):
        bare._arm(0, 0, "i", "i")  # no addresses
    with pytest.raises(ValueError):
        bare._arm(1, 1, "x", "i")  # no such kind
    assert bare._arm(1, 1, "I" * 33, "") is False  # too many cells: left to .call

    class Redefined(_fastcall.FastCall):
        def __call__(self, *args: Any) -> Any:
            return args

    with pytest.raises(TypeError, match="redefines"):
        _fastcall.enable_vectorcall(Redefined)
    with pytest.raises(TypeError):
        _fastcall.enable_vectorcall(int)  # type: ignore[arg-type]


@accelerated
def test_an_armed_function_cannot_be_rearmed(inst: pywamr.Instance) -> None:
    fn = inst.exports["i"]
    with pytest.raises(RuntimeError, match="already armed"):
        fn._arm(1, 1, "", "")  # type: ignore[attr-defined]
    assert fn(3) == 3


@accelerated
def test_the_cffi_callers_pass_the_same_tests() -> None:
    """This file and test_call_paths.py with ``PYWAMR_FASTCALL=OFF``."""
    env = {**os.environ, "PYWAMR_FASTCALL": "OFF"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         str(Path(__file__)), str(ROOT / "tests" / "test_call_paths.py")],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert " passed" in proc.stdout and "failed" not in proc.stdout
