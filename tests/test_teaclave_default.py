"""The default profile is Teaclave's, everywhere a Teaclave payload runs.

Each entry point is run without naming a profile and must behave as
Teaclave's executor (trap text ``Exception: ...``, a bad pointer traps, an
output kept after a trap, mode ``teaclave``); ``profile="strict"`` must still
give pywamr's checks.  The behaviours themselves are tested one by one in
tests/test_teaclave_fidelity.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import example, payload

from pywamr import teaclave
from pywamr.teaclave import _executor

FIDELITY = payload("tc_fidelity")


@pytest.fixture
def files(tmp_path: Path) -> tuple[dict[str, Path], dict[str, Path]]:
    (tmp_path / "in").write_text("input")
    return {"in": tmp_path / "in"}, {"out": tmp_path / "out"}


def test_the_constant_and_the_signatures_say_teaclave() -> None:
    import inspect

    assert teaclave.DEFAULT_PROFILE == "teaclave"
    for function in (teaclave.Executor.__init__, teaclave.invoke):
        assert inspect.signature(function).parameters["profile"].default == "teaclave"
    assert teaclave.flatten({"x": [1, 2.5]}) == [b"x", b"[1,2.5]"]  # serde_json's text


def test_executor(files: tuple[dict[str, Path], dict[str, Path]]) -> None:
    inputs, outputs = files
    with teaclave.Executor(FIDELITY) as executor:
        assert (executor.profile.name, executor.mode) == ("teaclave", "teaclave")
        assert executor.max_output_bytes is None and executor.max_invocation_bytes is None
        trapped = executor.invoke({"case": "write-then-trap"}, inputs, outputs)
        assert trapped.trap == "Exception: unreachable"
        assert outputs["out"].read_bytes() == b"partial"  # kept after the trap
        oob = executor.invoke({"case": "oob-buffer"}, inputs, outputs)
        assert oob.trap == "Exception: out of bounds memory access"
    with teaclave.Executor(FIDELITY, profile="strict") as executor:
        assert (executor.profile.name, executor.mode) == ("strict", "fast-interp")
        outputs["out"].unlink()
        trapped = executor.invoke({"case": "write-then-trap"}, inputs, outputs)
        assert trapped.trap == "unreachable" and not outputs["out"].exists()
        assert executor.invoke({"case": "oob-buffer"}, inputs, outputs).return_value == -1


def test_run_and_invoke(files: tuple[dict[str, Path], dict[str, Path]]) -> None:
    inputs, outputs = files
    assert teaclave.run(example("adder"), {"a": 40, "b": 2}) == 42
    result = teaclave.invoke(FIDELITY, {"case": "trap"})
    assert result.summary == "Exception: unreachable"
    assert teaclave.invoke(FIDELITY, {"case": "trap"}, profile="strict").summary == "unreachable"
    # a declared output never created fails the task (Teaclave fails it at upload)
    missing = teaclave.invoke(FIDELITY, {"case": "no-output"}, inputs, outputs)
    assert missing.return_value == 0 and missing.error is not None
    with pytest.raises(teaclave.TaskError):
        teaclave.run(FIDELITY, {"case": "no-output"}, inputs, outputs)
    assert teaclave.run(FIDELITY, {"case": "no-output"}, inputs, outputs, profile="strict") == 0
    # libc-builtin is not linked, as in Teaclave's build: strcmp traps when called
    unlinked = teaclave.invoke(payload("tc_probe"), {"case": "dirty"})
    assert unlinked.trap == ("Exception: failed to call unlinked import function "
                             "(env, strcmp)")


def test_every_example_payload_runs_in_the_default_profile(tmp_path: Path) -> None:
    """The examples need nothing but the five natives (adder was made libc-free)."""
    (tmp_path / "a").write_text("apple\nbanana\n")
    (tmp_path / "b").write_text("banana\ncherry\n")
    (tmp_path / "rich").write_text("10")
    (tmp_path / "poor").write_text("3")
    both = {"input_a": tmp_path / "a", "input_b": tmp_path / "b"}
    assert teaclave.run(example("adder"), {"a": " -7", "b": "+2"}) == -5
    assert teaclave.run(example("adder"), {"a": "2147483647", "b": "1"}) == -2147483648
    assert teaclave.run(example("adder"), {"b": 1}) == -1
    assert teaclave.run(example("simple_add"), {"adder1": 3, "adder2": 4}) == 7
    assert teaclave.run(example("compare"), {}, both, {"result": tmp_path / "r"}) == 1
    assert (tmp_path / "r").read_text() == "different\n"
    assert teaclave.run(example("wordcount"), {}, {"input": tmp_path / "a"},
                        {"output": tmp_path / "copy"}) == 2
    assert teaclave.run(example("intersection"), {}, both, {"output": tmp_path / "i"}) == 1
    assert teaclave.run(example("psi"), {"input1_fid": "i1", "input2_fid": "i2",
                                         "output1_fid": "o1", "output2_fid": "o2"},
                        {"i1": tmp_path / "a", "i2": tmp_path / "b"},
                        {"o1": tmp_path / "o1", "o2": tmp_path / "o2"}) == 1
    assert teaclave.run(example("millionaire"),
                        {"input_file_id1": "rich", "input_file_id2": "poor",
                         "output_file_id": "out"},
                        {"rich": tmp_path / "rich", "poor": tmp_path / "poor"},
                        {"out": tmp_path / "who"}) == 4
    assert (tmp_path / "who").read_text() == "rich"


def test_isolated_executor(files: tuple[dict[str, Path], dict[str, Path]]) -> None:
    inputs, outputs = files
    with teaclave.IsolatedExecutor(FIDELITY, workers=1) as executor:
        assert executor.profile == "teaclave"
        result = executor.invoke({"case": "write-then-trap"}, inputs, outputs)
        assert result.trap == "Exception: unreachable"
        assert outputs["out"].read_bytes() == b"partial"
        assert executor.invoke({"case": "args", "x": [1, "y"]}, inputs, outputs).ok
        assert b'x=[1,"y"]\n' in outputs["out"].read_bytes()  # serde_json's text


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pywamr", *args], capture_output=True,
                          text=True, timeout=120, check=False)


def test_pywamr_run(files: tuple[dict[str, Path], dict[str, Path]]) -> None:
    inputs, outputs = files
    done = _cli("run", str(example("adder")), "--arg", "a=40", "--arg", "b=2")
    assert (done.returncode, done.stdout) == (0, "42\n"), done.stderr
    done = _cli("run", str(FIDELITY), "--arg", "case=write-then-trap",
                "--input", f"in={inputs['in']}", "--output", f"out={outputs['out']}")
    assert done.returncode == 2 and "trap: Exception: unreachable" in done.stderr
    assert outputs["out"].read_bytes() == b"partial"
    outputs["out"].unlink()
    done = _cli("run", str(FIDELITY), "--arg", "case=write-then-trap", "--profile", "strict",
                "--input", f"in={inputs['in']}", "--output", f"out={outputs['out']}")
    assert done.returncode == 2 and "trap: unreachable" in done.stderr
    assert not outputs["out"].exists()
    done = _cli("run", str(FIDELITY), "--arg", "case=no-output", "--output",
                f"out={outputs['out']}")
    assert done.returncode == 4 and "never created" in done.stderr


def test_batch_defaults() -> None:
    """``pywamr batch`` and BatchExecutor pass no profile or mode of their own,
    so the executors on the workers take the default (the cluster runs in
    tests/test_distributed.py, whose manifest checks the default's results)."""
    import argparse

    from pywamr import _batch_cli

    parser = argparse.ArgumentParser()
    _batch_cli.add_batch_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["batch", "m.jsonl", "--out", "r.jsonl"])
    assert (args.profile, args.mode) == ("teaclave", None)
    line = json.dumps({"id": 1, "payload": "p.wasm", "profile": "strict"})
    assert _batch_cli._parse(line, "/")["options"] == {"profile": "strict"}
    with pytest.raises(ValueError, match="unknown profile"):
        _batch_cli._parse(json.dumps({"id": 1, "payload": "p.wasm", "profile": "x"}), "/")


def test_the_check_in_teaclave_build_is_made_once_per_payload() -> None:
    """In another mode the teaclave profile loads the payload in Teaclave's
    build first; a second executor of the same payload reuses that check."""
    _executor._validated.clear()
    loads: list[str] = []
    real_runtime = _executor.Runtime

    class CountingRuntime(real_runtime):  # type: ignore[misc, valid-type]
        def __init__(self, mode: str = "fast-interp") -> None:
            loads.append(mode)
            super().__init__(mode)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(_executor, "Runtime", CountingRuntime)
        for _ in range(3):
            teaclave.Executor(payload("tc_probe"), mode="fast-interp").close()
        assert loads.count("teaclave") == 1  # the check: once for three executors
        # other extra hosts change what resolves there: checked again
        hosts = {"env": {"strcmp": (lambda a, b: 0, "($$)i")}}
        with teaclave.Executor(payload("tc_probe"), mode="fast-interp",
                               hosts=hosts) as executor:
            assert executor.invoke({"case": "dirty"}).trap is None  # strcmp from the host
        assert loads.count("teaclave") == 2
    # what the check found still holds for a later executor: strcmp stays unlinked
    with teaclave.Executor(payload("tc_probe"), mode="fast-interp") as executor:
        assert executor.invoke({"case": "dirty"}).trap == (
            "Exception: failed to call unlinked import function (env, strcmp)")


def test_the_default_mode_runs_from_any_thread() -> None:
    """Regression: the teaclave core (no AOT) never set up WAMR's signal
    environment in threads after the first (WAMR 1.1.2 checks it only in a
    core with AOT), so their calls failed: "thread signal env not inited"."""
    import threading

    results: list[object] = []

    def work(k: int) -> None:
        with teaclave.Executor(example("adder")) as executor:
            results.extend(executor.invoke({"a": k, "b": i}).summary for i in range(3))
        results.append(teaclave.invoke(example("adder"), {"a": k, "b": 10},
                                       policy="reuse-module").summary)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    expected = [str(k + i) for k in range(4) for i in (0, 1, 2)] + [str(k + 10) for k in range(4)]
    assert sorted(results, key=str) == sorted(expected)  # type: ignore[arg-type]
