"""Concurrency: N threads x M invocations, no crashes, deadlocks or wrong results.

Instances are one per thread (sharing one is refused with InstanceBusy, see
test_threads.py); runtimes, modules, executors and the one-shot cache are
shared.  Every join has a deadline, so a deadlock fails instead of hanging.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import isolated_hosts as H
import pytest
from helpers import example, payload

import pywamr
from pywamr import teaclave

THREADS = 6
JOIN_SECONDS = 120


def run_threads(work: Callable[[int], None], n: int = THREADS) -> None:
    errors: list[BaseException] = []

    def guarded(k: int) -> None:
        try:
            work(k)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(k,), name=f"worker-{k}") for k in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(JOIN_SECONDS)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"deadlock: {stuck} still running"
    if errors:
        raise errors[0]



def test_separate_instances_mixed_work(mode: str) -> None:
    """Calls, traps, timeouts, host callbacks and memory traffic on every thread."""
    rt = pywamr.Runtime(mode)
    rt.register_hosts("env", {
        "h_add": (lambda a, b: a + b, "(ii)i"), "h_buf": (lambda v: sum(v), "(*~)i"),
        "h_str": (lambda s: len(s), "($)i"), "h_ptr": (lambda p: p, "(*)i"),
        "h_i64": (lambda x: x, "(I)I"), "h_f32": (lambda x: x, "(f)f"),
        "h_f64": (lambda x: x * 2, "(F)F"), "h_void": (lambda: None, "()")})
    basic, host, cpu = (rt.load(payload(n)) for n in ("basic", "host", "cpu"))

    def work(k: int) -> None:
        b = basic.instantiate(heap_size=0)
        h = host.instantiate()
        c = cpu.instantiate()
        for i in range(40):
            assert b.call("add", k, i) == k + i
            assert c.call("fib", 10 + i % 8) == [55, 89, 144, 233, 377, 610, 987, 1597][i % 8]
            assert h.call("call_add", k, i) == k + i
            assert h.call("call_f64", 1.5) == 3.0
            with pytest.raises(pywamr.Trap, match="divide by zero"):
                b.call("div_s", 1, 0)
            with pytest.raises(pywamr.Trap, match="out of bounds"):
                b.call("load", 1 << 20)
            b.memory.write(64 + k * 8, bytes([k] * 8))
            assert b.call("sum_bytes", 64 + k * 8, 8) == 8 * k
            if i % 10 == 0:
                with pytest.raises(pywamr.Timeout):
                    b.call("spin", 1 << 62, timeout=0.02)
        for inst in (b, h, c):
            inst.close()

    run_threads(work)
    rt.close()


def test_both_cores_from_many_threads() -> None:
    """Threads alternate between the two WAMR builds (see vendor/patches/0001)."""
    runtimes = {m: pywamr.Runtime(m) for m in pywamr.MODES}
    modules = {m: rt.load(payload("basic")) for m, rt in runtimes.items()}

    def work(k: int) -> None:
        for i in range(30):
            mode = sorted(pywamr.MODES)[(k + i) % 2]
            with modules[mode].instantiate(heap_size=0) as inst:
                assert inst.call("add", i, k) == i + k
                with pytest.raises(pywamr.Trap, match="out of bounds"):
                    inst.call("load", 1 << 20)

    run_threads(work)
    for rt in runtimes.values():
        rt.close()


def test_concurrent_loads_instantiations_and_closes(mode: str) -> None:
    rt = pywamr.Runtime(mode)
    data = payload("cpu").read_bytes()

    def work(k: int) -> None:
        for i in range(25):
            module = rt.load(data, max_memory_pages=64 if i % 2 else None)
            inst = module.instantiate()
            if i % 3 == 0:
                module.close()  # the instance keeps working
            assert inst.call("fib", 12) == 144
            inst.close()
            module.close()

    run_threads(work)
    rt.close()


def test_one_executor_shared_by_threads(tmp_path: Path, mode: str) -> None:
    """teaclave.Executor serialises invocations with its lock; results stay right."""
    (tmp_path / "a").write_text("apple\nbanana\ncherry\n")
    (tmp_path / "b").write_text("banana\ncherry\ndate\n")
    with teaclave.Executor(example("intersection"), mode=mode) as intersection, \
            teaclave.Executor(example("adder"), mode=mode, policy="reuse-runtime") as adder:
        def work(k: int) -> None:
            for i in range(15):
                out = tmp_path / f"out-{k}-{i}"
                assert intersection.run({}, {"input_a": tmp_path / "a",
                                             "input_b": tmp_path / "b"}, {"output": out}) == 2
                assert out.read_text() == "banana\ncherry\n"
                assert adder.run({"a": k, "b": i}) == k + i

        run_threads(work)
    assert not [p for p in tmp_path.iterdir() if ".pywamr-" in p.name]


def test_one_shot_cache_from_threads() -> None:
    def work(k: int) -> None:
        for i in range(20):
            assert teaclave.run(example("adder"), {"a": k, "b": i},
                                heap_size=(64 << 10) * (1 + i % 3)) == k + i

    run_threads(work)
    teaclave.clear_cache()


@pytest.mark.deliberate_crash
def test_isolated_executor_threads_times_invocations(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("x\ny\nz\n")
    (tmp_path / "b").write_text("y\nz\nw\n")
    with teaclave.IsolatedExecutor(example("intersection"), workers=3) as executor:
        def work(k: int) -> None:
            for i in range(20):
                out = tmp_path / f"out-{k}-{i}"
                result = executor.invoke({}, {"input_a": tmp_path / "a",
                                              "input_b": tmp_path / "b"}, {"output": out})
                assert result.return_value == 2 and out.read_text() == "y\nz\n"

        run_threads(work, n=8)
        assert executor.crashes == 0 and len(executor.pids) == 3
    with teaclave.IsolatedExecutor(payload("tc_hook"), workers=2, hosts=H.HOSTS,
                                   heap_size=64 << 10, grace=0.5) as hooked:
        def mixed(k: int) -> None:
            for i in range(10):
                if k == 0 and i % 3 == 2:
                    with pytest.raises(pywamr.Timeout):
                        hooked.run(H.args(H.HANG), timeout=0.1)
                elif k == 1 and i % 3 == 2:
                    with pytest.raises(pywamr.WorkerCrashed):
                        hooked.run(H.args(H.ABORT))
                else:
                    assert hooked.run({}) == 2

        run_threads(mixed)
        assert hooked.kills == 3 and hooked.crashes == 3 and len(hooked.pids) == 2
