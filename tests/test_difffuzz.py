"""The differential fuzzer (tools/difffuzz): its comparison rules, and a
short bounded run per mode that fails on any divergence, crash or hang.

Long runs are a documented tool invocation (docs/differential-fuzzing.md).
"""

from __future__ import annotations

import math
import shutil
import struct
import sys
from typing import Any

import pytest
from helpers import ROOT
from wat import wat

import pywamr

sys.path.insert(0, str(ROOT))
from tools.difffuzz import worker
from tools.difffuzz.campaign import campaign
from tools.difffuzz.engines import Pywamr, Reference
from tools.difffuzz.generate import make_module
from tools.difffuzz.nancanon import canonical_variant, rewrite_text
from tools.difffuzz.outcome import Call, Outcome, compare, memory_difference, same_value
from tools.difffuzz.worker import ABORT_ENV, Shared, canonical_nan_rule, fuzz_one

MODULES_PER_MODE = 30
SEED = 20261202
# Divergences of the bounded run that are known engine bugs, each reduced and documented in
# docs/differential-fuzzing.md: (mode, module index) -> divergence signature.  Anything else
# fails the test, and so does a listed divergence that no longer happens (a fix removes its
# entry, so a fixed bug cannot come back unnoticed).
KNOWN: dict[tuple[str, int], str] = {
    # none open: D2 (#14, #15, #23) and D4 (#6) were fixed by WAMR patches 0018 and 0017
}
needs_binaryen = pytest.mark.skipif(shutil.which("wasm-opt") is None,
                                    reason="binaryen's wasm-opt is not installed (tools/setup.sh)")


def _nan(bits: int) -> float:
    return float(struct.unpack("<d", struct.pack("<Q", bits))[0])


def test_values_compare_bit_for_bit_except_nan_payloads() -> None:
    assert same_value(_nan(0x7FF8000000000000), _nan(0xFFF0000000000001))
    assert not same_value(0.0, -0.0)
    assert not same_value(1.0, _nan(0x7FF8000000000000))
    assert same_value(-5, -5) and not same_value(5, 6)
    assert math.isnan(_nan(0x7FF0000000000001))


def test_memory_compares_bytes_except_inside_stored_nans() -> None:
    ref = bytearray(16)
    got = bytearray(16)
    assert memory_difference(bytes(ref), bytes(got)) is None
    struct.pack_into("<I", ref, 5, 0x7FC00000)          # f32 NaNs, unaligned, payloads differ
    struct.pack_into("<I", got, 5, 0xFFC00001)
    assert memory_difference(bytes(ref), bytes(got)) is None
    got[12] = 1
    assert "memory byte 12" in (memory_difference(bytes(ref), bytes(got)) or "")
    assert memory_difference(bytes(16), bytes(32)) == "memory size 32 instead of 16"


def test_compare_names_the_first_divergence() -> None:
    ref = Outcome(calls=[Call("a", result=(1,)), Call("b", trap="unreachable")])
    assert compare(ref, Outcome(calls=[Call("a", result=(1,)), Call("b", trap="unreachable")])) \
        is None
    kind, detail = compare(ref, Outcome(calls=[Call("a", result=(2,)),
                                               Call("b", trap="unreachable")])) or ("", "")
    assert kind == "result" and "'a'" in detail
    assert (compare(ref, Outcome(calls=[Call("a", result=(1,)), Call("b", result=())])) or
            ("",))[0] == "trap"
    assert (compare(ref, Outcome(refused="LoadError: type mismatch")) or ("",))[0] == "refused"
    logged = Outcome(calls=[Call("a", result=(1,), logs=[("log-i32", 3)]),
                            Call("b", trap="unreachable")])
    assert (compare(ref, logged) or ("",))[0] == "log"
    # Engines may differ in how deep recursion goes: nothing after it is compared.
    deep = Outcome(calls=[Call("a", trap="stack exhausted"), Call("b", result=(7,))])
    assert compare(Outcome(calls=[Call("a", result=(1,)), Call("b", result=(8,))]), deep) is None


@needs_binaryen
def test_modules_are_reproducible_from_seed_and_index() -> None:
    assert make_module(SEED, 3, "base") == make_module(SEED, 3, "base")
    assert make_module(SEED, 3, "base") != make_module(SEED, 4, "base")


# base seed 8101 #13231 (run 8), reduced with wasm-reduce: f64.max of a NaN stored, its low
# half reloaded as an f32 and truncated.  WAMR returns the canonical NaN (low half 0: the f32 is
# 0.0), wasmtime keeps the payload (the f32 is a NaN: trap); both are arithmetic NaNs, which the
# spec allows.  A trap divergence a NaN payload explains is not a finding.
NAN_TRAP_WAT = """
(module
  (memory 16 17)
  (func (export "func") (param f64 i64) (result f32)
    (f64.store offset=22 (i32.const 15)
      (f64.max (f64.const -nan:0xfffffffffffe4) (f64.const 0.787)))
    (f32.const 0))
  (func (export "func_0") (result i64)
    (drop (i32.trunc_f32_s (f32.load align=2 (i32.const 37))))
    (i64.const -9223372036854775808)))
"""


@needs_binaryen
@pytest.mark.parametrize("mode", ["fast-interp", "classic-interp", "aot"])
def test_a_trap_a_nan_payload_explains_is_not_a_finding(mode: str) -> None:
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    wasm = wat(NAN_TRAP_WAT)
    record = fuzz_one(wasm, 8101, 13231, Reference(), Pywamr(mode), features="base")
    assert record["status"] == "nan-explained", record
    assert record["nan_kind"] == "trap" and "invalid conversion" in record["nan_check"]
    # proven without running pywamr again: the reference with f64.max's NaN canonical
    # (what WAMR chose) traps nowhere either, so even aot alone gets it
    assert record["nan_rule"] == "canonical-nan:minmax", record
    strict = fuzz_one(wasm, 8101, 13231, Reference(), Pywamr(mode), features="base",
                      trap_nan_ok=False)
    assert strict["status"] == "nan-explained", strict


@needs_binaryen
def test_denan_trap_check_needs_an_interpreters_word_in_aot(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Without the canonical-NaN proof, only the --denan re-run is left, and aot alone
    does not get that benefit of the doubt: its --denan copy is optimised differently,
    which could hide a dropped bounds check (the worker passes trap_nan_ok only after an
    interpreter's NaN-explained trap on the same module)."""
    if not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    monkeypatch.setattr(worker, "SETS_TRIED", ())
    wasm = wat(NAN_TRAP_WAT)
    record = fuzz_one(wasm, 8101, 13231, Reference(), Pywamr("aot"), features="base")
    assert record["status"] == "nan-explained" and record["nan_rule"] == "denan", record
    strict = fuzz_one(wasm, 8101, 13231, Reference(), Pywamr("aot"), features="base",
                      trap_nan_ok=False)
    assert strict["status"] == "divergence" and strict["kind"] == "trap", strict


# The sign of a NaN (run 8c, simd seed 8103), reduced with wasm-reduce, then by hand: WAMR's
# aot min/max give the positive canonical NaN (0x7fc00000), wasmtime x86's negative one.
# #1002: the f64 lane over two f32 lanes of f32x4.max, one of them a NaN.
NAN_SIGN_RESULT = """
(module
  (func (export "func_11") (result f64)
    (f64x2.extract_lane 1
      (f32x4.max (v128.const i32x4 0 0 0 0)
                 (v128.const i32x4 0xffffe525 0xffffffff 0xffffffff 0x0000007f)))))
"""
# #12888: the bytes of f32x4.min's NaN lanes compared with i8x16.le_s, the mask stored.
NAN_SIGN_MEMORY = """
(module
  (memory (export "memory") 1)
  (func (export "func_6_invoker")
    (v128.store (i32.const 35)
      (i8x16.le_s (v128.const i32x4 0xabf50081 0x015f0100 0x00f9009a 0x4301c8ff)
        (i16x8.min_s (v128.const i32x4 0x016d7200 0x01454b4c 0x00000001 0x01ff803e)
          (f32x4.min (v128.const i32x4 0xffffffff 0x7fefffff 0xffffa334 0xffffffff)
                     (v128.const i32x4 0xffffb565 0xffffffff 0x00000000 0x406bc000)))))))
"""
NAN_OPS = """
(module
  (func (export "max") (param f32) (result i32)
    (i32x4.extract_lane 2 (f32x4.max (v128.const f32x4 0 0 0 0) (f32x4.splat (local.get 0)))))
  (func (export "min") (param f64) (result i64)
    (i64.reinterpret_f64 (f64.min (local.get 0) (f64.const 1))))
  (func (export "sub") (param f64 f64) (result i64) (local i32)
    (i64.reinterpret_f64 (f64.sub (local.get 0) (local.get 1))))
  (func (export "nothing")))
"""


def _reference_calls(wasm: bytes, calls: list[tuple[str, list[object]]]) -> list[int]:
    import wasmtime
    config = wasmtime.Config()
    config.wasm_simd = True
    store = wasmtime.Store(wasmtime.Engine(config))
    instance = wasmtime.Instance(store, wasmtime.Module(store.engine, wasm), [])
    exports = instance.exports(store)
    return [exports[name](store, *args) for name, args in calls]


def test_canonical_variant_makes_only_the_chosen_nans_canonical() -> None:
    """The reference running the variant: NaNs of the chosen operations become the positive
    canonical NaN, everything else (other NaNs, numbers) stays as it was."""
    wasm = wat(NAN_OPS)
    calls: list[tuple[str, list[object]]] = [
        ("max", [math.nan]), ("max", [2.5]), ("min", [-math.nan]), ("min", [-3.0]),
        ("sub", [math.inf, math.inf]), ("sub", [5.0, 1.5])]
    before = _reference_calls(wasm, calls)
    minmax, rewritten = canonical_variant(wasm, "minmax")
    assert rewritten == 2
    canon32, canon64 = 0x7FC00000, 0x7FF8000000000000
    got = _reference_calls(minmax, calls)
    assert [got[0] & 0xFFFFFFFF, got[2] & (1 << 64) - 1] == [canon32, canon64]
    assert [got[1], got[3], got[4], got[5]] == [before[1], before[3], before[4], before[5]]
    assert before[4] & (1 << 64) - 1 != canon64    # x86's inf - inf: the negative NaN
    every, rewritten = canonical_variant(wasm, "all")
    assert rewritten == 3
    got = _reference_calls(every, calls)
    assert got[4] & (1 << 64) - 1 == canon64 and got[5] == before[5]


def test_rewrite_adds_scratch_locals_after_the_existing_ones() -> None:
    text = ("(module\n  (func (;0;) (type 0) (param f32) (result f32)\n    (local i32)\n"
            "    local.get 0\n    f32.sqrt)\n  (func (;1;) (type 1)))\n")
    rewritten, count = rewrite_text(text, frozenset({"f32.sqrt"}))
    lines = rewritten.splitlines()
    assert count == 1 and lines[3].strip().startswith("(local $__nan_f32 f32")
    assert lines[5:8] == ["    f32.sqrt", "    local.tee $__nan_f32", "    f32.const nan"]
    assert lines[11] == "    select)"                # the body's closing parenthesis moved
    assert lines[-1] == "  (func (;1;) (type 1)))"    # no body: nothing added


@needs_binaryen
@pytest.mark.parametrize("source, index, kind", [(NAN_SIGN_RESULT, 1002, "result"),
                                                 (NAN_SIGN_MEMORY, 12888, "memory")])
def test_the_sign_of_a_canonical_nan_is_proven_not_a_finding(source: str, index: int,
                                                              kind: str) -> None:
    if not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    record = fuzz_one(wat(source), 8103, index, Reference(), Pywamr("aot"), features="simd")
    assert record["status"] == "nan-explained", record
    assert record["nan_kind"] == kind and record["nan_rule"] == "canonical-nan:minmax", record


def test_a_difference_beside_the_nan_is_not_explained() -> None:
    """The proof compares pywamr's whole outcome with the variant's: pywamr's real outcome
    of #12888 with one more byte changed (as a wrong store would) is not explained."""
    if not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    wasm = wat(NAN_SIGN_MEMORY)
    shared = Shared(wasm, 8103, 12888, Reference(), "simd")
    got = Pywamr("aot").run(wasm, shared.calls)
    assert compare(shared.expected, got) is not None           # the NaN sign diverges
    assert canonical_nan_rule(shared, got) == "canonical-nan:minmax"
    memory = got.calls[0].memory
    assert memory is not None and memory[1000] == 0
    got.calls[0].memory = memory[:1000] + b"\x01" + memory[1001:]
    assert canonical_nan_rule(shared, got) is None


@pytest.fixture(scope="module")
def bounded_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One campaign over every mode (the reference runs once per module)."""
    modes = ["fast-interp", "classic-interp"] + (["aot"] if pywamr.aot_available() else [])
    return campaign(modes, "base", SEED, MODULES_PER_MODE,
                    crashes=tmp_path_factory.mktemp("difffuzz") / "crashes")


@needs_binaryen
@pytest.mark.parametrize("mode", ["fast-interp", "classic-interp", "aot"])
def test_bounded_differential_run(mode: str, bounded_run: dict[str, Any]) -> None:
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    data = bounded_run["modes"][mode]
    assert data["modules"] == MODULES_PER_MODE
    assert data["compared"] >= MODULES_PER_MODE * 0.9      # wasmtime accepts (nearly) all
    assert data["export_calls"] > MODULES_PER_MODE
    problems = [f"#{f['index']} {f['status']} {f.get('kind', '')}: {f.get('detail', '')[:400]} "
                f"(saved as {f.get('saved')})" for f in data["findings"]
                if KNOWN.get((mode, f["index"])) != f.get("signature")]
    seen = {(mode, f["index"]): f.get("signature") for f in data["findings"]}
    problems += [f"#{index} was a known divergence ({signature}) and no longer diverges: "
                 "remove it from KNOWN" for (m, index), signature in KNOWN.items()
                 if m == mode and seen.get((m, index)) != signature]
    assert not problems, "\n".join(problems)


@needs_binaryen
def test_a_dying_worker_is_blamed_on_the_module_and_stage_it_was_on(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker aborts (as a crashing engine would) in one mode of module 1, in the
    reference run of module 2 and in the other mode of module 3: each is recorded there,
    and the next worker goes on with the rest."""
    monkeypatch.setenv(ABORT_ENV, "1:classic-interp,2:reference,3:fast-interp")
    modes = ["fast-interp", "classic-interp"]
    summary = campaign(modes, "base", SEED, 5)
    statuses = {mode: {f["index"]: f["status"] for f in summary["modes"][mode]["findings"]}
                for mode in modes}
    assert statuses == {"fast-interp": {2: "reference-crash", 3: "crash"},
                        "classic-interp": {1: "crash", 2: "reference-crash"}}
    for mode in modes:
        assert summary["modes"][mode]["modules"] == 5
        assert summary["modes"][mode]["statuses"]["ok"] == 3


@needs_binaryen
def test_a_spinning_worker_is_a_hang_of_its_module_and_stage(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A worker that burns CPU without answering is given up after the deadline (in CPU
    seconds) and blamed on the stage it was in; the next worker goes on."""
    monkeypatch.setenv(ABORT_ENV, "1:fast-interp:spin")
    summary = campaign(["fast-interp"], "base", SEED, 3, deadline=2.0)
    data = summary["modes"]["fast-interp"]
    assert [(f["index"], f["status"]) for f in data["findings"]] == [(1, "hang")]
    assert data["modules"] == 3 and data["statuses"]["ok"] == 2
