"""Regression tests for AOT code-generation fixes found by the differential fuzzer
and the spec suite (issue 10, findings D2, D4, D5, SIMD; vendor/patches/0016-0019, 0029-0033,
0038, 0039).

Each test holds the minimal module that showed the fault.  SIMD tests run in aot only
(WAMR's interpreters have no SIMD); the others in every mode, so the modes must agree.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from helpers import ALL_MODES, requires_aot
from wat import wat

import pywamr

# v128 values cross the API as unsigned 128-bit ints, lane 0 in the low bits.
MASK64 = (1 << 64) - 1


def i32x4(*lanes: int) -> int:
    return sum((lane & 0xFFFFFFFF) << (32 * k) for k, lane in enumerate(lanes))


def i64x2(lo: int, hi: int) -> int:
    return (lo & MASK64) | ((hi & MASK64) << 64)


@pytest.fixture(params=ALL_MODES)
def rt(request: pytest.FixtureRequest) -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime(str(request.param)) as runtime:
        yield runtime


@pytest.fixture
def aot() -> Iterator[pywamr.Runtime]:
    with pywamr.Runtime("aot") as runtime:
        yield runtime


# -- vendor/patches/0016: v128 in extra results and on the native stack (D5) --
D5_MINIMAL = """
(module
  (func $mv (result i32 f32 v128) (i32.const 2) (f32.const 3) (v128.const i32x4 1 2 3 4))
  (func (export "f") (call $mv) (drop) (drop) (drop)))
"""


@requires_aot
def test_v128_third_result_of_a_call(aot: pywamr.Runtime) -> None:
    with aot.load(wat(D5_MINIMAL)) as module, module.instantiate() as inst:
        for _ in range(3):
            assert inst.call("f") is None


# Result lists with a v128 after 0, 1, 2, 3 and 5 cells of other results (every 4-byte
# alignment of its slot), several v128s, and a v128 first.
RESULT_LISTS = [
    ["i32", "v128"],
    ["i32", "f32", "v128"],
    ["i64", "i32", "v128"],
    ["i32", "i32", "i32", "i32", "v128"],
    ["f64", "i32", "v128", "f32", "v128", "i64", "v128"],
    ["v128", "i32", "v128", "f64"],
]


def _const(t: str, k: int) -> tuple[str, int | float]:
    """A constant of type t (the k-th of its function) and the value the API returns."""
    if t == "i32":
        return f"(i32.const {100 + k})", 100 + k
    if t == "i64":
        return f"(i64.const {-(1 << 40) - k})", -(1 << 40) - k
    if t == "f32":
        return f"(f32.const {k}.5)", k + 0.5
    if t == "f64":
        return f"(f64.const -{k}.25)", -k - 0.25
    lanes = [k * 16 + lane + 1 for lane in range(4)]
    return f"(v128.const i32x4 {' '.join(map(str, lanes))})", i32x4(*lanes)


@requires_aot
@pytest.mark.parametrize("results", RESULT_LISTS, ids=["-".join(r) for r in RESULT_LISTS])
def test_v128_results_in_every_position(aot: pywamr.Runtime, results: list[str]) -> None:
    consts = [_const(t, k) for k, t in enumerate(results)]
    sig = " ".join(results)
    locals_ = " ".join(f"(local ${k} {t})" for k, t in enumerate(results))
    # keep every result in a local, then put them back: the caller reads each one
    store = " ".join(f"(local.set ${k})" for k in reversed(range(len(results))))
    load = " ".join(f"(local.get ${k})" for k in range(len(results)))
    source = f"""
    (module
      (type $r (func (result {sig})))
      (table 1 funcref) (elem (i32.const 0) $mv)
      (func $mv (export "mv") (type $r) {' '.join(c for c, _ in consts)})
      (func $early (type $r) {' '.join(c for c, _ in consts)} (return))
      (func (export "direct") (type $r) {locals_} (call $mv) {store} {load})
      (func (export "early") (type $r) {locals_} (call $early) {store} {load})
      (func (export "indirect") (type $r) {locals_}
        (call_indirect (type $r) (i32.const 0)) {store} {load}))
    """
    expected = tuple(v for _, v in consts)
    with aot.load(wat(source)) as module, module.instantiate() as inst:
        for name in ("mv", "direct", "early", "indirect"):
            assert inst.call(name) == expected, name


# More float and v128 parameters than xmm registers, with integers between them: the
# host passes the rest on the stack, where a v128 is 16-byte aligned.
PARAMS = ["v128", "f64", "i32", "v128", "i64", "f32", "v128", "v128", "f64", "v128", "i32",
          "v128", "v128", "f64", "v128", "v128", "i64", "v128", "f32", "v128"]


def _many_params_module() -> bytes:
    v128s = [k for k, t in enumerate(PARAMS) if t == "v128"]
    floats = [k for k, t in enumerate(PARAMS) if t in ("f32", "f64")]
    ints = [k for k, t in enumerate(PARAMS) if t in ("i32", "i64")]
    body = [
        # every v128 summed lane-wise, then each float and integer folded in, so a
        # parameter read from the wrong place changes a result
        "(v128.const i64x2 0 0)", *[f"(local.get {k}) (i64x2.add)" for k in v128s],
        "(f64.const 0)", *[f"(local.get {k}) {'(f64.promote_f32)' if PARAMS[k] == 'f32' else ''}"
                           f" (f64.add) (f64.const 3) (f64.mul)" for k in floats],
        "(i64.const 0)", *[f"(local.get {k}) {'(i64.extend_i32_u)' if PARAMS[k] == 'i32' else ''}"
                           f" (i64.add) (i64.const 5) (i64.mul)" for k in ints],
        f"(local.get {v128s[-1]})", f"(local.get {v128s[0]})",
    ]
    forward = " ".join(f"(local.get {k})" for k in range(len(PARAMS)))
    return wat(f"""
    (module
      (type $p (func (param {' '.join(PARAMS)}) (result v128 f64 i64 v128 v128)))
      (table 1 funcref) (elem (i32.const 0) $p)
      (func $p (export "p") (type $p) {' '.join(body)})
      (func (export "direct") (type $p) {forward} (call $p))
      (func (export "indirect") (type $p) {forward} (call_indirect (type $p) (i32.const 0))))
    """)


@requires_aot
def test_v128_parameters_in_every_position(aot: pywamr.Runtime) -> None:
    args: list[int | float] = []
    for k, t in enumerate(PARAMS):
        args.append(i64x2(3 * k + 1, k + 1 << 20) if t == "v128" else
                    k + 0.5 if t in ("f32", "f64") else 1000 + k)
    v128s = [a for a, t in zip(args, PARAMS) if t == "v128"]
    assert isinstance(v128s[0], int)
    lo = sum(int(a) & MASK64 for a in v128s) & MASK64
    hi = sum(int(a) >> 64 for a in v128s) & MASK64
    f = 0.0
    for a, t in zip(args, PARAMS):
        if t in ("f32", "f64"):
            f = (f + a) * 3
    i = 0
    for a, t in zip(args, PARAMS):
        if t in ("i32", "i64"):
            i = (i + int(a)) * 5
    expected = (i64x2(lo, hi), f, i, v128s[-1], v128s[0])
    with aot.load(_many_params_module()) as module, module.instantiate() as inst:
        for name in ("p", "direct", "indirect"):
            assert inst.call(name, *args) == expected, name


# -- vendor/patches/0017: a trap in memory.init stops the callers (D4) --------
MEMORY_INIT_TRAPS = """
(module
  (import "env" "log" (func $log (param i32)))
  (memory 1)
  (data "abc")
  (table 1 funcref) (elem (i32.const 0) $callee)
  (func $callee (memory.init 0 (i32.const 8) (i32.const 4) (i32.const 1)))
  (func $logs_after (memory.init 0 (i32.const 8) (i32.const 4) (i32.const 1))
    (call $log (i32.const 9)))
  (func (export "caller") (call $callee) (call $log (i32.const 1)))
  (func (export "nested") (call $logs_after) (call $log (i32.const 2)))
  (func (export "indirect") (call_indirect (i32.const 0)) (call $log (i32.const 3)))
  (func (export "dst_out") (memory.init 0 (i32.const 65535) (i32.const 0) (i32.const 2))
    (call $log (i32.const 4)))
  (func (export "then_converts") (call $callee) (drop (i32.trunc_f32_s (f32.const nan))))
  (func (export "then_divides") (result i32) (call $callee) (i32.div_s (i32.const 1) (i32.const 0)))
  (func (export "fine") (memory.init 0 (i32.const 0) (i32.const 0) (i32.const 3))
    (call $log (i32.const 5)))
  (func (export "byte") (param i32) (result i32) (i32.load8_u (local.get 0))))
"""


# "then_*": the first trap is the one reported (difffuzz seed 1 #43: aot said
# "integer overflow" after a memory.init trap in a callee; #464 "invalid conversion").
@pytest.mark.parametrize("name", ["caller", "nested", "indirect", "dst_out", "then_converts",
                                  "then_divides"])
def test_memory_init_trap_stops_the_callers(rt: pywamr.Runtime, name: str) -> None:
    seen: list[int] = []
    rt.register_host("env", "log", seen.append, "(i)")
    with rt.load(wat(MEMORY_INIT_TRAPS)) as module, module.instantiate(heap_size=0) as inst:
        for _ in range(2):
            with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
                inst.call(name)
            assert seen == []             # no host call after the trap
        inst.call("fine")                 # the instance stays usable
        assert seen == [5]
        assert inst.call("byte", 1) == ord("b")


# -- vendor/patches/0018: every load's bounds check survives optimisation (D2) -
# Loads whose value the optimiser finds dead in ways a look at the unoptimised code
# cannot predict: folded arithmetic, dead stores, calls of read-only functions whose
# result is unused (deleted, or inlined into a caller that drops it), SIMD loads.
DEAD_LOADS = """
(module
  (memory 1)
  (global $g (mut i32) (i32.const 0))
  (func $get (param i32) (result i32) (i32.load (local.get 0)))
  (func $get2 (param i32) (result i32) (i32.add (call $get (local.get 0)) (i32.const 1)))
  (func (export "local_overwritten") (param i32) (result i32) (local i32)
    (local.set 1 (i32.load8_u (local.get 0))) (local.set 1 (i32.const 7)) (local.get 1))
  (func (export "dead_call") (param i32) (result i32)
    (drop (call $get (local.get 0))) (i32.const 7))
  (func (export "dead_call_chain") (param i32) (result i32)
    (drop (call $get2 (local.get 0))) (i32.const 7))
  (func (export "and_zero") (param i32) (result i32)
    (i32.and (i32.load (local.get 0)) (i32.const 0)))
  (func (export "mul_zero") (param i32) (result i32)
    (i32.wrap_i64 (i64.mul (i64.load (local.get 0)) (i64.const 0))))
  (func (export "always_true") (param i32) (result i32)
    (i32.lt_u (i32.load8_u (local.get 0)) (i32.const 256)))
  (func (export "xor_self") (param i32) (result i32) (local i32)
    (local.set 1 (i32.load (local.get 0))) (i32.xor (local.get 1) (local.get 1)))
  (func (export "select_const") (param i32) (result i32)
    (select (i32.const 3) (i32.load16_s (local.get 0)) (i32.const 1)))
  (func (export "global_overwritten") (param i32) (result i32)
    (global.set $g (i32.load16_u (local.get 0))) (global.set $g (i32.const 7)) (global.get $g))
  (func (export "in_loop") (param i32) (result i32) (local i32)
    (loop $l (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (drop (i32.load offset=4 (local.get 0)))
      (br_if $l (i32.lt_u (local.get 1) (i32.const 10))))
    (local.get 1))
  (func (export "v128_load") (param i32) (result i32)
    (drop (v128.load (local.get 0))) (i32.const 7))
  (func (export "v128_splat") (param i32) (result i32)
    (drop (v128.load32_splat (local.get 0))) (i32.const 7))
  (func (export "v128_lane") (param i32) (result i32)
    (drop (v128.load8_lane 0 (local.get 0) (v128.const i64x2 0 0))) (i32.const 7))
  (func (export "v128_extend") (param i32) (result i32)
    (drop (v128.load8x8_s (local.get 0))) (i32.const 7)))
"""
DEAD_LOAD_RESULTS = {"local_overwritten": 7, "dead_call": 7, "dead_call_chain": 7, "and_zero": 0,
                     "mul_zero": 0, "always_true": 1, "xor_self": 0, "select_const": 3,
                     "global_overwritten": 7, "in_loop": 10, "v128_load": 7, "v128_splat": 7,
                     "v128_lane": 7, "v128_extend": 7}


@pytest.mark.parametrize("name", sorted(DEAD_LOAD_RESULTS))
def test_dead_loads_still_trap(rt: pywamr.Runtime, name: str) -> None:
    if name.startswith("v128") and rt.mode != "aot":
        pytest.skip("WAMR's interpreters have no SIMD")
    source = DEAD_LOADS if rt.mode == "aot" else "\n".join(
        line for line in DEAD_LOADS.splitlines() if "v128" not in line) + ")"
    with rt.load(wat(source)) as module, module.instantiate(heap_size=0) as inst:
        assert inst.call(name, 0) == DEAD_LOAD_RESULTS[name]
        for address in (65536, 0x7FFFFFFF, -1):
            with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
                inst.call(name, address)
        assert inst.call(name, 16) == DEAD_LOAD_RESULTS[name]   # the instance stays usable


# -- vendor/patches/0029: loads stay where wasm runs them (the "aot, open" family) -
# Minimal modules for each cause the fuzzer found (base seed 7001 and 8101 modules): a
# load sunk past a trap check or into one arm of an `if` (MachineSink), a load folded
# into a select (AVX-512 masked move, select of two loads, cmov turned into a branch).
# In every mode the out-of-bounds load must trap first.
MOVED_LOADS = """
(module
  (memory 1)
  (type $ti (func (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $seven)
  (func $seven (result i32) (i32.const 7))
  (func (export "select_f64") (param i32 i32) (result f64)
    (select (f64.const 1.5) (f64.load (local.get 0)) (local.get 1)))
  (func (export "select_f32") (param i32 i32) (result f32)
    (select (f32.load (local.get 0)) (f32.const 2.5) (i32.eqz (local.get 1))))
  (func (export "select_i32") (param i32 i32) (result i32)
    (select (i32.const 7) (i32.load (local.get 0)) (local.get 1)))
  (func (export "div_after_load") (param i32 i32) (result i32)
    (i32.div_u (i32.load (local.get 0)) (local.get 1)))
  (func (export "rem_after_load") (param i32 i32) (result i32)
    (i32.rem_s (i32.load16_u (local.get 0)) (local.get 1)))
  (func (export "call_indirect_after_load") (param i32 i32) (result i32)
    (i32.add (i32.load (local.get 0))
             (call_indirect (type $ti) (i32.add (local.get 1) (i32.const 5)))))
  (func (export "used_in_if") (param i32 i32) (result i32) (local i32)
    (local.set 2 (i32.load (local.get 0)))
    (if (local.get 1) (then (return (local.get 2))))
    (i32.const 7))
  (func (export "trunc_after_load") (param i32 i32) (result i32)
    (i32.add (i32.load8_u (local.get 0))
             (i32.trunc_f32_s (f32.convert_i32_u (i32.shl (local.get 1) (i32.const 31))))))
  ;; seed 7001 #2759, reduced with wasm-reduce: the load sank past call_indirect's check
  (func (export "select_call_indirect") (param i32 i32) (result i32)
    (select (i32.const 1) (i32.load16_u align=1 (local.get 0))
            (call_indirect (type $ti) (i32.const 16)))))
"""
# export -> (second argument, what an in-bounds address at 16 gives: a value or a trap)
MOVED_LOAD_CASES: dict[str, tuple[int, object]] = {
    "select_f64": (1, 1.5), "select_f32": (1, 2.5), "select_i32": (1, 7),
    "div_after_load": (0, "integer divide by zero"),
    "rem_after_load": (0, "integer divide by zero"),
    "call_indirect_after_load": (0, "undefined element"), "used_in_if": (0, 7),
    "trunc_after_load": (1, "integer overflow"), "select_call_indirect": (0, "undefined element"),
}

# seed 7001 #432, reduced with wasm-reduce: a load in $get (its address from $hash, which
# reads memory and the hang counter), $get inlined into the export that drops its value,
# $hash into $get; before the patch the module was inlined differently from the copy that
# is checked, and only one level of inlining was accounted for.
INLINED_CHAIN = """
(module
  (memory 16 17)
  (global $g (mut i32) (i32.const 10))
  (func $hash (result i32) (local i32)
    global.get $g  i32.eqz  if  unreachable  end
    i32.const 15 i32.load8_u  i32.const 12 i32.load8_u  i32.const 11 i32.load8_u
    i32.const 10 i32.load8_u  i32.const 6 i32.load8_u  i32.const 5 i32.load8_u
    i32.const 1 i32.xor  local.tee 0  i32.const 5 i32.shl  i32.xor
    i32.const 10 i32.shl  i32.const 1 i32.xor  local.get 0  i32.add  i32.xor
    i32.const 1 i32.add  i32.xor  i32.xor  i32.const 1 i32.add  i32.const 1 i32.xor
    i32.const 5 i32.shl  i32.xor)
  (func $get (result f64)
    global.get $g  i32.eqz  if  unreachable  end
    global.get $g  i32.const 1  i32.sub  global.set $g
    call $hash
    f64.load offset=4)
  (func (export "dropped") (call $get) (drop)))
"""


@pytest.mark.parametrize("name", sorted(MOVED_LOAD_CASES))
def test_loads_trap_where_wasm_runs_them(rt: pywamr.Runtime, name: str) -> None:
    arg, in_bounds = MOVED_LOAD_CASES[name]
    with rt.load(wat(MOVED_LOADS)) as module, module.instantiate(heap_size=0) as inst:
        for address in (65536, 0x7FFFFFF0, -1):
            with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
                inst.call(name, address, arg)
        if isinstance(in_bounds, str):
            with pytest.raises(pywamr.Trap, match=in_bounds):
                inst.call(name, 16, arg)
        else:
            assert inst.call(name, 16, arg) == in_bounds


def test_load_inlined_through_a_chain_traps(rt: pywamr.Runtime) -> None:
    with rt.load(wat(INLINED_CHAIN)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("dropped")


# -- vendor/patches/0030: memory.fill's length reaches memset as a size_t ------
# base seed 8101 #17939 (run 8), reduced: the length an i32.wrap_i64 of a value with upper
# bits set; aot passed it to memset in a register whose upper half was those bits.
FILL_WRAPPED = """
(module
  (memory (export "memory") 1 1)
  (func (export "fill") (param i32 i32 i64)
    (memory.fill (local.get 0) (local.get 1) (i32.wrap_i64 (local.get 2))))
  (func (export "copy") (param i32 i32 i64)
    (memory.copy (local.get 0) (local.get 1) (i32.wrap_i64 (local.get 2)))))
"""


@pytest.mark.parametrize("length", [0, 3, 0xFFFF])
@pytest.mark.parametrize("upper", [0, 1, 0x80000000, 0xFFFFFFFF])
def test_memory_fill_length_from_a_wrapped_i64(rt: pywamr.Runtime, length: int,
                                               upper: int) -> None:
    with rt.load(wat(FILL_WRAPPED)) as module, module.instantiate(heap_size=0) as inst:
        memory = inst.memory
        memory.write(0x10000 - 1, b"\x55")        # the last byte: untouched unless filled
        wide = ((upper << 32) | length) - (1 << 64 if upper & 0x80000000 else 0)
        inst.call("fill", 0, 0xAA, wide)
        assert memory.read(0, length) == b"\xaa" * length
        assert memory.read(length, 0x10000 - length) == (
            b"\x00" * (0x10000 - length - 1) + b"\x55")
        before = memory.read(0, 0x10000)
        inst.call("copy", 1, 0, wide)             # 1 + length <= 65536: in bounds
        assert memory.read(0, 0x10000) == before[:1] + before[:length] + before[1 + length:]
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("fill", 2, 0, wide | 0xFFFF)  # 2 + 65535 > 65536: the spec's trap


# -- vendor/patches/0031: the out-of-bounds load of a select, turned into branches ----
# `select` evaluates both operands, so the out-of-bounds load must trap in every mode.
# Code generation made it conditional in two ways (minimal modules of the fuzzer's
# findings, reduced with wasm-reduce): instruction selection split a branch on a logical
# and/or into two (base seed 8101 #16684: `select i1 c, x, false`; reftypes seed 8102
# #14853: `select i1 c, true, x`), and X86's cmov conversion turned the select of two
# loads in a loop into a branch (#14853 itself); MachineSink then sank the load.
SELECT_OOB_MODULES: dict[str, tuple[str, str]] = {
    "logical_and": ("func_5", """
(module (memory 16 17) (data (i32.const 4) "\\ac")
  (func (export "func_5") (result f32)
    (if (select (i32.const 126)
                (i32.load16_s offset=2 align=1 (i32.const -26535))
                (i32.load8_s (i32.const 4)))
      (then (i32.store16 align=1 (i32.const 23) (i32.const 0))))
    (f32.const 0)))
"""),
    "logical_or": ("func_14", """
(module (memory 16 17) (data (i32.const 13) "}")
  (func (export "func_14") (result i32)
    (if (i32.wrap_i64 (select (i64.load16_u offset=22 align=1 (i32.const -262144))
                              (i64.const 0)
                              (f64.lt (f64.load align=2 (i32.const 6))
                                      (f64.const 4297455220))))
      (then (f32.store align=1 (i32.const 14) (f32.const -2147483648))))
    (unreachable)))
"""),
    "cmov_in_a_loop": ("func_14", """
(module (memory 16 17)
  (global $g (mut i32) (i32.const 100))
  (data (i32.const 8) "L\\96\\00a\\85}") (data (i32.const 30) "\\f9")
  (func (export "func_14") (result i32)
    (loop $l
      (global.set $g (i32.const 0))
      (if (i32.wrap_i64 (select (i64.load16_u offset=22 align=1 (i32.const -262144))
                                (i64.load align=2 (i32.const 5))
                                (f64.lt (f64.load align=2 (i32.const 6))
                                        (f64.const 4297455220))))
        (then (f32.store align=1 (i32.const 14) (f32.const -2147483648))))
      (br_if $l (global.get $g)))
    (unreachable)))
"""),
}


@pytest.mark.parametrize("case", sorted(SELECT_OOB_MODULES))
def test_out_of_bounds_load_in_a_select(rt: pywamr.Runtime, case: str) -> None:
    """Every mode traps on the select's out-of-bounds load (aot returned a value, or
    reached the `unreachable` after it, before patch 0031)."""
    export, source = SELECT_OOB_MODULES[case]
    with rt.load(wat(source)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call(export)


# -- vendor/patches/0038: a load kept in only some copies or iterations of a loop --------
# Non-trivial loop unswitching copied a loop per value of a loop-invariant condition and
# deleted the load where its value was dead in one copy (base seed 8101 #30: a select
# whose arms are equal when local 5 is 0; reftypes seed 8102 #16047: the copy for "the
# native stack suffices" of a call in the loop, where every path ends in `unreachable`);
# trivial unswitching moved a loop exit before the loop's load (simd seed 8103 #1210).
# They need ten functions (WAMR then runs LLVM's pre-link pipeline, which unswitches).
# LICM sank a load whose value each iteration overwrites into the loop's exit: it ran
# once, at the last address (found by hand, and in simd seed 8103 #10883).  The modes
# must agree.
LOOP_COPIES = """
(module
  (memory 16 17)
  (global $g (mut i32) (i32.const 10))
  (func $f0) (func $f1) (func $f2) (func $f3) (func $f4) (func $f5) (func $f6) (func $f7)
  (func $nop)
  ;; base seed 8101 #30 (func_21), reduced with wasm-reduce
  (func (export "unswitched_select") (param i32 i32) (result i32)
    (if (i32.eqz (global.get $g)) (then (return (local.get 0))))
    (global.set $g (i32.sub (global.get $g) (i32.const 2)))
    (if (i32.eqz (global.get $g)) (then (return (i32.const 1))))
    (global.set $g (i32.const -2))
    (loop $outer
      (global.set $g (i32.sub (global.get $g) (i32.const 1)))
      (loop $inner
        (if (i32.eqz (global.get $g)) (then (return (local.get 1))))
        (global.set $g (i32.sub (global.get $g) (i32.const 1)))
        (br_if $inner
          (i32.load16_s offset=3
            (i32.and
              (select
                (select (local.get 1)
                        (loop $l7 (result i32)
                          (if (i32.eqz (global.get $g)) (then (return (local.get 1))))
                          (br_if $l7 (i32.eqz (local.get 0)))
                          (i32.const -23791))
                        (local.get 1))
                (i32.const -23791)
                (i32.load8_s offset=22 (i32.const -5120)))
              (i32.const 15)))))
      (if (i32.eqz (global.get $g)) (then (return (i32.const 262144))))
      (global.set $g (i32.sub (global.get $g) (i32.const 1)))
      (br_if $outer (i32.eqz (local.get 1))))
    (i32.const 0))
  ;; reftypes seed 8102 #16047, reduced with wasm-reduce: the load at 3 reads 0xff010000
  ;; after "store", so the load16_s is out of bounds
  (func (export "store") (i64.store16 (i32.const 5) (i64.const 65281)))
  (func $unswitched_call
    (loop $l
      (if (i32.eqz (global.get $g)) (then (unreachable)))
      (global.set $g (i32.const 0))
      (br_if $l (i32.load16_s offset=4 align=1 (i32.load align=1 (i32.const 3))))
      (call $nop)
      (br $l)))
  (func (export "unswitched_call") (global.set $g (i32.const -1)) (call $unswitched_call))
  ;; simd seed 8103 #1210, reduced with wasm-reduce (by simdgap; no SIMD in it): trivial
  ;; unswitching moved the exit on the invariant half of `load != 0 && local 0 == 0`
  ;; before the loop, so for local 0 != 0 the load never ran
  (func (export "trivially_unswitched") (param i32) (result i64)
    (loop $l
      (if (i32.eqz (global.get $g)) (then (unreachable)))
      (br_if $l (i32.eqz (select (local.get 0) (i32.const -1)
                                 (i32.load8_u offset=22 (i32.const -41))))))
    (i64.const 1))
  ;; each iteration overwrites $v: LICM sank the load out of the loop
  (func (export "sunk_out_of_loop") (param $n i32) (result i32) (local $v i32)
    (loop $l
      (local.set $v (i32.load (i32.shl (local.get $n) (i32.const 16))))
      (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    (local.get $v)))
"""


def test_loads_in_every_copy_of_a_loop(rt: pywamr.Runtime) -> None:
    """Every mode traps on the out-of-bounds load (aot returned 0, or reached the
    `unreachable` after it, before patch 0038)."""
    with rt.load(wat(LOOP_COPIES)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("unswitched_select", 1, 0)
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("trivially_unswitched", 1)
        inst.call("store")
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("unswitched_call")
        # the loop reads n << 16 for n, n - 1, ..., 1; memory is 16 pages (n = 16 is out)
        assert inst.call("sunk_out_of_loop", 15) == 0
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("sunk_out_of_loop", 16)


# -- vendor/patches/0039: a wasm load keeps its width through code generation --------
# simd seed 9103 #15 (final run), reduced with wasm-reduce to 61 bytes, no SIMD left: the
# i64.load and the i64.store16 of its low half back to the same address are out of bounds.
# SelectionDAG narrowed `trunc (load i64)` to an i16 load, then dropped the store of what
# that load read and the load with it: no access ran at all.
STORE_BACK_NARROWED = """
(module
  (memory 16 17)
  (func (export "func_13") (result f32)
    (i64.store16 offset=22 align=1 (i32.const -129)
      (i64.load offset=22 align=1 (i32.const -129)))
    (f32.const 18446744073709551615)))
"""
# The same narrowing at the end of memory: each load is used only in its low bytes, so
# code generation read fewer bytes and an access running past the end did not trap.
# The argument is the address; memory's last 8 bytes are 01..08.
NARROWED_LOADS = """
(module
  (memory (export "memory") 1 1)
  (data (i32.const 65528) "\\01\\02\\03\\04\\05\\06\\07\\08")
  (func (export "wrap") (param i32) (result i32) (i32.wrap_i64 (i64.load (local.get 0))))
  (func (export "mask") (param i32) (result i32)
    (i32.and (i32.load (local.get 0)) (i32.const 255)))
  (func (export "wrap_add") (param i32) (result i32)
    (i32.wrap_i64 (i64.add (i64.load (local.get 0)) (i64.const 5))))
  (func (export "float_bits") (param i32) (result i32)
    (i32.wrap_i64 (i64.reinterpret_f64 (f64.load (local.get 0)))))
  (func (export "store_back") (param i32) (result i32)
    (i64.store16 (local.get 0) (i64.load (local.get 0)))
    (i32.const 1)))
"""
# export -> (address in bounds, its result, address past the end)
NARROWED_LOAD_CASES: dict[str, tuple[int, int, int]] = {
    "wrap": (65528, 0x04030201, 65530),
    "mask": (65532, 0x05, 65533),
    "wrap_add": (65528, 0x04030206, 65529),
    "float_bits": (65528, 0x04030201, 65530),
    "store_back": (65528, 1, 65530),
}


def test_store_back_of_a_narrowed_load_traps(rt: pywamr.Runtime) -> None:
    with rt.load(wat(STORE_BACK_NARROWED)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("func_13")


@pytest.mark.parametrize("name", sorted(NARROWED_LOAD_CASES))
def test_partly_used_loads_keep_their_width(rt: pywamr.Runtime, name: str) -> None:
    inside, result, past_end = NARROWED_LOAD_CASES[name]
    with rt.load(wat(NARROWED_LOADS)) as module, module.instantiate(heap_size=0) as inst:
        assert inst.call(name, inside) == result
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call(name, past_end)
        assert inst.memory.read(65528, 8) == bytes(range(1, 9))


# A v128 load used in its low half only: x86 reads 8 bytes (pmovzx, a half shuffle).
# Memory's last 16 bytes are 01..10.
NARROWED_VECTOR_LOADS = """
(module
  (memory 1 1)
  (data (i32.const 65520) "\\01\\02\\03\\04\\05\\06\\07\\08\\09\\0a\\0b\\0c\\0d\\0e\\0f\\10")
  (func (export "extend_low") (param i32) (result v128)
    (i16x8.extend_low_i8x16_u (v128.load (local.get 0))))
  (func (export "low_half") (param i32) (result v128)
    (i8x16.shuffle 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
      (v128.load (local.get 0)) (v128.const i64x2 0 0))))
"""


@requires_aot
@pytest.mark.parametrize("name", ["extend_low", "low_half"])
def test_partly_used_vector_loads_keep_their_width(aot: pywamr.Runtime, name: str) -> None:
    low = bytes(range(1, 9))
    expected = {"extend_low": int.from_bytes(b"".join(bytes([b, 0]) for b in low), "little"),
                "low_half": int.from_bytes(low + low, "little")}[name]
    with aot.load(wat(NARROWED_VECTOR_LOADS)) as module, \
            module.instantiate(heap_size=0) as inst:
        assert inst.call(name, 65520) == expected
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call(name, 65528)


# -- vendor/patches/0019: SIMD min/max/pmin/pmax with NaNs and signed zeros ----
SIMD_MIN_MAX = """
(module
  (func (export "f32x4.min") (param v128 v128) (result v128)
    (f32x4.min (local.get 0) (local.get 1)))
  (func (export "f32x4.max") (param v128 v128) (result v128)
    (f32x4.max (local.get 0) (local.get 1)))
  (func (export "f32x4.pmin") (param v128 v128) (result v128)
    (f32x4.pmin (local.get 0) (local.get 1)))
  (func (export "f32x4.pmax") (param v128 v128) (result v128)
    (f32x4.pmax (local.get 0) (local.get 1)))
  (func (export "f64x2.min") (param v128 v128) (result v128)
    (f64x2.min (local.get 0) (local.get 1)))
  (func (export "f64x2.max") (param v128 v128) (result v128)
    (f64x2.max (local.get 0) (local.get 1)))
  (func (export "f64x2.pmin") (param v128 v128) (result v128)
    (f64x2.pmin (local.get 0) (local.get 1)))
  (func (export "f64x2.pmax") (param v128 v128) (result v128)
    (f64x2.pmax (local.get 0) (local.get 1))))
"""
NAN32, NEG0_32 = 0x7FC00000, 0x80000000
NAN64, NEG0_64 = 0x7FF8000000000000, 0x8000000000000000
ONE32, TWO32 = 0x3F800000, 0x40000000
ONE64, TWO64 = 0x3FF0000000000000, 0x4000000000000000


def lanes(value: int, bits: int) -> list[int]:
    return [(value >> (bits * k)) & ((1 << bits) - 1) for k in range(128 // bits)]


def is_nan(bits: int, width: int) -> bool:
    exponent = (1 << (8 if width == 32 else 11)) - 1
    mantissa = width - (9 if width == 32 else 12)
    return (bits >> mantissa) & exponent == exponent and bits & ((1 << mantissa) - 1) != 0


# (op, a lanes, b lanes, expected lanes; None = any NaN)
F32_CASES = [
    ("min", [NAN32, 0, 0, ONE32], [0, NAN32, ONE32, 0], [None, None, 0, 0]),
    ("max", [NAN32, 0, 0, ONE32], [0, NAN32, ONE32, 0], [None, None, ONE32, ONE32]),
    ("min", [NEG0_32, 0, TWO32, ONE32], [0, NEG0_32, ONE32, TWO32],
     [NEG0_32, NEG0_32, ONE32, ONE32]),
    ("max", [NEG0_32, 0, TWO32, ONE32], [0, NEG0_32, ONE32, TWO32], [0, 0, TWO32, TWO32]),
    ("pmin", [NAN32, ONE32, NEG0_32, 0], [ONE32, NAN32, 0, NEG0_32], [None, ONE32, NEG0_32, 0]),
    ("pmax", [NAN32, ONE32, NEG0_32, ONE32], [ONE32, NAN32, 0, TWO32],
     [None, ONE32, NEG0_32, TWO32]),
]
F64_CASES = [
    ("min", [NAN64, 0], [0, NAN64], [None, None]),
    ("max", [ONE64, NAN64], [NAN64, ONE64], [None, None]),
    ("min", [NEG0_64, 0], [0, NEG0_64], [NEG0_64, NEG0_64]),
    ("max", [NEG0_64, TWO64], [0, ONE64], [0, TWO64]),
    ("pmin", [NAN64, ONE64], [ONE64, NAN64], [None, ONE64]),
    ("pmax", [NEG0_64, ONE64], [0, TWO64], [NEG0_64, TWO64]),
]


@requires_aot
@pytest.mark.parametrize("case", range(len(F32_CASES) + len(F64_CASES)))
def test_simd_min_max_nans(aot: pywamr.Runtime, case: int) -> None:
    width = 32 if case < len(F32_CASES) else 64
    op, a, b, expected = (F32_CASES + F64_CASES)[case]
    pack: Callable[..., int] = i32x4 if width == 32 else i64x2
    with aot.load(wat(SIMD_MIN_MAX)) as module, module.instantiate() as inst:
        got = lanes(inst.call(f"f{width}x{128 // width}.{op}", pack(*a), pack(*b)), width)
    for lane, want in zip(got, expected):
        assert is_nan(lane, width) if want is None else lane == want, (op, got, expected)


# A lane of a SIMD constant is a constant expression to LLVM 14, not a ConstantInt: the
# compiler read it as one where it folds constant operands (division, shift, branch
# conditions, br_table, load address, memory.fill length) and crashed or took the wrong branch.
CONSTANT_LANES = """
(module
  (memory 1)
  (data (i32.const 16) "\\2a")
  (func (export "div") (result i32)
    (i32.div_u (i32.const 100) (i32x4.extract_lane 1 (v128.const i32x4 0 5 0 0))))
  (func (export "div_zero") (result i32)
    (i32.rem_s (i32.const 100) (i16x8.extract_lane_u 4 (v128.const i16x8 1 1 1 1 0 1 1 1))))
  (func (export "shift") (result i64)
    (i64.shl (i64.const 1) (i64x2.extract_lane 1 (v128.const i32x4 0 0 3 0))))
  (func (export "br_if") (result i32)
    (block (br_if 0 (i32x4.extract_lane 2 (v128.const i64x2 0 1))) (return (i32.const 1)))
    (i32.const 2))
  (func (export "if") (result i32)
    (if (result i32) (i8x16.extract_lane_s 0 (v128.const i64x2 0 1))
      (then (i32.const 3)) (else (i32.const 4))))
  (func (export "br_table") (result i32)
    (block (block (block (br_table 0 1 2 (i32x4.extract_lane 2 (v128.const i64x2 0 1))))
      (return (i32.const 10))) (return (i32.const 11))) (i32.const 12))
  (func (export "load") (result i32)
    (i32.load8_u (i32x4.extract_lane 1 (v128.const i64x2 0x1000000000 0))))
  (func (export "fill") (result i32)
    (memory.fill (i32.const 100) (i32.const 7) (i32x4.extract_lane 0 (v128.const i32x4 3 0 0 0)))
    (i32.load (i32.const 100))))
"""


@requires_aot
def test_constant_simd_lanes_as_operands(aot: pywamr.Runtime) -> None:
    source = wat(CONSTANT_LANES)
    for _ in range(3):  # the unpatched compiler read garbage: not every compilation crashed
        with aot.load(pywamr.compile_aot(source)) as module, \
                module.instantiate(heap_size=0) as inst:
            assert [inst.call(n) for n in ("div", "shift", "br_if", "if", "br_table", "load",
                                           "fill")] == [20, 8, 2, 4, 11, 42, 0x070707]
            with pytest.raises(pywamr.Trap, match="integer divide by zero"):
                inst.call("div_zero")


# SIMD shift counts are taken modulo the lane width as unsigned numbers: the compiler used
# a signed remainder, so a negative count shifted by a negative amount (difffuzz simd seed 5
# #8: `i32x4.shr_u` by a negative count stored 0 where the spec gives 1).
SIMD_SHIFTS = """
(module
  (func (export "i32x4.shr_u") (param i32) (result v128)
    (i32x4.shr_u (v128.const i32x4 0x80007b0d 0x80000000 1 -1) (local.get 0)))
  (func (export "i8x16.shl") (param i32) (result v128)
    (i8x16.shl (v128.const i8x16 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1) (local.get 0)))
  (func (export "i16x8.shr_s") (param i32) (result v128)
    (i16x8.shr_s (v128.const i16x8 -32768 0 0 0 0 0 0 0x4000) (local.get 0)))
  (func (export "i64x2.shl") (param i32) (result v128)
    (i64x2.shl (v128.const i64x2 1 3) (local.get 0))))
"""


@requires_aot
@pytest.mark.parametrize("count", [-1, -64, 7, 31, 33, 65, 0x7FFFFFFF])
def test_simd_shift_counts_are_unsigned_modulo(aot: pywamr.Runtime, count: int) -> None:
    with aot.load(wat(SIMD_SHIFTS)) as module, module.instantiate() as inst:
        n32, n8, n16, n64 = count & 31, count & 7, count & 15, count & 63
        assert lanes(inst.call("i32x4.shr_u", count), 32) == [
            x >> n32 for x in (0x80007B0D, 0x80000000, 1, 0xFFFFFFFF)]
        assert lanes(inst.call("i8x16.shl", count), 8) == [(1 << n8) & 0xFF] * 16
        assert lanes(inst.call("i16x8.shr_s", count), 16) == [
            (x >> n16) & 0xFFFF for x in (-32768, 0, 0, 0, 0, 0, 0, 0x4000)]
        assert lanes(inst.call("i64x2.shl", count), 64) == [
            (x << n64) & MASK64 for x in (1, 3)]


# -- vendor/patches/0033: a store before a trapping access stays, though a later one
# overwrites it.  simd seed 8103 #13665 (run 8c), reduced with wasm-reduce: LLVM took the
# out-of-bounds v128 load for one that cannot trap and deleted the store16 under the
# v128.store (dead store elimination), so bytes 10-11 kept their data after the trap.
SIMD_STORE_BEFORE_TRAP = """
(module
  (memory (export "memory") 16 17)
  (data (i32.const 10) "G")
  (func (export "func_23_invoker")
    (i32.store16 (i32.const 10) (i32.const 0))
    (v128.store align=8 (i32.const 4)
      (v128.load16x4_s offset=22 align=1 (i32.const -103)))))
"""
# The same without SIMD: stores overwritten after an out-of-bounds access at an address
# LLVM can tell apart, and a store of a loop counter (moved out of the loop) before a
# later iteration's out-of-bounds load.  The argument is the iteration that traps.
STORES_BEFORE_TRAP = """
(module
  (memory (export "memory") 1 1)
  (func (export "overwritten") (param i32)
    (i32.store16 (i32.const 10) (i32.const 0x1234))
    (i64.store (i32.const 8) (i64.load (i32.const -100))))
  (func (export "dropped_between") (param i32)
    (i32.store (i32.const 8) (i32.const 0x1234))
    (drop (i32.load (i32.const -100)))
    (i32.store (i32.const 8) (i32.const 7)))
  (func (export "loop") (param $n i32) (local $i i32) (local $x i32)
    (loop $l
      (i32.store (i32.const 8) (local.get $i))
      (if (i32.eq (local.get $i) (local.get $n))
        (then (local.set $x (i32.add (local.get $x) (i32.load (i32.const -100))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 5))))
    (i32.store (i32.const 12) (local.get $x))))
"""
# export -> (argument, memory bytes 8..16 after the trap)
STORES_BEFORE_TRAP_CASES: dict[str, tuple[int, bytes]] = {
    "overwritten": (0, bytes.fromhex("0000341200000000")),
    "dropped_between": (0, bytes.fromhex("3412000000000000")),
    "loop": (3, bytes.fromhex("0300000000000000")),
}


@pytest.mark.parametrize("name", sorted(STORES_BEFORE_TRAP_CASES))
def test_stores_before_a_trap_stay(rt: pywamr.Runtime, name: str) -> None:
    arg, after = STORES_BEFORE_TRAP_CASES[name]
    with rt.load(wat(STORES_BEFORE_TRAP)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call(name, arg)
        assert inst.memory.read(8, 8) == after
    if name == "loop":   # no trap: every iteration stored, then the sum
        with rt.load(wat(STORES_BEFORE_TRAP)) as module, module.instantiate(heap_size=0) as inst:
            inst.call("loop", 5)
            assert inst.memory.read(8, 8) == bytes.fromhex("0400000000000000")


@requires_aot
def test_simd_store_before_a_trap_stays(aot: pywamr.Runtime) -> None:
    with aot.load(wat(SIMD_STORE_BEFORE_TRAP)) as module, \
            module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("func_23_invoker")
        assert inst.memory.read(4, 16) == bytes(16)    # store16 made bytes 10-11 zero


# vendor/patches/0040: a vector select expanded into a branch diamond (simd seed 9103
# #19091, reduced): the out-of-bounds v128.load must trap whichever arm is selected.
VECTOR_SELECT = """
(module
  (global $g (mut i32) (i32.const 10))
  (memory 16 17)
  (func $addr (result i32)
    (i32.shl (i32.xor (i32.load8_u (i32.const 12)) (i32.const 32)) (i32.const 15)))
  (func (export "f") (result f32) (local $a i32) (local $v v128)
    (block $l (result f32)
      (local.set $v (select (v128.const i32x4 0 0xc04c0000 0 0x40616000)
                            (v128.load offset=22 align=8 (local.tee $a (call $addr)))
                            (local.get $a)))
      (drop (br_if $l (f32.const 0) (global.get $g)))
      (global.set $g (i32.const 0))
      (f32.const -562949953421312))))
"""


@requires_aot
def test_load_of_a_vector_select_traps(aot: pywamr.Runtime) -> None:
    with aot.load(wat(VECTOR_SELECT)) as module, module.instantiate(heap_size=0) as inst:
        with pytest.raises(pywamr.Trap, match="out of bounds memory access"):
            inst.call("f")


# A funcref/externref is an i32 on the AOT compiler's stack, labelled I32 by ref.func,
# ref.null and table.get but FUNCREF/EXTERNREF by local.get/global.get: a typed select
# mixing the two was refused ("invalid stack values with different type"; the `fuzz`
# helper's reference-types runs, 7 of ~230 valid modules).
REF_SELECT = """
(module
  (type $r (func (result i32)))
  (table 1 funcref)
  (global $g funcref (ref.func $one))
  (elem declare func $one $two)
  (func $one (result i32) (i32.const 1))
  (func $two (result i32) (i32.const 2))
  (func (export "pick") (param i32) (result i32)
    (table.set 0 (i32.const 0)
      (select (result funcref) (global.get $g) (ref.func $two) (local.get 0)))
    (call_indirect (type $r) (i32.const 0)))
  (func (export "pick_null") (param i32) (result i32)
    (ref.is_null (select (result funcref) (ref.null func) (global.get $g) (local.get 0))))
  (func (export "pick_table") (param i32) (result i32) (local funcref)
    (local.set 1 (ref.null func))
    (ref.is_null (select (result funcref) (local.get 1) (table.get 0 (i32.const 0))
                         (local.get 0))))
  (func (export "pick_extern") (param externref i32) (result externref)
    (select (result externref) (local.get 0) (ref.null extern) (local.get 1))))
"""


def test_select_of_reference_values(rt: pywamr.Runtime) -> None:
    token = object()
    with rt.load(wat(REF_SELECT)) as module, module.instantiate() as inst:
        assert [inst.call("pick", 1), inst.call("pick", 0)] == [1, 2]   # table[0] = $two
        assert [inst.call("pick_null", 1), inst.call("pick_null", 0)] == [1, 0]
        assert [inst.call("pick_table", 1), inst.call("pick_table", 0)] == [1, 0]
        assert inst.call("pick_extern", token, 1) is token
        assert inst.call("pick_extern", token, 0) is None
