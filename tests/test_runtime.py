"""Runtimes: modes, many at once, lifetimes and use after close."""

from __future__ import annotations

import gc

import pytest
from helpers import payload

import pywamr


def test_modes() -> None:
    assert set(pywamr.MODES) == {"fast-interp", "classic-interp", "aot", "teaclave"}
    with pytest.raises(ValueError, match="unknown mode"):
        pywamr.Runtime("jit-of-the-future")


def test_many_runtimes_both_modes_in_one_process() -> None:
    runtimes = [pywamr.Runtime(m) for m in ("fast-interp", "classic-interp") * 3]
    instances = [rt.load(payload("basic")).instantiate() for rt in runtimes]
    assert [inst.call("add", i, 1) for i, inst in enumerate(instances)] == list(range(1, 7))
    assert {rt.mode for rt in runtimes} == {"fast-interp", "classic-interp"}
    for inst in instances:
        inst.close()
    for rt in runtimes:
        rt.close()


def test_use_after_close() -> None:
    rt = pywamr.Runtime()
    module = rt.load(payload("basic"))
    inst = module.instantiate()
    add = inst.exports["add"]
    inst.close()
    inst.close()  # idempotent
    assert inst.closed
    with pytest.raises(pywamr.ClosedError):
        add(1, 2)
    with pytest.raises(pywamr.ClosedError):
        inst.call("mixed", 1, 2, 3.0, 4.0)
    with pytest.raises(pywamr.ClosedError):
        inst.memory.read(0, 1)
    module.close()
    with pytest.raises(pywamr.ClosedError):
        module.instantiate()
    rt.close()
    with pytest.raises(pywamr.ClosedError):
        rt.load(payload("basic"))


def test_children_outlive_closed_parents() -> None:
    rt = pywamr.Runtime()
    module = rt.load(payload("basic"))
    inst = module.instantiate()
    module.close()
    rt.close()
    del module, rt
    gc.collect()
    assert inst.call("add", 2, 2) == 4  # the instance keeps its module alive
    inst.close()


def test_context_managers() -> None:
    with pywamr.Runtime("classic-interp") as rt, rt.load(payload("basic")) as module:
        with module.instantiate() as inst:
            assert inst.call("add", 1, 2) == 3
        assert inst.closed
    assert module.closed and rt.closed


def test_garbage_collected_without_close() -> None:
    for _ in range(50):
        rt = pywamr.Runtime()
        rt.load(payload("basic")).instantiate().call("add", 1, 2)
        del rt
    gc.collect()
