"""The spec-suite runner (tools/spectest) and the spec-suite floor.

The runner is checked on our own .wast file (tests/spectest/runner_check.wast)
whose deliberately wrong assertions must be counted as failures.  The suite
itself (2022-11, ../shared/wasm-testsuite relative to the repository) runs in
every mode; a file that passes fewer assertions than recorded in
tests/spectest/baseline.json, or that newly crashes or hangs, fails the test.
Set PYWAMR_SPECTEST=quick to run only the files in QUICK_FILES.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import pytest
from helpers import ROOT

import pywamr

sys.path.insert(0, str(ROOT))
from tools.spectest.runner import regressions, run_file, run_suite

SUITE = ROOT.parent / "shared" / "wasm-testsuite"
BASELINE = ROOT / "tests" / "spectest" / "baseline.json"
MODES = ["fast-interp", "classic-interp", "aot"]
# A spread of every command kind, for PYWAMR_SPECTEST=quick.
QUICK_FILES = ["address", "binary", "br_table", "bulk", "call_indirect", "conversions", "data",
               "elem", "exports", "f32", "f64", "float_exprs", "global", "i32", "i64", "imports",
               "linking", "memory", "memory_grow", "memory_init", "names", "select", "start",
               "traps", "unreached-valid", "simd_const", "simd_i32x4_arith"]

needs_wast2json = pytest.mark.skipif(shutil.which("wast2json") is None,
                                     reason="wabt's wast2json is not installed (tools/setup.sh)")


def _mode_available(mode: str) -> None:
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")


@needs_wast2json
@pytest.mark.parametrize("mode", MODES)
def test_runner_counts_right_and_wrong_assertions(mode: str, tmp_path: Path) -> None:
    _mode_available(mode)
    summary = run_suite(ROOT / "tests" / "spectest", [mode], ["runner_check"], work=tmp_path)
    found = summary["modes"][mode]["files"]["runner_check"]
    assert found["status"] == "ok"
    failed = {r["line"]: r["cause"] for r in found["failures"]}
    assert failed == {13: "wrong result", 15: "no trap", 17: "wrong result",
                      22: "invalid module accepted"}
    assert found["skipped"] == 1                     # the text-format assert_malformed
    assert found["passed"] == 14
    group = summary["modes"][mode]["groups"]["core"]
    assert (group["runnable"], group["passed"]) == (18, 14)


@needs_wast2json
def test_a_hung_file_is_a_result_and_its_remaining_commands_fail(tmp_path: Path) -> None:
    wast = tmp_path / "hang.wast"
    wast.write_text('(module (func (export "spin") (loop (br 0))) (func (export "one") '
                    '(result i32) (i32.const 1)))\n(invoke "spin")\n'
                    '(assert_return (invoke "one") (i32.const 1))\n')
    from tools.spectest.runner import convert
    json_path, error = convert(wast, tmp_path / "work")
    assert json_path is not None, error
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    result = run_file(json_path, "hang", "fast-interp", timeout=5, env=env, nice=0)
    assert result.status == "timeout"
    assert [r["status"] for r in result.records] == ["pass", "fail", "fail"]
    assert result.records[1]["cause"] == "file timeout"


@needs_wast2json
@pytest.mark.skipif(not SUITE.is_dir(), reason=f"the spec suite is not at {SUITE} "
                    "(see /work/shared/wasm-testsuite/README or run tools/spectest by hand)")
@pytest.mark.parametrize("mode", MODES)
def test_spec_suite_does_not_regress(mode: str, tmp_path: Path) -> None:
    _mode_available(mode)
    files = QUICK_FILES if os.environ.get("PYWAMR_SPECTEST") == "quick" else \
        sorted(p.stem for p in SUITE.glob("*.wast"))
    if mode != "aot":  # WAMR's interpreters have no SIMD: those files run in aot only
        files = [f for f in files if not f.startswith("simd_")]
    summary = run_suite(SUITE, [mode], files, jobs=2, work=tmp_path)
    floor = json.loads(BASELINE.read_text())
    problems = regressions(summary, floor)
    assert not problems, "\n".join(problems)
