"""Timeouts: a runaway call is stopped, the instance and runtime keep working."""

from __future__ import annotations

import time

import pytest
from helpers import payload

import pywamr


def test_timeout_stops_a_runaway_call(basic: pywamr.Instance) -> None:
    for _ in range(3):
        start = time.monotonic()
        with pytest.raises(pywamr.Timeout, match="timed out"):
            basic.call("spin", 1 << 62, timeout=0.2)
        assert 0.15 < time.monotonic() - start < 2.0
        assert basic.call("add", 1, 2) == 3  # usable again
    assert basic.call("spin", 1000, timeout=5) == 1000  # a fast call is untouched
    assert isinstance(pywamr.Timeout("x"), pywamr.Trap)


def test_repeated_timeouts_leak_nothing(runtime: pywamr.Runtime) -> None:
    module = runtime.load(payload("basic"))
    for _ in range(50):
        inst = module.instantiate(heap_size=0)
        with pytest.raises(pywamr.Timeout):
            inst.call("spin", 1 << 62, timeout=0.005)
        inst.close()


def test_timeout_argument_checks(basic: pywamr.Instance) -> None:
    with pytest.raises(ValueError):
        basic.call("add", 1, 2, timeout=0)
    with pytest.raises(TypeError):
        basic.call("add", 1, 2, timeout="1")  # type: ignore[arg-type]


def test_teaclave_timeout(tmp_path: object) -> None:
    from pywamr import teaclave

    with teaclave.Executor(payload("tc_probe"), profile="strict") as executor:  # strcmp
        assert executor.run({"case": "handles"}, timeout=5) in (0, 1)


RUNAWAY_SHAPES = [("loop_br_if", 1), ("loop_br", 0), ("loop_br_table", 1), ("calls", 60)]


@pytest.mark.parametrize("mode", ["fast-interp", "classic-interp", "aot"])
@pytest.mark.parametrize(("export", "arg"), RUNAWAY_SHAPES)
def test_timeout_every_runaway_shape(mode: str, export: str, arg: int) -> None:
    """Each kind of back edge, forward branches inside the loop, and loop-free
    recursion are stopped in every mode (AOT code by the watchdog's signal)."""
    if mode == "aot" and not pywamr.aot_available():
        pytest.skip("pywamr was built without the AOT compiler")
    with pywamr.Runtime(mode) as rt:
        with rt.load(payload("runaway")).instantiate(heap_size=0) as inst:
            start = time.monotonic()
            with pytest.raises(pywamr.Timeout):
                inst.call(export, arg, timeout=0.1)
            assert time.monotonic() - start < 5.0
            assert inst.call("calls", 10) == 55  # usable again
