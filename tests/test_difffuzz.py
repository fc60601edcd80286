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
from tools.difffuzz.campaign import campaign
from tools.difffuzz.engines import Pywamr, Reference
from tools.difffuzz.generate import make_module
from tools.difffuzz.outcome import Call, Outcome, compare, memory_difference, same_value
from tools.difffuzz.worker import ABORT_ENV, fuzz_one

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
    # aot alone does not get the benefit of the doubt: its --denan copy is optimised
    # differently, which could hide a dropped bounds check (the worker passes
    # trap_nan_ok only after an interpreter's NaN-explained trap on the same module)
    strict = fuzz_one(wasm, 8101, 13231, Reference(), Pywamr(mode), features="base",
                      trap_nan_ok=False)
    assert strict["status"] == "divergence" and strict["kind"] == "trap", strict


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
