"""IsolatedExecutor: payloads in worker processes; crashes and hangs are contained."""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import isolated_hosts as H
import pytest
from helpers import example, payload

import pywamr
from pywamr import teaclave
from pywamr.teaclave._files import remove_temporaries


def alive(pid: int) -> bool:
    """Whether a process (or a zombie) with this pid exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def assert_reaped(pids: list[int]) -> None:
    assert pids and not any(alive(pid) for pid in pids)
    assert not set(pids) & {p.pid for p in multiprocessing.active_children()}


@pytest.fixture
def hooked() -> Iterator[teaclave.IsolatedExecutor]:
    """tc_hook in two workers; isolated_hosts.hook decides what each call does."""
    executor = teaclave.IsolatedExecutor(payload("tc_hook"), workers=2, hosts=H.HOSTS,
                                         heap_size=64 * 1024)
    try:
        yield executor
    finally:
        pids = executor.pids
        executor.close()
        assert_reaped(pids)



def comparable(result: teaclave.RunResult) -> dict[str, Any]:
    fields = dict(vars(result))
    fields.pop("timings")
    return fields


# -- same results as in process --------------------------------------------
def test_results_match_the_in_process_executor(files: dict[str, Path], mode: str) -> None:
    cases: list[tuple[Path, dict[str, Any], dict[str, Path], str | None]] = [
        (example("adder"), {"a": 40, "b": 2}, {}, None),
        (example("adder"), {"a": 1}, {}, None),
        (example("intersection"), {}, {"input_a": files["a"], "input_b": files["b"]}, "output"),
        (payload("tc_probe"), {"case": "leave-open"}, {"in": files["in"]}, "out"),
        (payload("tc_probe"), {"case": "bad-handle"}, {"in": files["in"]}, "out"),
        (payload("tc_probe"), {"case": "trap-after-write"}, {"in": files["in"]}, "out"),
        (payload("tc_probe"), {"case": "args", "zeta": 1.5, "alpha": "é"}, {}, "out"),
    ]
    for path, arguments, inputs, output in cases:
        results = []
        for kind in ("local", "isolated"):
            out = files["dir"] / f"{kind}.out"
            outputs = {output: out} if output else {}
            if kind == "local":
                with teaclave.Executor(path, mode=mode) as executor:
                    result = executor.invoke(arguments, inputs, outputs)
            else:
                with teaclave.IsolatedExecutor(path, workers=1, mode=mode) as executor:
                    result = executor.invoke(arguments, inputs, outputs, timings=True)
                    assert result.timings and result.timings["call"] > 0
            written = out.read_bytes() if out.exists() else None
            fields = comparable(result)
            if output in fields["outputs"]:
                assert fields["outputs"][output] == str(out)
                fields["outputs"] = {output: "<path>"}
            results.append((fields, written))
        assert results[0] == results[1], path


def test_run_raises_traps_and_returns_ints(files: dict[str, Path]) -> None:
    with teaclave.IsolatedExecutor(payload("tc_probe"), workers=1,
                                   profile="strict") as executor:  # tc_probe calls strcmp
        with pytest.raises(pywamr.Trap, match="unreachable"):
            executor.run({"case": "trap-after-write"}, outputs={"out": files["dir"] / "o"})
        assert executor.run({"case": "handles"}, {"in": files["in"]},
                            {"out": files["dir"] / "o"}) == 1
    with teaclave.IsolatedExecutor(example("adder"), workers=1) as executor:
        assert executor.run({"a": 2, "b": 3}) == 5


def test_relative_paths_are_the_callers(files: dict[str, Path],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(files["dir"])
    with teaclave.IsolatedExecutor(example("intersection"), workers=1) as executor:
        result = executor.invoke({}, {"input_a": "a.txt", "input_b": "b.txt"},
                                 {"output": "common.txt"})
    assert result.return_value == 2 and result.outputs == {"output": "common.txt"}
    assert (files["dir"] / "common.txt").read_text() == "banana\ncherry\n"


def test_errors_cross_the_process_boundary(hooked: teaclave.IsolatedExecutor) -> None:
    with pytest.raises(ValueError, match="on purpose") as info:
        hooked.run(H.args(H.RAISE))
    notes = getattr(info.value, "__notes__", [])
    assert any("env.hook" in n for n in notes) and any("worker process" in n for n in notes)
    with pytest.raises(TypeError):
        hooked.run([("a", 1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NUL"):
        hooked.run({"a": "x\0"})
    assert hooked.run({}) == 2  # 1 page + 1 page of app heap


def test_startup_errors_are_raised_by_the_constructor() -> None:
    before = {p.pid for p in multiprocessing.active_children()}
    with pytest.raises(teaclave.EntrypointError):
        teaclave.IsolatedExecutor(payload("basic"), workers=2)
    with pytest.raises(pywamr.LoadError):
        teaclave.IsolatedExecutor(b"\0asm\1\0\0\0\xff", workers=1)
    with pytest.raises(TypeError, match="module-level functions"):
        teaclave.IsolatedExecutor(payload("tc_hook"), hosts={"env": {"hook": (lambda n: n,
                                                                               "(i)i")}})
    with pytest.raises(ValueError):
        teaclave.IsolatedExecutor(example("adder"), workers=0)
    with pytest.raises(ValueError, match="fork is unsafe"):
        teaclave.IsolatedExecutor(example("adder"), start_method="fork")
    assert {p.pid for p in multiprocessing.active_children()} <= before


# -- crashes and hangs -----------------------------------------------------
@pytest.mark.deliberate_crash
@pytest.mark.parametrize("action, signal_number, exitcode", [
    (H.SEGV, 11, -11),   # a real NULL dereference in a host function
    (H.KILL, 11, -11),   # SIGSEGV sent with kill() (WAMR used to swallow it: patch 0001)
    (H.ABORT, 6, -6),
    (H.EXIT, None, 7),
])
def test_a_crashed_worker_is_reported_and_replaced(hooked: teaclave.IsolatedExecutor,
                                                   action: int, signal_number: int | None,
                                                   exitcode: int) -> None:
    before = hooked.pids
    with pytest.raises(pywamr.WorkerCrashed) as info:
        hooked.run(H.args(action))
    crash = info.value
    assert crash.signal == signal_number and crash.exitcode == exitcode
    assert crash.pid in before and not alive(crash.pid)
    assert isinstance(crash, pywamr.WamrError)
    after = hooked.pids
    assert len(after) == 2 and crash.pid not in after
    assert hooked.crashes == 1
    for _ in range(4):  # every worker, old and new, works
        assert hooked.run({}) == 2
    with pytest.raises(pywamr.WorkerCrashed):  # and it keeps recovering
        hooked.invoke(H.args(action))


def test_a_hang_in_native_code_times_out_and_the_worker_is_replaced(
        hooked: teaclave.IsolatedExecutor) -> None:
    before = hooked.pids
    start = time.monotonic()
    with pytest.raises(pywamr.Timeout, match="killed and replaced") as info:
        hooked.run(H.args(H.HANG), timeout=0.3)
    elapsed = time.monotonic() - start
    assert 0.3 + hooked.grace <= elapsed < 0.3 + hooked.grace + 5
    assert isinstance(info.value, pywamr.Trap)
    assert hooked.kills == 1 and len(set(before) - set(hooked.pids)) == 1
    assert hooked.run({}) == 2 and hooked.run({}) == 2


def test_the_in_process_watchdog_still_answers_first(hooked: teaclave.IsolatedExecutor) -> None:
    before = hooked.pids
    result = hooked.invoke(H.args(H.SLOW), timeout=0.1)  # the host returns after 0.5 s
    # the default profile (Teaclave's) keeps WAMR's "Exception: " prefix
    assert result.timed_out and result.trap == "Exception: execution timed out"
    with pytest.raises(pywamr.Timeout):
        hooked.run(H.args(H.SLOW), timeout=0.1)
    assert hooked.pids == before and hooked.kills == 0  # nobody was killed


def test_executor_level_timeout(tmp_path: Path) -> None:
    with teaclave.IsolatedExecutor(payload("tc_hook"), workers=1, hosts=H.HOSTS, timeout=0.2,
                                   grace=0.3, heap_size=64 * 1024) as executor:
        with pytest.raises(pywamr.Timeout, match="worker process"):
            executor.run(H.args(H.HANG))
        assert executor.run({}) == 2


def test_dead_workers_temporary_outputs_are_removed(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    leftovers = [tmp_path / f".out.txt.pywamr-4242-{i}.tmp" for i in range(2)]
    other = tmp_path / ".out.txt.pywamr-4243-0.tmp"
    for path in [*leftovers, other]:
        path.write_text("partial")
    remove_temporaries({"out": str(target)}, 4242)
    assert not any(p.exists() for p in leftovers) and other.exists()


# -- concurrency and lifetime ----------------------------------------------
@pytest.mark.deliberate_crash
def test_concurrent_callers_with_crashes_in_between(hooked: teaclave.IsolatedExecutor) -> None:
    errors: list[BaseException] = []
    outcomes: dict[str, int] = {"ok": 0, "crashed": 0}
    lock = threading.Lock()

    def work(k: int) -> None:
        try:
            for i in range(20):
                if k == 0 and i % 5 == 4:
                    with pytest.raises(pywamr.WorkerCrashed):
                        hooked.run(H.args(H.SEGV))
                    with lock:
                        outcomes["crashed"] += 1
                    continue
                assert hooked.run({}) == 2
                with lock:
                    outcomes["ok"] += 1
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads), "deadlock"
    assert not errors, errors
    assert outcomes == {"ok": 116, "crashed": 4} and hooked.crashes == 4
    assert len(hooked.pids) == 2


def test_close_reaps_every_worker_and_refuses_new_calls() -> None:
    executor = teaclave.IsolatedExecutor(example("adder"), workers=3)
    pids = executor.pids
    assert len(pids) == 3 and all(alive(p) for p in pids)
    assert executor.run({"a": 1, "b": 1}) == 2
    executor.close()
    executor.close()  # idempotent
    assert_reaped(pids)
    assert executor.pids == [] and executor.closed
    with pytest.raises(pywamr.ClosedError):
        executor.run({"a": 1, "b": 1})


def test_close_waits_for_calls_in_flight_or_kills_them() -> None:
    executor = teaclave.IsolatedExecutor(payload("tc_hook"), workers=2, hosts=H.HOSTS,
                                         heap_size=64 * 1024)
    pids = executor.pids
    outcome: list[object] = []

    def hang() -> None:
        try:
            outcome.append(executor.run(H.args(H.HANG)))
        except BaseException as exc:  # noqa: BLE001
            outcome.append(exc)

    thread = threading.Thread(target=hang)
    thread.start()
    time.sleep(0.5)
    executor.close(kill=True)
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], pywamr.ClosedError)
    assert_reaped(pids)


def test_an_unclosed_executor_kills_its_workers_when_collected() -> None:
    executor = teaclave.IsolatedExecutor(example("adder"), workers=2)
    pids = executor.pids
    del executor
    gc.collect()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert_reaped(pids)


@pytest.mark.deliberate_crash
def test_spawn_start_method() -> None:
    with teaclave.IsolatedExecutor(payload("tc_hook"), workers=1, start_method="spawn",
                                   hosts=H.HOSTS, heap_size=64 * 1024) as executor:
        assert executor.run({}) == 2
        with pytest.raises(pywamr.WorkerCrashed, match="SIGSEGV"):
            executor.run(H.args(H.SEGV))
        assert executor.run({}) == 2
        pids = executor.pids
    assert_reaped(pids)
