"""The Teaclave executor: calling convention, file API, policies, examples."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import example, payload

import pywamr
from pywamr import teaclave


def probe(case: str, files: dict[str, Path], mode: str = "fast-interp",
          **kwargs: object) -> teaclave.RunResult:
    """tc_probe calls libc-builtin's strcmp, and these tests check pywamr's
    strict checks: the strict profile (docs/teaclave-fidelity.md has the
    teaclave side of each behaviour)."""
    out = files["dir"] / "out.txt"
    return teaclave.invoke(payload("tc_probe"), {"case": case}, {"in": files["in"]},
                           {"out": out}, profile="strict", mode=mode,
                           **kwargs)  # type: ignore[arg-type]


def test_flatten_sorts_and_serialises() -> None:
    assert teaclave.flatten({"b": 2, "a": "x", "c": [1, "y"], "d": None}, "strict") == [
        b"a", b"x", b"b", b"2", b"c", b'[1, "y"]', b"d", b"null"]
    assert teaclave.flatten({"b": 2, "a": "x", "c": [1, "y"], "d": None}) == [  # serde_json's
        b"a", b"x", b"b", b"2", b"c", b'[1,"y"]', b"d", b"null"]
    assert teaclave.flatten(None) == [] and teaclave.flatten({}) == []
    with pytest.raises(ValueError, match="NUL"):
        teaclave.flatten({"a": "x\0y"})
    with pytest.raises(TypeError):
        teaclave.flatten([("a", "b")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        teaclave.flatten({1: "x"})  # type: ignore[dict-item]


def test_adder(mode: str) -> None:
    assert teaclave.run(example("adder"), {"a": 40, "b": "2"}, mode=mode) == 42
    assert teaclave.run(example("adder"), {"b": -5, "a": 3}, mode=mode) == -2
    assert teaclave.run(example("adder"), {"a": 1}, mode=mode) == -1  # missing argument


def test_arguments_arrive_as_sorted_pairs(files: dict[str, Path], mode: str) -> None:
    result = teaclave.invoke(payload("tc_probe"), {"zeta": 1.5, "case": "args", "alpha": "é"},
                             profile="strict",
                             outputs={"out": files["dir"] / "args.txt"}, mode=mode)
    assert result.return_value == 6  # argc is twice the number of arguments
    assert (files["dir"] / "args.txt").read_text() == "alpha=é\ncase=args\nzeta=1.5\n"


def test_compare_and_intersection(files: dict[str, Path], mode: str) -> None:
    result_path = files["dir"] / "result.txt"
    assert teaclave.run(example("compare"), {}, {"input_a": files["a"], "input_b": files["a"]},
                        {"result": result_path}, mode=mode) == 0
    assert result_path.read_text() == "same\n"
    assert teaclave.run(example("compare"), {}, {"input_a": files["a"], "input_b": files["b"]},
                        {"result": result_path}, mode=mode) == 1
    assert result_path.read_text() == "different\n"
    out = files["dir"] / "common.txt"
    assert teaclave.run(example("intersection"), {}, {"input_a": files["a"], "input_b": files["b"]},
                        {"output": out}, mode=mode) == 2
    assert out.read_text() == "banana\ncherry\n"


def test_large_file_copy(tmp_path: Path, mode: str) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17).replace(b"\n", b"x") + b"\n" * 5
    source, copy = tmp_path / "big.bin", tmp_path / "copy.bin"
    source.write_bytes(data)
    assert teaclave.run(example("wordcount"), {}, {"input": source}, {"output": copy},
                        mode=mode) == 5
    assert copy.read_bytes() == data


@pytest.mark.parametrize("case, failures, errors", [
    ("bad-handle", 4, ["bad or closed handle 12345", "bad or closed handle -3",
                       "bad or closed handle 1073741831", "bad or closed handle 0"]),
    ("wrong-direction", 2, ["handle 1 is open for reading", "is open for writing"]),
    ("closed-handle", 2, ["teaclave_close_file: bad or closed handle 1",
                          "teaclave_read_file: bad or closed handle 1"]),
    ("unknown-id", 3, ["no input declared with file id 'nope'",
                       "no output declared with file id 'undeclared'",
                       "no input declared with file id 'out'"]),
    ("out-of-bounds", 3, ["teaclave_read_file: buffer out of bounds",
                          "teaclave_write_file: buffer out of bounds",
                          "teaclave_open_input: file id out of bounds"]),
])
def test_file_api_failures_return_minus_one_and_are_recorded(
        files: dict[str, Path], mode: str, case: str, failures: int, errors: list[str]) -> None:
    result = probe(case, files, mode)
    assert result.ok and result.return_value == failures
    assert len(result.file_errors) == len(errors)
    for expected, got in zip(errors, result.file_errors):
        assert expected in got


def test_undeclared_output_is_never_created(files: dict[str, Path]) -> None:
    probe("unknown-id", files)
    assert sorted(p.name for p in files["dir"].iterdir()) == ["a.txt", "b.txt", "in.txt"]


def test_left_open_files_are_closed_and_outputs_complete(files: dict[str, Path]) -> None:
    result = probe("leave-open", files)
    assert result.files_left_open == 2
    assert result.return_value == 120
    assert (files["dir"] / "out.txt").read_bytes() == (b"input bytes\n" * 10)
    assert result.outputs == {"out": str(files["dir"] / "out.txt")}


def test_trap_discards_partial_output(files: dict[str, Path], mode: str) -> None:
    existing = files["dir"] / "out.txt"
    existing.write_text("previous")
    result = probe("trap-after-write", files, mode)
    assert not result.ok and result.return_value is None
    assert result.trap == "unreachable" and result.summary == "unreachable"
    assert existing.read_text() == "previous"  # untouched
    assert any("discarded" in e for e in result.file_errors)
    assert sorted(p.name for p in files["dir"].iterdir()) == ["a.txt", "b.txt", "in.txt",
                                                             "out.txt"]
    with pytest.raises(pywamr.Trap, match="unreachable"):
        teaclave.run(payload("tc_probe"), {"case": "trap-after-write"},
                     outputs={"out": files["dir"] / "out2.txt"}, profile="strict")


def test_open_handle_limit(files: dict[str, Path]) -> None:
    result = probe("many", files)
    assert result.return_value == 1024
    assert result.files_left_open == 1024
    assert sum("too many open files" in e for e in result.file_errors) == 1100 - 1024


def test_handle_shapes(files: dict[str, Path]) -> None:
    assert probe("handles", files).return_value == 1


def test_missing_input_file(files: dict[str, Path]) -> None:
    result = teaclave.invoke(example("compare"), {},
                             {"input_a": files["a"], "input_b": files["dir"] / "missing"},
                             {"result": files["dir"] / "r.txt"})
    assert result.return_value == -1
    assert any("cannot open file id 'input_b'" in e for e in result.file_errors)


def test_entrypoint_checks(runtime: pywamr.Runtime) -> None:
    with pytest.raises(teaclave.EntrypointError, match="no function named 'entrypoint'"):
        teaclave.run(payload("basic"))
    with pytest.raises(pywamr.LoadError):
        teaclave.run(b"\0asm\1\0\0\0\xff")
    with pytest.raises(TypeError):
        teaclave.run(example("adder"), {"a": 1}, {"x": 5})  # type: ignore[dict-item]


def test_executor_policies_agree(files: dict[str, Path], mode: str) -> None:
    outcomes = []
    for policy in teaclave.POLICIES:
        with teaclave.Executor(example("intersection"), mode=mode, policy=policy) as executor:
            runs = []
            for _ in range(3):
                out = files["dir"] / f"{policy}.txt"
                result = executor.invoke({}, {"input_a": files["a"], "input_b": files["b"]},
                                         {"output": out}, timings=True)
                runs.append((result.return_value, out.read_text(), result.file_errors))
                assert result.timings is not None and result.timings["call"] > 0
            outcomes.append(runs)
        if policy == "cold":
            assert {"runtime_init", "register_natives", "destroy"} <= set(result.timings)
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert outcomes[0][0][:2] == (2, "banana\ncherry\n")


def test_executor_instances_are_isolated(files: dict[str, Path]) -> None:
    with teaclave.Executor(payload("tc_probe"), profile="strict") as executor:
        first = executor.invoke({"case": "leave-open"}, {"in": files["in"]},
                                {"out": files["dir"] / "o1"})
        second = executor.invoke({"case": "handles"}, {"in": files["in"]},
                                 {"out": files["dir"] / "o2"})
    assert first.files_left_open == 2 and second.return_value == 1
    assert second.file_errors == []


def test_cold_policy_needs_the_core_to_itself() -> None:
    rt = pywamr.Runtime("classic-interp")
    try:
        with pytest.raises(pywamr.WamrError, match="close other runtimes"):
            teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="classic-interp",
                         policy="cold")
    finally:
        rt.close()
    assert teaclave.run(example("adder"), {"a": 1, "b": 2}, mode="classic-interp",
                        policy="cold") == 3


def test_extra_hosts_and_captured_output(files: dict[str, Path]) -> None:
    calls: list[int] = []
    hosts = {"env": {"h_add": (lambda a, b: calls.append(a) or a + b, "(ii)i")}}
    with pytest.raises(pywamr.LinkError):
        teaclave.Executor(payload("host"), hosts=hosts)
    with teaclave.Executor(example("adder"), hosts=hosts) as executor:
        assert executor.run({"a": 2, "b": 2}) == 4
        assert executor.invoke({"a": 1}).summary == "-1"


def test_closed_executor(files: dict[str, Path]) -> None:
    executor = teaclave.Executor(example("adder"))
    executor.close()
    with pytest.raises(pywamr.WamrError, match="closed"):
        executor.run({"a": 1, "b": 1})


@pytest.mark.parametrize("policy", teaclave.POLICIES)
def test_every_policy_isolates_invocations(mode: str, policy: str) -> None:
    with teaclave.Executor(payload("tc_probe"), profile="strict", mode=mode,
                           policy=policy) as executor:
        # static counter, leaked and dirtied app-heap memory: none survive
        assert [executor.run({"case": "dirty"}) for _ in range(5)] == [1000] * 5
        pages = [executor.run({"case": "grow"}) for _ in range(3)]
        assert len(set(pages)) == 1 and pages[0] > 0  # a grown memory is replaced
        assert executor.run({"case": "dirty"}) == 1000


def test_reuse_instance_is_the_default_and_survives_traps(files: dict[str, Path]) -> None:
    assert teaclave.DEFAULT_POLICY == "reuse-instance"
    with teaclave.Executor(payload("tc_probe"), profile="strict") as executor:
        for _ in range(3):
            trapped = executor.invoke({"case": "trap-after-write"},
                                      outputs={"out": files["dir"] / "t"})
            assert trapped.trap == "unreachable"
            assert executor.run({"case": "dirty"}) == 1000
        timings = executor.invoke({"case": "dirty"}, timings=True).timings
        assert timings is not None and set(timings) == {"marshal", "call", "cleanup"}


def test_reuse_instance_after_timeout(files: dict[str, Path]) -> None:
    with teaclave.Executor(payload("tc_probe"), profile="strict") as executor:
        executor.run({"case": "dirty"})
        with pytest.raises(pywamr.Timeout):
            executor.run({"case": "spin"}, timeout=0.05)
        assert executor.run({"case": "dirty"}) == 1000


EXAMPLE_RUNS = {
    "adder": ({"a": 40, "b": 2}, {}, {}),
    "compare": ({}, {"input_a": "a", "input_b": "b"}, {"result": "out"}),
    "wordcount": ({}, {"input": "a"}, {"output": "out"}),
    "intersection": ({}, {"input_a": "a", "input_b": "b"}, {"output": "out"}),
}


@pytest.mark.parametrize("name", sorted(EXAMPLE_RUNS))
def test_every_example_agrees_under_every_policy(files: dict[str, Path], mode: str,
                                                 name: str) -> None:
    arguments, inputs, outputs = EXAMPLE_RUNS[name]
    paths = {"a": files["a"], "b": files["b"]}
    seen = set()
    for policy in teaclave.POLICIES:
        with teaclave.Executor(example(name), mode=mode, policy=policy) as executor:
            for _ in range(2):
                out = files["dir"] / f"{name}-{policy}.out"
                result = executor.invoke(arguments, {k: paths[v] for k, v in inputs.items()},
                                         dict.fromkeys(outputs, out))
                text = out.read_text() if outputs else ""
                seen.add((result.return_value, text, tuple(result.file_errors)))
    assert len(seen) == 1, seen


def test_run_result_unwrap(files: dict[str, Path]) -> None:
    ok = teaclave.invoke(example("adder"), {"a": 1, "b": 2})
    assert ok.unwrap() == 3 and ok.summary == "3"
    trapped = probe("trap-after-write", files)
    with pytest.raises(pywamr.Trap, match="unreachable"):
        trapped.unwrap()
