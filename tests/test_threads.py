"""Threads: separate instances per thread; the GIL is released in wasm."""

from __future__ import annotations

import threading
import time

import pytest
from helpers import payload

import pywamr


def test_threads_on_separate_instances(mode: str) -> None:
    rt = pywamr.Runtime(mode)
    module = rt.load(payload("cpu"))
    errors: list[BaseException] = []
    results: dict[int, list[int]] = {}

    def work(k: int) -> None:
        try:
            inst = module.instantiate()
            fib = inst.exports["fib"]
            results[k] = [fib(15 + (i % 5)) for i in range(200)]
            inst.close()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    expected = [[610, 987, 1597, 2584, 4181][i % 5] for i in range(200)]
    assert all(results[k] == expected for k in range(6))
    rt.close()


def test_long_call_releases_the_gil(mode: str) -> None:
    rt = pywamr.Runtime(mode)
    inst = rt.load(payload("basic")).instantiate()
    ticks = 0
    done = threading.Event()

    def ticker() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            time.sleep(0.001)

    thread = threading.Thread(target=ticker)
    thread.start()
    try:
        inst.call("spin", 60_000_000)
    finally:
        done.set()
        thread.join()
    assert ticks > 5  # the ticker ran while wasm was spinning
    inst.close()


def test_concurrent_use_of_one_instance_is_refused(mode: str) -> None:
    rt = pywamr.Runtime(mode)
    inst = rt.load(payload("basic")).instantiate()
    started = threading.Event()
    outcome: list[object] = []

    def spin() -> None:
        started.set()
        outcome.append(inst.call("spin", 200_000_000))

    thread = threading.Thread(target=spin)
    thread.start()
    started.wait()
    time.sleep(0.05)
    with pytest.raises(pywamr.InstanceBusy):
        inst.call("add", 1, 2)
    with pytest.raises(pywamr.InstanceBusy):
        inst.close()
    thread.join()
    assert outcome == [200_000_000]
    assert inst.call("add", 1, 2) == 3
    inst.close()
