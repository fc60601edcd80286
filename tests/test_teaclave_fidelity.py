"""Teaclave's executor's behaviour (profile "teaclave") next to pywamr's (profile "strict").

One test per behaviour of docs/teaclave-fidelity.md, each asserting both
profiles; the teaclave side in every mode (Teaclave's own WAMR build, mode
"teaclave", and the general cores).  Plus output caps, and Teaclave's example
tasks (millionaire, simple add, PSI) in every mode, policy and profile.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import ALL_MODES, example, payload, run_cli

import pywamr
from pywamr import teaclave

TEACLAVE_MODES = ["teaclave", *ALL_MODES]


def _modes() -> list[str]:
    return [m for m in TEACLAVE_MODES if m != "aot" or pywamr.aot_available()]


@pytest.fixture(params=_modes())
def tmode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def probe(case: str, tmp: Path, profile: str, mode: str | None = None,
          **options: Any) -> teaclave.RunResult:
    (tmp / "in.txt").write_bytes(b"input bytes\n")
    inputs = {"in": tmp / "in.txt", "in\ufffd": tmp / "in.txt"}
    return teaclave.invoke(payload("tc_fidelity"), {"case": case, **options.pop("args", {})},
                           inputs, {"out": tmp / "out.txt"}, profile=profile, mode=mode,
                           **options)


# 1 --------------------------------------------------------------------------
def test_1_trap_summary(tmp_path: Path, tmode: str) -> None:
    assert probe("trap", tmp_path, "teaclave", tmode).summary == "Exception: unreachable"
    assert probe("trap", tmp_path, "strict").summary == "unreachable"


# 2 --------------------------------------------------------------------------
def test_2_outputs_in_place_kept_after_a_trap(tmp_path: Path, tmode: str) -> None:
    result = probe("write-then-trap", tmp_path, "teaclave", tmode)
    assert result.trap == "Exception: unreachable"
    assert (tmp_path / "out.txt").read_bytes() == b"partial"
    assert result.outputs == {"out": str(tmp_path / "out.txt")}
    (tmp_path / "out.txt").unlink()
    strict = probe("write-then-trap", tmp_path, "strict")
    assert not (tmp_path / "out.txt").exists() and strict.outputs == {}
    assert "output 'out' discarded: the payload trapped" in strict.file_errors
    assert not list(tmp_path.glob(".out.txt.pywamr-*"))


# 3 --------------------------------------------------------------------------
@pytest.mark.parametrize("case", ["oob-buffer", "oob-id", "negative-length"])
def test_3_bad_pointers_trap_like_a_signature_check(tmp_path: Path, tmode: str,
                                                    case: str) -> None:
    assert probe(case, tmp_path, "teaclave", tmode).trap == \
        "Exception: out of bounds memory access"
    strict = probe(case, tmp_path, "strict")
    assert strict.return_value == -1 and "out of bounds" in strict.file_errors[0]


# 4 --------------------------------------------------------------------------
def test_4_handles_one_sequence_never_reused(tmp_path: Path, tmode: str) -> None:
    assert probe("reopen", tmp_path, "teaclave", tmode).return_value == 2
    assert probe("reopen", tmp_path, "strict").return_value == 1  # the freed slot again
    # input 1, then output 2 with the write bit, in both
    for profile in ("teaclave", "strict"):
        assert probe("output-handle", tmp_path, profile).return_value == 0x40000002
    many = probe("open-many", tmp_path, "teaclave", tmode)
    assert many.return_value == 1023
    assert "reached the maximum of 1023 handles per run" in many.file_errors[0]
    assert probe("open-many", tmp_path, "strict").return_value == 1100


# 5 --------------------------------------------------------------------------
ARGS = {"list": [1, "two", 3.0, None], "big": 2**64, "tiny": 1e-7, "small": 0.00001,
        "huge": 1e16, "text": "é\"x", "obj": {"b": 1, "a": [True, False]}, "n": -5}


def test_5_argument_values_rendered_as_serde_json(tmp_path: Path, tmode: str) -> None:
    probe("args", tmp_path, "teaclave", tmode, args=ARGS)
    assert (tmp_path / "out.txt").read_text() == (
        "big=1.8446744073709552e19\ncase=args\nhuge=1e16\nlist=[1,\"two\",3.0,null]\nn=-5\n"
        "obj={\"a\":[true,false],\"b\":1}\nsmall=0.00001\ntext=é\"x\ntiny=1e-7\n")
    probe("args", tmp_path, "strict", args=ARGS)
    assert (tmp_path / "out.txt").read_text() == (
        "big=18446744073709551616\ncase=args\nhuge=1e+16\nlist=[1, \"two\", 3.0, null]\nn=-5\n"
        "obj={\"b\": 1, \"a\": [true, false]}\nsmall=1e-05\ntext=é\"x\ntiny=1e-07\n")
    assert teaclave.flatten({"v": 1.5, "w": [1, 2]}, "teaclave") == [b"v", b"1.5", b"w", b"[1,2]"]
    with pytest.raises(ValueError, match="JSON"):
        teaclave.flatten({"v": float("nan")}, "teaclave")


# 6 --------------------------------------------------------------------------
def test_6_an_argument_too_big_for_the_heap_is_null(tmp_path: Path, tmode: str) -> None:
    big = {"x": "y" * 100_000}
    result = probe("nulls", tmp_path, "teaclave", tmode, args=big, heap_size=64 * 1024)
    assert result.return_value == 0b1000  # argv[3], the value of "x"
    with pytest.raises(MemoryError, match="app heap"):
        probe("nulls", tmp_path, "strict", args=big, heap_size=64 * 1024)


# 7 --------------------------------------------------------------------------
def test_7_argv_layout(tmp_path: Path, tmode: str) -> None:
    # bit 0: the array after the strings; bit 1: argv[argc] == NULL; bit 2: strings in order
    teaclave_layout = probe("layout", tmp_path, "teaclave", tmode, args={"k": "v"}).return_value
    assert teaclave_layout is not None and teaclave_layout & 0b101 == 0b101
    assert probe("layout", tmp_path, "strict", args={"k": "v"}).return_value == 0b110


# 8 --------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "teaclave_summary"), [
    ("entry_void", "7"), ("entry_noresult", "2"), ("entry_i64", "5"),
    ("entry_three", "Exception: invalid argument count 2, must be no smaller than 3")])
def test_8_entrypoint_called_whatever_its_type(tmode: str, name: str,
                                               teaclave_summary: str) -> None:
    result = teaclave.invoke(payload(name), {"a": "b"}, profile="teaclave", mode=tmode)
    assert result.summary == teaclave_summary
    with pytest.raises(teaclave.EntrypointError, match="expected"):
        teaclave.invoke(payload(name), {"a": "b"}, profile="strict")


# 9, 10 ----------------------------------------------------------------------
def test_9_10_unresolved_imports_and_no_libc_builtin(tmode: str) -> None:
    def summary(arguments: dict[str, str], profile: str = "teaclave") -> str:
        return teaclave.invoke(payload("unlinked"), arguments, profile=profile,
                               mode=tmode).summary

    assert summary({}) == "0"  # loads; nothing unlinked is called
    assert summary({"a": "b"}) == "Exception: failed to call unlinked import function (env, strlen)"
    assert summary({"a": "b", "c": "d"}) == \
        "Exception: failed to call unlinked import function (env, nobody_provides)"
    with pytest.raises(pywamr.LinkError, match="nobody_provides"):
        teaclave.invoke(payload("unlinked"), {}, profile="strict")


def test_10_bulk_memory_fails_to_load(tmode: str) -> None:
    with pytest.raises(pywamr.LoadError, match="unsupported opcode fc 0b"):
        teaclave.invoke(payload("bulk"), {}, profile="teaclave", mode=tmode)
    assert teaclave.run(payload("bulk"), {}, profile="strict") == 42


# 11 -------------------------------------------------------------------------
def test_11_defaults() -> None:
    with teaclave.Executor(example("simple_add"), profile="teaclave") as executor:
        assert executor.mode == "teaclave" and executor.policy == "reuse-instance"
        assert (executor.stack_size, executor.heap_size) == (160 * 1024, 20 * 1024 * 1024)
    with teaclave.Executor(example("simple_add"), profile="strict") as executor:
        assert executor.mode == "fast-interp"


# 12 -------------------------------------------------------------------------
def test_12_lossy_file_ids_and_missing_outputs(tmp_path: Path, tmode: str) -> None:
    # "in\xff" is looked up as "in\ufffd" (declared), strict compares bytes
    lossy = probe("lossy-id", tmp_path, "teaclave", tmode)
    assert lossy.return_value == 1
    assert probe("lossy-id", tmp_path, "strict").return_value == -1
    # a declared output the payload never creates fails the task
    missing = probe("no-output", tmp_path, "teaclave", tmode)
    assert missing.summary == "0" and not missing.ok
    assert missing.error == "output 'out' was declared but never created"
    with pytest.raises(teaclave.TaskError, match="never created"):
        missing.unwrap()
    strict = probe("no-output", tmp_path, "strict")
    assert strict.ok and strict.error is None and strict.unwrap() == 0


# output caps ------------------------------------------------------------------
@pytest.mark.parametrize("profile", ["teaclave", "strict"])
def test_output_caps(tmp_path: Path, profile: str) -> None:
    result = probe("write", tmp_path, profile, args={"size": "20000"},
                   max_output_bytes=10_000)
    assert result.return_value == 8192  # two 4 KiB writes fit, the third is refused
    assert any("cap of 10000 bytes per output" in e for e in result.file_errors)
    written = tmp_path / "out.txt"
    if profile == "teaclave":
        assert written.stat().st_size == 8192  # in place: nothing past the cap
    else:
        assert not written.exists()  # strict: an output with a failed write is discarded
    total = probe("write", tmp_path, profile, args={"size": "20000"},
                  max_invocation_bytes=4096)
    assert total.return_value == 4096
    assert any("bytes per invocation" in e for e in total.file_errors)


def test_cap_defaults() -> None:
    with teaclave.Executor(example("simple_add"), profile="strict") as strict:
        assert strict.max_output_bytes == teaclave.STRICT_MAX_OUTPUT_BYTES == 1 << 30
        assert strict.max_invocation_bytes == teaclave.STRICT_MAX_INVOCATION_BYTES == 2 << 30
    with teaclave.Executor(example("simple_add"), profile="strict",
                           max_output_bytes=None) as unbounded:
        assert unbounded.max_output_bytes is None
    with teaclave.Executor(example("simple_add"), profile="teaclave") as tc:
        assert tc.max_output_bytes is None and tc.max_invocation_bytes is None
    with pytest.raises(ValueError, match="byte count"):
        teaclave.Executor(example("simple_add"), max_output_bytes=-1)


def test_caps_in_the_isolated_executor(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")
    with teaclave.IsolatedExecutor(payload("tc_fidelity"), workers=1, profile="teaclave",
                                   max_output_bytes=5000) as executor:
        result = executor.invoke({"case": "write", "size": "9000"}, {"in": tmp_path / "in.txt"},
                                 {"out": tmp_path / "out.txt"})
    assert result.return_value == 4096
    assert (tmp_path / "out.txt").stat().st_size == 4096


def test_caps_and_profile_on_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "in.txt").write_bytes(b"x")
    done = run_cli("run", str(payload("tc_fidelity")), "--profile", "teaclave",
                   "--arg", "case=write", "--arg", "size=9000", "--input",
                   f"in={tmp_path / 'in.txt'}", "--output", f"out={tmp_path / 'out.txt'}",
                   "--max-output-bytes", "5000")
    assert done.returncode == 0 and done.stdout.strip() == "4096"
    assert "cap of 5000 bytes per output" in done.stderr
    trap = run_cli("run", str(payload("tc_fidelity")), "--profile", "teaclave",
                   "--arg", "case=trap")
    assert trap.returncode == 2 and "Exception: unreachable" in trap.stderr


# Teaclave's example tasks -------------------------------------------------------
@pytest.mark.parametrize("profile", ["teaclave", "strict"])
@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_example_tasks(tmp_path: Path, tmode: str, policy: str, profile: str) -> None:
    (tmp_path / "a").write_text("4211037")
    (tmp_path / "b").write_text("1008611")
    (tmp_path / "p0").write_text("MQV\n93J\nI19\nBJE\n")
    (tmp_path / "p1").write_text("F4P\nI19\n4BZ\nMQV\n")
    options = {"mode": tmode, "policy": policy, "profile": profile}
    assert teaclave.run(example("simple_add"), {"adder1": "3", "adder2": "4"}, **options) == 7
    out = tmp_path / "out"
    assert teaclave.run(example("millionaire"),
                        {"input_file_id1": "pf_in_a", "input_file_id2": "pf_in_b",
                         "output_file_id": "pf_out"},
                        {"pf_in_a": tmp_path / "a", "pf_in_b": tmp_path / "b"},
                        {"pf_out": out}, **options) == 7
    assert out.read_text() == "pf_in_a"  # Teaclave's fixture: a is richer
    outs = {"o1": tmp_path / "o1", "o2": tmp_path / "o2"}
    assert teaclave.run(example("psi"), {"input1_fid": "i1", "input2_fid": "i2",
                                         "output1_fid": "o1", "output2_fid": "o2"},
                        {"i1": tmp_path / "p0", "i2": tmp_path / "p1"}, outs, **options) == 2
    assert outs["o1"].read_text() == outs["o2"].read_text() == "I19\nMQV\ndone\n"
